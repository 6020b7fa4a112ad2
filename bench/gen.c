/*
 * gen.c - dmarcgen: a deterministic generator of realistic synthetic DMARC
 * aggregate reports, for the demo database (scripts/demo.sh), the benchmarks
 * (bench/run.sh) and importer tests that need a known truth.
 *
 * The model.  A few policy domains (default example.co.jp, example.com,
 * shop.example.net); domain i publishes p=reject (i % 3 == 0),
 * p=quarantine pct=50 (i % 3 == 1) or p=none (i % 3 == 2).  Each domain has
 * a mix of senders whose DMARC outcome is known by construction:
 *   own        the domain's own servers (203.0.113.x, 2001:db8::), SPF and
 *              DKIM aligned pass
 *   google_workspace  209.85.128.0/17, 2607:f8b0:4864:20::, DKIM d=domain
 *   sendgrid   167.89.0.0/17, 149.72.0.0/16: SPF pass for sendgrid.net (not
 *              aligned), DKIM d=domain pass; on the p=none domain DKIM
 *              d=sendgrid.net only, i.e. misconfigured and failing DMARC
 *   amazon_ses 54.240.0.0/18, 23.251.224.0/19: SPF amazonses.com, DKIM
 *              d=domain + d=amazonses.com
 *   forwarder  Microsoft 365 forwarding: SPF fail, DKIM aligned pass
 *   mailing_list  lists.example.org: DKIM broken, disposition none with
 *              reason forwarded / mailing_list
 *   spoof      IPs from real ISP ranges in various countries, SPF
 *              fail/softfail, DKIM none/fail, disposition per policy
 *              (pct=50 splits rows into quarantine and sampled_out)
 * Every UTC day every receiver (Google, Microsoft x2, Yahoo, docomo, KDDI x2,
 * Mail.Ru, GMX, Amazon SES, and a Trustwave-style gateway whose reports span
 * 3-7 days) sees a Poisson share of that traffic and, when it saw any, sends
 * one report in its own XML dialect, container and mail layout.  A small
 * share of reports is delivered twice (marked in the truth file).
 *
 * Determinism: every random choice comes from --seed mixed with (round, day,
 * domain, receiver), so one report's content does not depend on which other
 * reports were generated; with the same --seed and --end the output is
 * byte-identical.  IP addresses are drawn from per-source pools that depend
 * only on the seed, so the same sources recur across reports.
 *
 * Outputs: report files (.xml, .xml.gz, .zip), .eml messages, one mbox, a
 * single huge streamed report (--big-records), a streamed mailbox of a given
 * size (--mbox-size), and the truth JSON (--json to stdout, --truth FILE).
 * Memory: one small report at a time; --big-records and --mbox-size stream.
 *
 * Uses zlib and libc only; nothing from dmarccore.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define DAY 86400LL
#define ROUND_DAYS 730        /* --count / --mbox-size: days per domain-set round */
#define NAME_MAX_LEN 80       /* longest accepted policy domain */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("dmarcgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A command-line mistake: message and exit status 2. */
static void
bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("dmarcgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (see --help)\n", stderr);
	exit(2);
}

/* ---------------------------------------------------------------------- */
/* Random numbers: xoshiro256** seeded through splitmix64.                 */

struct rng {
	uint64_t s[4];
};

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A stream that depends only on the four keys. */
static void
rng_seed(struct rng *r, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t x = a;
	int i;

	x = splitmix64(&x) ^ b;
	x = splitmix64(&x) ^ c;
	x = splitmix64(&x) ^ d;
	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); the modulo bias is irrelevant for test data. */
static uint64_t
rng_below(struct rng *r, uint64_t n)
{
	return n ? rng_next(r) % n : 0;
}

static double
rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static int
rng_chance(struct rng *r, double p)
{
	return rng_unit(r) < p;
}

static double
rng_gauss(struct rng *r)
{
	double u1 = rng_unit(r) + 1e-12, u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Knuth below 30, normal approximation above. */
static uint64_t
rng_poisson(struct rng *r, double lambda)
{
	double limit, p = 1.0, v;
	uint64_t k = 0;

	if (lambda <= 0)
		return 0;
	if (lambda < 30) {
		limit = exp(-lambda);
		do {
			k++;
			p *= rng_unit(r);
		} while (p > limit);
		return k - 1;
	}
	v = lambda + sqrt(lambda) * rng_gauss(r);
	return v < 0 ? 0 : (uint64_t)(v + 0.5);
}

/* Binomial(n, 1/2): exact for small n, normal approximation above. */
static uint64_t
rng_half(struct rng *r, uint64_t n)
{
	uint64_t k = 0, i;
	double v;

	if (n <= 64) {
		uint64_t bits = rng_next(r);
		for (i = 0; i < n; i++)
			k += (bits >> i) & 1;
		return k;
	}
	v = n / 2.0 + sqrt(n / 4.0) * rng_gauss(r);
	if (v < 0)
		v = 0;
	if (v > (double)n)
		v = (double)n;
	return (uint64_t)(v + 0.5);
}

/* ---------------------------------------------------------------------- */
/* Growable output buffer.                                                 */

struct obuf {
	char *p;
	size_t len, cap;
};

static void
ob_reserve(struct obuf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n <= b->cap)
		return;
	cap = b->cap ? b->cap : 8192;
	while (cap < b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		die("out of memory");
	b->p = p;
	b->cap = cap;
}

static void
ob_put(struct obuf *b, const void *p, size_t n)
{
	ob_reserve(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
ob_puts(struct obuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

static void
ob_putc(struct obuf *b, char c)
{
	ob_reserve(b, 1);
	b->p[b->len++] = c;
}

static void ob_printf(struct obuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
ob_printf(struct obuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	ob_reserve(b, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
ob_free(struct obuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Bounded formatting into a fixed array; truncation is a bug here. */
static void fmt_into(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
fmt_into(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		die("internal: string too long for its buffer");
}

/* ---------------------------------------------------------------------- */
/* Encodings: base64, gzip, zip.                                           */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 in lines of 76 characters, each ended by `eol`. */
static void
b64_lines(struct obuf *b, const unsigned char *p, size_t n, const char *eol)
{
	size_t i, col = 0, elen = strlen(eol);
	char *o;

	ob_reserve(b, (n + 2) / 3 * 4 + ((n + 56) / 57 + 1) * elen);
	o = b->p + b->len;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = b64chars[(v >> 6) & 63];
		*o++ = b64chars[v & 63];
		col += 4;
		if (col == 76) {
			memcpy(o, eol, elen);
			o += elen;
			col = 0;
		}
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64chars[v >> 18];
		*o++ = b64chars[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		*o++ = '=';
		col += 4;
	}
	if (col) {
		memcpy(o, eol, elen);
		o += elen;
	}
	b->len = (size_t)(o - b->p);
}

/* Base64 without line breaks (RFC 2047 words). */
static void
b64_flat(struct obuf *b, const char *s)
{
	struct obuf t = { 0 };

	b64_lines(&t, (const unsigned char *)s, strlen(s), "");
	ob_put(b, t.p, t.len);
	ob_free(&t);
}

struct deflater {
	z_stream gz;   /* gzip wrapper */
	z_stream raw;  /* raw deflate, for zip members */
	int gz_ok, raw_ok;
};

static void
deflate_all(z_stream *z, const void *in, size_t n, struct obuf *out)
{
	int rc;

	z->next_in = (Bytef *)(uintptr_t)in;
	z->avail_in = (uInt)n;
	do {
		ob_reserve(out, n / 2 + 4096);
		z->next_out = (Bytef *)out->p + out->len;
		z->avail_out = (uInt)(out->cap - out->len);
		rc = deflate(z, Z_FINISH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			die("deflate failed (%d)", rc);
		out->len = out->cap - z->avail_out;
	} while (rc != Z_STREAM_END);
}

/* Real gzip (RFC 1952) with the member name and mtime in the header, as
 * reporters write it.  Appends to out. */
static void
gz_encode(struct deflater *d, const struct obuf *xml, const char *name,
    int64_t mtime, struct obuf *out)
{
	gz_header h;

	if (!d->gz_ok) {
		if (deflateInit2(&d->gz, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2 failed");
		d->gz_ok = 1;
	} else {
		deflateReset(&d->gz);
	}
	memset(&h, 0, sizeof h);
	h.name = (Bytef *)(uintptr_t)name;
	h.time = (uLong)mtime;
	h.os = 3;
	deflateSetHeader(&d->gz, &h);
	deflate_all(&d->gz, xml->p, xml->len, out);
}

static void
le16(struct obuf *b, unsigned v)
{
	unsigned char t[2] = { (unsigned char)v, (unsigned char)(v >> 8) };

	ob_put(b, t, 2);
}

static void
le32(struct obuf *b, uint32_t v)
{
	unsigned char t[4] = { (unsigned char)v, (unsigned char)(v >> 8),
		(unsigned char)(v >> 16), (unsigned char)(v >> 24) };

	ob_put(b, t, 4);
}

/* A zip archive with one deflated member, like Google's. */
static void
zip_encode(struct deflater *d, const struct obuf *xml, const char *member,
    int64_t mtime, struct obuf *out)
{
	struct obuf data = { 0 };
	uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)xml->p, (uInt)xml->len);
	size_t nlen = strlen(member), start = out->len, cd, cdsize;
	time_t t = (time_t)mtime;
	struct tm tm;
	unsigned dtime, ddate;

	if (!d->raw_ok) {
		if (deflateInit2(&d->raw, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2 failed");
		d->raw_ok = 1;
	} else {
		deflateReset(&d->raw);
	}
	deflate_all(&d->raw, xml->p, xml->len, &data);
	gmtime_r(&t, &tm);
	dtime = (unsigned)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	ddate = (unsigned)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);

	le32(out, 0x04034b50);
	le16(out, 20);
	le16(out, 0);
	le16(out, 8);
	le16(out, dtime);
	le16(out, ddate);
	le32(out, crc);
	le32(out, (uint32_t)data.len);
	le32(out, (uint32_t)xml->len);
	le16(out, (unsigned)nlen);
	le16(out, 0);
	ob_put(out, member, nlen);
	ob_put(out, data.p, data.len);
	cd = out->len;
	le32(out, 0x02014b50);
	le16(out, 0x031e);         /* made by: Unix, 3.0 */
	le16(out, 20);
	le16(out, 0);
	le16(out, 8);
	le16(out, dtime);
	le16(out, ddate);
	le32(out, crc);
	le32(out, (uint32_t)data.len);
	le32(out, (uint32_t)xml->len);
	le16(out, (unsigned)nlen);
	le16(out, 0);
	le16(out, 0);
	le16(out, 0);
	le16(out, 0);
	le32(out, 0100644u << 16);
	le32(out, (uint32_t)(0));
	ob_put(out, member, nlen);
	cdsize = out->len - cd;
	le32(out, 0x06054b50);
	le16(out, 0);
	le16(out, 0);
	le16(out, 1);
	le16(out, 1);
	le32(out, (uint32_t)cdsize);
	le32(out, (uint32_t)(cd - start));
	le16(out, 0);
	ob_free(&data);
}

/* ---------------------------------------------------------------------- */
/* XML dialects of the reporters.                                          */

#define F_SP       0x001  /* policy_published/sp */
#define F_PCT      0x002  /* policy_published/pct */
#define F_NP       0x004  /* policy_published/np (Google) */
#define F_FO       0x008  /* policy_published/fo */
#define F_9990     0x010  /* discovery_method + testing (RFC 9990) */
#define F_ENV_FROM 0x020  /* identifiers/envelope_from */
#define F_ENV_TO   0x040  /* identifiers/envelope_to, rows split by it */
#define F_SEL      0x080  /* dkim/selector */
#define F_SEL_LAST 0x100  /* dkim: domain, result, selector (Google) */
#define F_SCOPE    0x200  /* spf/scope */

struct dialect {
	const char *prolog;
	const char *root;
	const char *indent;
	const char *eol;
	const char *version;   /* NULL: no <version> */
	unsigned flags;
};

enum dialect_id { D_GOOGLE, D_MS, D_YAHOO, D_MAILRU, D_GMX, D_SES, D_PLAIN };

static const struct dialect dialects[] = {
	[D_GOOGLE] = { "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>", "<feedback>", "  ", "\n",
		NULL, F_SP | F_PCT | F_NP | F_SEL | F_SEL_LAST },
	[D_MS] = { "<?xml version=\"1.0\"?>",
		"<feedback xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\" "
		"xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">", "  ", "\n",
		"1.0", F_SP | F_PCT | F_FO | F_ENV_TO | F_ENV_FROM | F_SEL | F_SCOPE },
	/* Yahoo's generator leaves a tab at the end of every line. */
	[D_YAHOO] = { "<?xml version=\"1.0\"?>", "<feedback>", "  ", "\t\n",
		NULL, F_PCT | F_SEL },
	/* Mail.Ru: everything on one line. */
	[D_MAILRU] = { "<?xml version='1.0' encoding='utf-8'?>", "<feedback>", "", "",
		NULL, F_SP | F_PCT | F_SCOPE },
	[D_GMX] = { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
		"<feedback xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\">", "   ", "\n",
		"1.0", F_SP | F_9990 | F_ENV_FROM | F_SEL | F_SCOPE },
	[D_SES] = { "<?xml version=\"1.0\"?>", "<feedback>", "\t", "\n",
		"0.1", F_SP | F_PCT | F_FO | F_ENV_FROM },
	[D_PLAIN] = { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "<feedback>", "  ", "\n",
		"1.0", F_SP | F_PCT | F_FO | F_ENV_FROM | F_SEL | F_SCOPE },
};

/* ---------------------------------------------------------------------- */
/* Reporters (receivers that send aggregate reports).                      */

enum fmt { FMT_NATIVE, FMT_XML, FMT_GZ, FMT_ZIP };
enum layout { L_SINGLE, L_MIXED, L_MS, L_MAILRU, L_SES };
enum idstyle { ID_DECIMAL, ID_HEX32, ID_YAHOO, ID_HEX16, ID_DIGITS20, ID_MAILRU, ID_UUID, ID_HEX24 };

struct reporter {
	const char *key;       /* receiver part of the file name */
	const char *org_name;
	const char *email;
	const char *extra;     /* extra_contact_info or NULL */
	enum dialect_id dialect;
	enum fmt native;       /* attachment it sends */
	enum layout layout;    /* mail structure */
	enum idstyle idstyle;
	int id_in_name;        /* unique-id in the file name */
	const char *gz_type;   /* media type of its gzip attachment */
	const char *host;      /* sending MTA, for Received: */
	const char *host_ip;
	double share_jp;       /* share of a .jp domain's traffic it sees */
	double share_other;
	unsigned dup_permille; /* reports delivered twice */
	int end_inclusive;     /* end = begin + span - 1 (else + span) */
	int multi_day;         /* reports span 3-7 days */
	unsigned offset;       /* seconds past midnight its periods start at */
};

enum { R_GOOGLE, R_MSENT, R_OUTLOOK, R_YAHOO, R_DOCOMO, R_AU, R_EZWEB, R_MAILRU,
	R_GMX, R_SES, R_TRUSTWAVE, R_N };

/*
 * Metadata of the big reporters follows published samples (shared corpus);
 * docomo, KDDI and the Trustwave-style gateway are modelled, not copied.
 */
static const struct reporter reporters[R_N] = {
	[R_GOOGLE] = { "google.com", "google.com", "noreply-dmarc-support@google.com",
		"https://support.google.com/a/answer/2466580", D_GOOGLE, FMT_ZIP, L_SINGLE,
		ID_DECIMAL, 0, "application/gzip", "mail-sor-f69.google.com", "209.85.220.69",
		0.30, 0.35, 20, 1, 0, 0 },
	[R_MSENT] = { "enterprise.protection.outlook.com", "Enterprise Outlook",
		"dmarcreport@microsoft.com", NULL, D_MS, FMT_GZ, L_MS, ID_HEX32, 0,
		"application/gzip", "mail-tycjpn01on2101.outbound.protection.outlook.com",
		"40.107.114.101", 0.10, 0.12, 5, 0, 0, 0 },
	[R_OUTLOOK] = { "protection.outlook.com", "Outlook.com", "dmarcreport@microsoft.com",
		NULL, D_MS, FMT_GZ, L_MS, ID_HEX32, 0, "application/gzip",
		"mail-oln040092066045.outbound.protection.outlook.com", "40.92.66.45",
		0.04, 0.06, 5, 0, 0, 0 },
	[R_YAHOO] = { "yahoo.com", "Yahoo", "dmarchelp@yahooinc.com", NULL, D_YAHOO, FMT_GZ,
		L_MIXED, ID_YAHOO, 0, "application/x-gzip", "sonic315-21.consmr.mail.gq1.yahoo.com",
		"98.137.65.84", 0.02, 0.06, 5, 1, 0, 0 },
	[R_DOCOMO] = { "docomo.ne.jp", "NTT DOCOMO, INC.", "dmarc-report@docomo.ne.jp", NULL,
		D_PLAIN, FMT_GZ, L_MIXED, ID_HEX16, 1, "application/gzip", "rpt01.docomo.ne.jp",
		"203.138.180.112", 0.10, 0.0005, 5, 1, 0, 0 },
	[R_AU] = { "au.com", "KDDI CORPORATION", "dmarc-report@au.com", NULL, D_PLAIN, FMT_GZ,
		L_MIXED, ID_DIGITS20, 0, "application/x-gzip", "dmarc01.au.com", "111.86.141.17",
		0.06, 0.0003, 5, 1, 0, 0 },
	[R_EZWEB] = { "ezweb.ne.jp", "KDDI CORPORATION", "dmarc-report@ezweb.ne.jp", NULL,
		D_PLAIN, FMT_GZ, L_MIXED, ID_DIGITS20, 0, "application/x-gzip", "dmarc02.ezweb.ne.jp",
		"111.86.141.18", 0.012, 0.0001, 5, 1, 0, 0 },
	[R_MAILRU] = { "mail.ru", "Mail.Ru", "dmarc_support@corp.mail.ru",
		"http://help.mail.ru/mail-help", D_MAILRU, FMT_GZ, L_MAILRU, ID_MAILRU, 0,
		"application/gzip", "relay7.m.smailru.net", "94.100.178.51", 0.0003, 0.0004, 5, 0,
		0, 0 },
	[R_GMX] = { "gmx.net", "GMX", "noreply-dmarc@sicher.gmx.net",
		"https://postmaster.gmx.net/en/case?c=r2002", D_GMX, FMT_GZ, L_MIXED, ID_HEX32, 1,
		"application/gzip", "mout.gmx.net", "212.227.17.22", 0.001, 0.004, 5, 1, 0, 0 },
	[R_SES] = { "amazonses.com", "AMAZON-SES", "postmaster@amazonses.com", NULL, D_SES,
		FMT_GZ, L_SES, ID_UUID, 0, "application/octet-stream", "a8-31.smtp-out.amazonses.com",
		"54.240.8.31", 0.0005, 0.0005, 5, 0, 0, 0 },
	[R_TRUSTWAVE] = { "trustwave.com", "Trustwave", "dmarc-reports@trustwave.com", NULL,
		D_PLAIN, FMT_GZ, L_MIXED, ID_HEX24, 0, "application/gzip", "seg01.trustwave.com",
		"64.18.1.20", 0.0008, 0.0010, 5, 1, 1, 18000 },
};

/* ---------------------------------------------------------------------- */
/* Sources and domains.                                                    */

enum src { SRC_OWN, SRC_WORKSPACE, SRC_SENDGRID, SRC_SES, SRC_FORWARD, SRC_LIST, SRC_SPOOF,
	SRC_N };

static const char *const src_names[SRC_N] = { "own", "google_workspace", "sendgrid",
	"amazon_ses", "forwarder", "mailing_list", "spoof" };

enum profile { P_REJECT, P_QUARANTINE, P_NONE };

/* Messages per day by profile and source; spoofing is in source IPs per day. */
static const double base_volume[3][SRC_N] = {
	[P_REJECT] = { 3000, 0, 0, 800, 6, 3, 2 },
	[P_QUARANTINE] = { 150, 2500, 1200, 0, 5, 8, 2.5 },
	[P_NONE] = { 300, 0, 2000, 120, 2, 1, 1.2 },
};

/* How many distinct addresses a source uses (IP pool size). */
static const unsigned pool_size[SRC_N] = { 3, 40, 16, 16, 30, 4, 2000 };

struct domain {
	char name[NAME_MAX_LEN + 16];
	enum profile profile;
	int is_jp;
	unsigned gindex;        /* index over all rounds, for own IPs */
	const char *own_sel;
	char ses_sel[33];
};

/* Address ranges: real allocations for the third parties, documentation
 * ranges for our own fictional servers. */
struct v4range {
	uint32_t base;
	unsigned bits;
	unsigned weight;
};

#define V4(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))

/* Spoofing sources: approximate ISP / hosting allocations in several
 * countries (CN, VN, IN, BR, RU, TR, NG, ID, KR, UA, US, DE), so that
 * enrichment has real-looking addresses to resolve. */
static const struct v4range spoof_ranges[] = {
	{ V4(36, 96, 0, 0), 11, 10 },   /* CN */
	{ V4(58, 16, 0, 0), 13, 6 },    /* CN */
	{ V4(113, 160, 0, 0), 11, 8 },  /* VN */
	{ V4(14, 160, 0, 0), 11, 4 },   /* VN */
	{ V4(117, 192, 0, 0), 10, 7 },  /* IN */
	{ V4(177, 32, 0, 0), 11, 7 },   /* BR */
	{ V4(95, 24, 0, 0), 13, 6 },    /* RU */
	{ V4(78, 160, 0, 0), 11, 4 },   /* TR */
	{ V4(105, 112, 0, 0), 12, 4 },  /* NG */
	{ V4(36, 64, 0, 0), 11, 5 },    /* ID */
	{ V4(121, 128, 0, 0), 10, 3 },  /* KR */
	{ V4(93, 72, 0, 0), 13, 2 },    /* UA */
	{ V4(159, 203, 0, 0), 16, 4 },  /* US, VPS hosting */
	{ V4(185, 220, 100, 0), 22, 1 },/* DE, Tor exits */
};

static const char *const own_selectors[] = { "mail2024", "selector1", "default", "s1024" };
static const char *const spam_domains[] = { "mailer-daemon.top", "secure-login.xyz",
	"qq.com", "163.com", "bizmail.ru", "notice-center.info", "gmail.com", "outlook.com" };
static const char *const spoof_subs[] = { "secure", "account", "billing", "info", "support" };
static const char *const ms_env_to_jp[] = { "outlook.jp", "hotmail.co.jp", "live.jp",
	"outlook.com", "partner-corp.co.jp" };
static const char *const ms_env_to_other[] = { "outlook.com", "hotmail.com", "live.com",
	"msn.com", "contoso.com" };

/* ---------------------------------------------------------------------- */
/* Reports and records.                                                    */

enum disp { DISP_NONE, DISP_QUARANTINE, DISP_REJECT };
static const char *const disp_names[] = { "none", "quarantine", "reject" };

enum reason { RS_NONE, RS_FORWARDED, RS_MAILING_LIST, RS_SAMPLED_OUT, RS_LOCAL_POLICY };
static const char *const reason_names[] = { "", "forwarded", "mailing_list", "sampled_out",
	"local_policy" };

struct dkimres {
	char domain[NAME_MAX_LEN + 24];
	const char *selector;
	const char *result;
};

struct rec {
	enum src src;
	char ip[48];
	uint64_t count;
	enum disp disp;
	int pe_dkim, pe_spf;
	enum reason reason;
	const char *reason_comment;
	char header_from[NAME_MAX_LEN + 24];
	char envelope_from[NAME_MAX_LEN + 24];  /* "" = omitted */
	const char *envelope_to;                /* NULL = omitted */
	struct dkimres dkim[2];
	int ndkim;
	char spf_domain[NAME_MAX_LEN + 24];
	const char *spf_result;
};

struct report {
	const struct reporter *rp;
	const struct dialect *dl;
	const struct domain *dom;
	int ri;
	int64_t first_day, ndays;
	int64_t begin, end;
	char report_id[80];
	char stem[300];         /* receiver!domain!begin!end[!id] */
	struct rec *recs;
	size_t nrec, caprec;
	/* tallies of what was emitted */
	uint64_t records, messages, pass_messages;
	uint64_t by_src[SRC_N];
	struct rng r;
};

/* ---------------------------------------------------------------------- */
/* Generator state and options.                                            */

enum env { ENV_FILE, ENV_EML, ENV_MBOX, ENV_MIXED };

struct gen {
	/* options */
	uint64_t seed;
	const char *out;
	int64_t end_day;        /* last day (epoch days) */
	int64_t days;
	int days_given;
	char **base_domains;
	char *domains_owned;    /* --domains copy the names point into */
	size_t nbase;
	uint64_t count;         /* 0 = day based */
	enum fmt fmt;
	enum env env;
	const char *mbox_path;
	char *mbox_owned;       /* DIR/reports.mbox when --mbox was not given */
	uint64_t big_records;
	uint64_t mbox_size;
	int truth_stdout;
	const char *truth_path;
	int quiet;

	/* state */
	struct domain *doms;    /* current round's domains */
	unsigned round;
	struct deflater defl;
	struct obuf xml, att, msg, path;
	FILE *mbox;
	uint64_t mbox_bytes, mbox_msgs;
	FILE *truth;
	uint64_t deliveries;    /* files + messages written */
	uint64_t uniq_reports, dups, records, messages, pass_messages;
	uint64_t all_records, all_messages;
	uint64_t file_bytes;
	unsigned max_round;
};

/* ---------------------------------------------------------------------- */
/* Domains and IP addresses.                                               */

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* d is the policy domain or a subdomain of it (relaxed alignment within
 * our own domains, whose org domain is never a parent of the policy
 * domain in this model). */
static int
under(const char *d, const char *policy)
{
	size_t n = strlen(d), m = strlen(policy);

	if (n == m)
		return memcmp(d, policy, n) == 0;
	return n > m && d[n - m - 1] == '.' && memcmp(d + n - m, policy, m) == 0;
}

/* Round 0 uses the names as given; round r inserts "-r+1" after the first
 * label (example.co.jp -> example-2.co.jp) so periods never overlap. */
static void
setup_round(struct gen *g, unsigned round)
{
	size_t i;

	g->round = round;
	if (round > g->max_round)
		g->max_round = round;
	for (i = 0; i < g->nbase; i++) {
		struct domain *d = &g->doms[i];
		const char *b = g->base_domains[i];
		const char *dot = strchr(b, '.');
		struct rng r;
		int j;

		if (round == 0 || dot == NULL)
			fmt_into(d->name, sizeof d->name, "%s", b);
		else
			fmt_into(d->name, sizeof d->name, "%.*s-%u%s", (int)(dot - b), b,
			    round + 1, dot);
		d->profile = (enum profile)(i % 3);
		d->is_jp = ends_with(d->name, ".jp");
		d->gindex = (unsigned)(round * g->nbase + i);
		d->own_sel = own_selectors[d->gindex % 4];
		rng_seed(&r, g->seed, 0x5e5, d->gindex, 0);
		for (j = 0; j < 32; j++)
			d->ses_sel[j] = "abcdefghijklmnopqrstuvwxyz234567"[rng_below(&r, 32)];
		d->ses_sel[32] = '\0';
	}
}

static void
v4_str(char *dst, size_t size, uint32_t a)
{
	fmt_into(dst, size, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* A host address inside base/bits, never .0 or .255. */
static uint32_t
v4_in(struct rng *r, uint32_t base, unsigned bits)
{
	uint32_t host = (uint32_t)rng_below(r, (uint64_t)1 << (32 - bits));
	uint32_t a = base | host;

	if ((a & 255) == 0 || (a & 255) == 255)
		a = (a & ~255u) | (uint32_t)(1 + rng_below(r, 254));
	return a;
}

/*
 * Address number `idx` of source `s`: the same (seed, source, idx) always
 * gives the same address, so a pool of N indexes is N recurring senders.
 */
static void
source_ip(const struct gen *g, enum src s, const struct domain *dom, uint64_t idx,
    char *dst, size_t size)
{
	struct rng r;
	unsigned k, total;
	uint32_t a;
	size_t i;

	rng_seed(&r, g->seed, 0x1b, (uint64_t)s, idx);
	switch (s) {
	case SRC_OWN:
		k = dom->gindex;
		if (idx % 3 == 2) {
			fmt_into(dst, size, "2001:db8:%x::25", 0x100 + k);
		} else {
			/* mail1/mail2.<domain>: two per domain in the TEST-NETs */
			unsigned n = 2 * k + (unsigned)(idx % 3);
			static const uint32_t nets[3] = { V4(203, 0, 113, 0), V4(198, 51, 100, 0),
				V4(192, 0, 2, 0) };
			v4_str(dst, size, nets[(n / 240) % 3] | (10 + n % 240));
		}
		return;
	case SRC_WORKSPACE:
		if (rng_chance(&r, 0.25))
			fmt_into(dst, size, "2607:f8b0:4864:20::%x", (unsigned)(0x100 + rng_below(&r, 0xe00)));
		else
			v4_str(dst, size, v4_in(&r, V4(209, 85, 128, 0), 17));
		return;
	case SRC_SENDGRID:
		a = rng_chance(&r, 0.7) ? v4_in(&r, V4(167, 89, 0, 0), 17) :
		    v4_in(&r, V4(149, 72, 0, 0), 16);
		v4_str(dst, size, a);
		return;
	case SRC_SES:
		a = rng_chance(&r, 0.7) ? v4_in(&r, V4(54, 240, 0, 0), 18) :
		    v4_in(&r, V4(23, 251, 224, 0), 19);
		v4_str(dst, size, a);
		return;
	case SRC_FORWARD:
		if (rng_chance(&r, 0.2))
			fmt_into(dst, size, "2a01:111:f403:%x::%x", (unsigned)(0xc000 + rng_below(&r, 0x1000)),
			    (unsigned)(0x700 + rng_below(&r, 0x100)));
		else
			v4_str(dst, size, rng_chance(&r, 0.75) ? v4_in(&r, V4(40, 107, 0, 0), 16) :
			    v4_in(&r, V4(52, 100, 0, 0), 14));
		return;
	case SRC_LIST:
		if (idx % 4 == 3)
			fmt_into(dst, size, "2001:db8:beef::%x", (unsigned)(0x10 + idx % 16));
		else
			v4_str(dst, size, V4(198, 51, 100, 20) + (uint32_t)(idx % 8));
		return;
	case SRC_SPOOF:
	case SRC_N:
		break;
	}
	total = 0;
	for (i = 0; i < sizeof spoof_ranges / sizeof spoof_ranges[0]; i++)
		total += spoof_ranges[i].weight;
	k = (unsigned)rng_below(&r, total);
	for (i = 0; k >= spoof_ranges[i].weight; i++)
		k -= spoof_ranges[i].weight;
	v4_str(dst, size, v4_in(&r, spoof_ranges[i].base, spoof_ranges[i].bits));
}

/* ---------------------------------------------------------------------- */
/* Building one report's records.                                          */

static struct rec *
rec_push(struct report *rep)
{
	if (rep->nrec == rep->caprec) {
		size_t cap = rep->caprec ? rep->caprec * 2 : 32;
		struct rec *p = realloc(rep->recs, cap * sizeof *p);
		if (p == NULL)
			die("out of memory");
		rep->recs = p;
		rep->caprec = cap;
	}
	return &rep->recs[rep->nrec++];
}

static void
set_dkim(struct rec *rc, const char *domain, const char *sel, const char *result)
{
	struct dkimres *d = &rc->dkim[rc->ndkim++];

	fmt_into(d->domain, sizeof d->domain, "%s", domain);
	d->selector = sel;
	d->result = result;
}

/* Microsoft splits rows by envelope_to; others keep one row. */
static void
rec_add(struct report *rep, const struct rec *proto)
{
	const char *const *tos;
	uint64_t left = proto->count, part;
	unsigned k, i, first;

	if (!(rep->dl->flags & F_ENV_TO)) {
		*rec_push(rep) = *proto;
		return;
	}
	tos = rep->dom->is_jp ? ms_env_to_jp : ms_env_to_other;
	k = 1 + (left > 200 && rng_chance(&rep->r, 0.5));
	first = (unsigned)rng_below(&rep->r, 5);
	for (i = 0; i < k && left; i++) {
		struct rec *rc;
		part = i + 1 == k ? left : 1 + rng_below(&rep->r, left / 2 + 1);
		if (part > left)
			part = left;
		rc = rec_push(rep);
		*rc = *proto;
		rc->count = part;
		rc->envelope_to = tos[(first + i) % 5];
		left -= part;
	}
}

/*
 * One (source, IP, count) as seen by the reporter: authentication results
 * from the source's nature, the policy_evaluated verdicts recomputed from
 * them (aligned pass), the disposition from the policy, rows split as real
 * reporters split them (pct sampling, Microsoft's envelope_to).
 */
static void
make_recs(struct report *rep, enum src s, const char *ip, uint64_t count)
{
	const struct domain *dom = rep->dom;
	struct rng *r = &rep->r;
	struct rec rc;
	int i, pass;
	uint64_t q;

	memset(&rc, 0, sizeof rc);
	rc.src = s;
	fmt_into(rc.ip, sizeof rc.ip, "%s", ip);
	rc.count = count;
	fmt_into(rc.header_from, sizeof rc.header_from, "%s", dom->name);
	fmt_into(rc.envelope_from, sizeof rc.envelope_from, "%s", dom->name);
	fmt_into(rc.spf_domain, sizeof rc.spf_domain, "%s", dom->name);
	rc.spf_result = "pass";

	switch (s) {
	case SRC_OWN:
		set_dkim(&rc, dom->name, dom->own_sel,
		    rng_chance(r, 0.01) ? "fail" : "pass");   /* an AV gateway rewrote a body */
		break;
	case SRC_WORKSPACE:
		set_dkim(&rc, dom->name, "google", "pass");
		break;
	case SRC_SENDGRID:
		fmt_into(rc.envelope_from, sizeof rc.envelope_from, "sendgrid.net");
		fmt_into(rc.spf_domain, sizeof rc.spf_domain, "sendgrid.net");
		if (dom->profile == P_NONE) {
			/* domain authentication never set up: only SendGrid's own key */
			set_dkim(&rc, "sendgrid.net", "smtpapi", "pass");
		} else {
			fmt_into(rc.header_from, sizeof rc.header_from, "news.%s", dom->name);
			set_dkim(&rc, dom->name, "s1", "pass");
		}
		break;
	case SRC_SES:
		fmt_into(rc.envelope_from, sizeof rc.envelope_from, "%s.amazonses.com",
		    dom->is_jp ? "ap-northeast-1" : "us-east-1");
		fmt_into(rc.spf_domain, sizeof rc.spf_domain, "%s", rc.envelope_from);
		set_dkim(&rc, dom->name, dom->ses_sel, "pass");
		set_dkim(&rc, "amazonses.com", dom->is_jp ? "zh4gy3pjtr5pkglmbh3eumvkkdvlzmp3" :
		    "6gbrjpgwjskckoa6a5zn6fwqkn67xbtw", "pass");
		break;
	case SRC_FORWARD:
		rc.spf_result = rng_chance(r, 0.6) ? "fail" : "softfail";
		set_dkim(&rc, dom->name, dom->profile == P_QUARANTINE ? "google" : dom->own_sel,
		    "pass");
		break;
	case SRC_LIST:
		fmt_into(rc.envelope_from, sizeof rc.envelope_from, "lists.example.org");
		fmt_into(rc.spf_domain, sizeof rc.spf_domain, "lists.example.org");
		set_dkim(&rc, dom->name, dom->own_sel, "fail");
		if (rng_chance(r, 0.7))
			set_dkim(&rc, "lists.example.org", "list", "pass");
		break;
	case SRC_SPOOF:
		if (rng_chance(r, 0.15))
			fmt_into(rc.header_from, sizeof rc.header_from, "%s.%s",
			    spoof_subs[rng_below(r, 5)], dom->name);
		if (rng_chance(r, 0.5)) {
			rc.spf_result = rng_chance(r, 0.6) ? "fail" : "softfail";
		} else {
			const char *other = spam_domains[rng_below(r, 8)];
			fmt_into(rc.envelope_from, sizeof rc.envelope_from, "%s", other);
			fmt_into(rc.spf_domain, sizeof rc.spf_domain, "%s", other);
			rc.spf_result = rng_chance(r, 0.5) ? "none" : rng_chance(r, 0.5) ?
			    "pass" : "neutral";
		}
		q = rng_below(r, 10);
		if (q < 3)
			set_dkim(&rc, dom->name, "default", "fail");
		else if (q == 3)
			set_dkim(&rc, rc.envelope_from, "k1", "pass");
		break;
	case SRC_N:
		break;
	}

	/* policy_evaluated = aligned pass */
	for (i = 0; i < rc.ndkim; i++)
		if (strcmp(rc.dkim[i].result, "pass") == 0 && under(rc.dkim[i].domain, dom->name))
			rc.pe_dkim = 1;
	rc.pe_spf = strcmp(rc.spf_result, "pass") == 0 && under(rc.spf_domain, dom->name);
	pass = rc.pe_dkim || rc.pe_spf;

	if (pass || dom->profile == P_NONE) {
		rc.disp = DISP_NONE;
	} else if (s == SRC_FORWARD || s == SRC_LIST) {
		/* receivers' local overrides for indirect mail */
		rc.disp = DISP_NONE;
		if (rep->ri == R_GOOGLE || rep->ri == R_YAHOO) {
			rc.reason = RS_FORWARDED;
		} else if (rep->ri == R_MSENT || rep->ri == R_OUTLOOK) {
			rc.reason = RS_LOCAL_POLICY;
			rc.reason_comment = "arc=pass";
		} else {
			rc.reason = RS_MAILING_LIST;
		}
	} else if (dom->profile == P_QUARANTINE) {
		/* pct=50: about half quarantined, the rest sampled out */
		q = rng_half(r, count);
		if (q) {
			rc.count = q;
			rc.disp = DISP_QUARANTINE;
			rec_add(rep, &rc);
		}
		if (count - q == 0)
			return;
		rc.count = count - q;
		rc.disp = DISP_NONE;
		rc.reason = RS_SAMPLED_OUT;
	} else {
		rc.disp = DISP_REJECT;
	}
	rec_add(rep, &rc);
}

/* Splits `count` messages of a source over a few of its addresses. */
static void
add_source(const struct gen *g, struct report *rep, enum src s, uint64_t count)
{
	char ip[48];
	unsigned k, i;
	uint64_t left = count, part, idx;

	if (count == 0)
		return;
	switch (s) {
	case SRC_OWN:
		k = 1 + (count > 1500);
		break;
	case SRC_WORKSPACE:
		k = 1 + (count > 400) + (count > 1500);
		break;
	case SRC_SENDGRID:
	case SRC_SES:
		k = 1 + (count > 400);
		break;
	default:
		k = 1;
		break;
	}
	if (k > count)
		k = (unsigned)count;
	idx = rng_below(&rep->r, pool_size[s]);
	for (i = 0; i < k; i++) {
		if (i + 1 == k)
			part = left;
		else
			part = 1 + rng_below(&rep->r, left - (k - i - 1));
		if (part > left - (k - i - 1))
			part = left - (k - i - 1);
		left -= part;
		source_ip(g, s, rep->dom, (idx + i) % pool_size[s], ip, sizeof ip);
		make_recs(rep, s, ip, part);
	}
}

/* Spoofing: each source IP sends a handful, sometimes a campaign. */
static void
add_spoofers(const struct gen *g, struct report *rep, double lambda)
{
	uint64_t n = rng_poisson(&rep->r, lambda), i, idx, cnt;
	char ip[48];

	for (i = 0; i < n; i++) {
		/* 70 % recurring offenders from the pool, 30 % fresh addresses */
		idx = rng_chance(&rep->r, 0.7) ? rng_below(&rep->r, pool_size[SRC_SPOOF]) :
		    pool_size[SRC_SPOOF] + rng_below(&rep->r, 1u << 30);
		source_ip(g, SRC_SPOOF, rep->dom, idx, ip, sizeof ip);
		cnt = 1 + rng_poisson(&rep->r, 1.5);
		if (rng_chance(&rep->r, 0.03))
			cnt += 20 + rng_below(&rep->r, 300);
		make_recs(rep, SRC_SPOOF, ip, cnt);
	}
}

static void
hex_id(struct rng *r, char *dst, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		dst[i] = "0123456789abcdef"[rng_below(r, 16)];
	dst[n] = '\0';
}

static void
make_report_id(struct report *rep)
{
	struct rng *r = &rep->r;
	char h[40];

	switch (rep->rp->idstyle) {
	case ID_DECIMAL:
		fmt_into(rep->report_id, sizeof rep->report_id, "%" PRIu64,
		    rng_next(r) % UINT64_C(9000000000000000000) + UINT64_C(1000000000000000000));
		break;
	case ID_HEX32:
		hex_id(r, rep->report_id, 32);
		break;
	case ID_YAHOO:
		fmt_into(rep->report_id, sizeof rep->report_id, "%" PRId64 ".%06u",
		    rep->end + 1 + (int64_t)rng_below(r, 7200), (unsigned)rng_below(r, 1000000));
		break;
	case ID_HEX16:
		hex_id(r, rep->report_id, 16);
		break;
	case ID_DIGITS20:
		fmt_into(rep->report_id, sizeof rep->report_id, "%" PRIu64 "%02u",
		    rng_next(r) % UINT64_C(9000000000000000000) + UINT64_C(1000000000000000000),
		    (unsigned)rng_below(r, 100));
		break;
	case ID_MAILRU:
		fmt_into(rep->report_id, sizeof rep->report_id, "%" PRIu64 "%" PRId64,
		    rng_next(r) % UINT64_C(9000000000000000000) + UINT64_C(1000000000000000000), rep->begin);
		break;
	case ID_UUID:
		hex_id(r, h, 32);
		fmt_into(rep->report_id, sizeof rep->report_id, "%.8s-%.4s-4%.3s-%c%.3s-%.12s",
		    h, h + 8, h + 12, "89ab"[rng_below(r, 4)], h + 16, h + 20);
		break;
	case ID_HEX24:
		hex_id(r, rep->report_id, 24);
		break;
	}
}

/* Trustwave-style spans: 7-day blocks of absolute days, each either whole
 * or split 3+4 / 4+3, decided per (domain, block). */
static int
span_ending(const struct gen *g, const struct domain *dom, int64_t day, int64_t *first_out)
{
	int64_t block = day / 7, pos = day % 7, split;
	struct rng r;

	rng_seed(&r, g->seed, 0x7e, dom->gindex, (uint64_t)block);
	split = (int64_t)rng_below(&r, 3);          /* 0: 7, 1: 3+4, 2: 4+3 */
	split = split == 0 ? 7 : split == 1 ? 3 : 4;
	if (pos == split - 1) {
		*first_out = block * 7;
		return 1;
	}
	if (split < 7 && pos == 6) {
		*first_out = block * 7 + split;
		return 1;
	}
	return 0;
}

/*
 * Plans the report of reporter `ri` for domain `dom` ending on `day`.
 * Returns 0 when the reporter sends none that day.
 */
static int
plan_report(const struct gen *g, struct report *rep, int64_t day, const struct domain *dom,
    int ri)
{
	const struct reporter *rp = &reporters[ri];
	double share, f, dowf, season;
	int64_t first = day, k;
	int s, dow;

	rep->nrec = 0;
	rep->rp = rp;
	rep->ri = ri;
	rep->dl = &dialects[rp->dialect];
	rep->dom = dom;
	rep->records = rep->messages = rep->pass_messages = 0;
	memset(rep->by_src, 0, sizeof rep->by_src);
	if (rp->multi_day && !span_ending(g, dom, day, &first))
		return 0;
	rng_seed(&rep->r, g->seed ^ ((uint64_t)g->round << 40), (uint64_t)day, dom->gindex,
	    (uint64_t)ri);
	rep->first_day = first;
	rep->ndays = day - first + 1;
	share = dom->is_jp ? rp->share_jp : rp->share_other;

	for (k = first; k <= day; k++) {
		dow = (int)((k + 4) % 7);               /* 0 = Sunday */
		season = 1.0 + 0.15 * sin(6.283185307179586 * (double)k / 365.25);
		for (s = 0; s < SRC_N; s++) {
			double base = base_volume[dom->profile][s];
			if (base <= 0)
				continue;
			dowf = 1.0;
			if (s != SRC_SPOOF && dom->profile != P_NONE && (dow == 0 || dow == 6))
				dowf = 0.35;
			if (s == SRC_SENDGRID)            /* newsletter days */
				dowf = dom->profile == P_NONE ? (dow == 5 ? 3.0 : 0.6) :
				    (dow == 2 ? 4.0 : 0.3);
			f = share * dowf * season * exp(0.25 * rng_gauss(&rep->r));
			if (s == SRC_SPOOF)
				add_spoofers(g, rep, base * pow(share, 0.7));
			else
				add_source(g, rep, (enum src)s, rng_poisson(&rep->r, base * f));
		}
	}
	if (rep->nrec == 0)
		return 0;

	rep->begin = first * DAY + rp->offset;
	rep->end = (day + 1) * DAY + rp->offset - (rp->end_inclusive ? 1 : 0);
	make_report_id(rep);
	if (rp->id_in_name)
		fmt_into(rep->stem, sizeof rep->stem, "%s!%s!%" PRId64 "!%" PRId64 "!%s", rp->key,
		    dom->name, rep->begin, rep->end, rep->report_id);
	else
		fmt_into(rep->stem, sizeof rep->stem, "%s!%s!%" PRId64 "!%" PRId64, rp->key,
		    dom->name, rep->begin, rep->end);
	return 1;
}

/* ---------------------------------------------------------------------- */
/* XML output.                                                             */

struct xw {
	struct obuf *b;
	const struct dialect *d;
	unsigned depth;
};

static void
xw_indent(struct xw *w)
{
	unsigned i;

	if (w->d->indent[0])
		for (i = 0; i < w->depth; i++)
			ob_puts(w->b, w->d->indent);
}

static void
xw_open(struct xw *w, const char *tag)
{
	xw_indent(w);
	ob_putc(w->b, '<');
	ob_puts(w->b, tag);
	ob_putc(w->b, '>');
	ob_puts(w->b, w->d->eol);
	w->depth++;
}

static void
xw_close(struct xw *w, const char *tag)
{
	w->depth--;
	xw_indent(w);
	ob_put(w->b, "</", 2);
	ob_puts(w->b, tag);
	ob_putc(w->b, '>');
	ob_puts(w->b, w->d->eol);
}

/* Values are domains, numbers and fixed words: nothing to escape. */
static void
xw_leaf(struct xw *w, const char *tag, const char *val)
{
	size_t n = strlen(tag);

	xw_indent(w);
	ob_putc(w->b, '<');
	ob_put(w->b, tag, n);
	ob_putc(w->b, '>');
	ob_puts(w->b, val);
	ob_put(w->b, "</", 2);
	ob_put(w->b, tag, n);
	ob_putc(w->b, '>');
	ob_puts(w->b, w->d->eol);
}

static void
xw_leaf_u64(struct xw *w, const char *tag, uint64_t v)
{
	char t[24];

	fmt_into(t, sizeof t, "%" PRIu64, v);
	xw_leaf(w, tag, t);
}

static const char *const policy_p[] = { "reject", "quarantine", "none" };

static void
xml_head(struct xw *w, const struct report *rep)
{
	const struct dialect *d = rep->dl;
	const struct domain *dom = rep->dom;
	const char *p = policy_p[dom->profile];

	ob_puts(w->b, d->prolog);
	ob_puts(w->b, d->eol);
	ob_puts(w->b, d->root);
	ob_puts(w->b, d->eol);
	w->depth = 1;
	if (d->version)
		xw_leaf(w, "version", d->version);
	xw_open(w, "report_metadata");
	xw_leaf(w, "org_name", rep->rp->org_name);
	xw_leaf(w, "email", rep->rp->email);
	if (rep->rp->extra)
		xw_leaf(w, "extra_contact_info", rep->rp->extra);
	xw_leaf(w, "report_id", rep->report_id);
	xw_open(w, "date_range");
	xw_leaf_u64(w, "begin", (uint64_t)rep->begin);
	xw_leaf_u64(w, "end", (uint64_t)rep->end);
	xw_close(w, "date_range");
	xw_close(w, "report_metadata");
	xw_open(w, "policy_published");
	xw_leaf(w, "domain", dom->name);
	if (d->flags & F_9990)
		xw_leaf(w, "discovery_method", "psl");
	xw_leaf(w, "adkim", "r");
	xw_leaf(w, "aspf", "r");
	xw_leaf(w, "p", p);
	if (d->flags & F_SP)
		xw_leaf(w, "sp", p);
	if (d->flags & F_9990)
		xw_leaf(w, "testing", "n");
	if (d->flags & F_PCT)
		xw_leaf(w, "pct", dom->profile == P_QUARANTINE ? "50" : "100");
	if (d->flags & F_NP)
		xw_leaf(w, "np", p);
	if (d->flags & F_FO)
		xw_leaf(w, "fo", "0");
	xw_close(w, "policy_published");
}

static void
xml_record(struct xw *w, struct report *rep, const struct rec *rc)
{
	const struct dialect *d = rep->dl;
	int i;

	xw_open(w, "record");
	xw_open(w, "row");
	xw_leaf(w, "source_ip", rc->ip);
	xw_leaf_u64(w, "count", rc->count);
	xw_open(w, "policy_evaluated");
	xw_leaf(w, "disposition", disp_names[rc->disp]);
	xw_leaf(w, "dkim", rc->pe_dkim ? "pass" : "fail");
	xw_leaf(w, "spf", rc->pe_spf ? "pass" : "fail");
	if (rc->reason != RS_NONE) {
		xw_open(w, "reason");
		xw_leaf(w, "type", reason_names[rc->reason]);
		if (rc->reason_comment)
			xw_leaf(w, "comment", rc->reason_comment);
		xw_close(w, "reason");
	}
	xw_close(w, "policy_evaluated");
	xw_close(w, "row");
	xw_open(w, "identifiers");
	if ((d->flags & F_ENV_TO) && rc->envelope_to)
		xw_leaf(w, "envelope_to", rc->envelope_to);
	if (d->flags & F_ENV_FROM)
		xw_leaf(w, "envelope_from", rc->envelope_from);
	xw_leaf(w, "header_from", rc->header_from);
	xw_close(w, "identifiers");
	xw_open(w, "auth_results");
	for (i = 0; i < rc->ndkim; i++) {
		xw_open(w, "dkim");
		xw_leaf(w, "domain", rc->dkim[i].domain);
		if ((d->flags & F_SEL) && !(d->flags & F_SEL_LAST))
			xw_leaf(w, "selector", rc->dkim[i].selector);
		xw_leaf(w, "result", rc->dkim[i].result);
		if ((d->flags & F_SEL) && (d->flags & F_SEL_LAST))
			xw_leaf(w, "selector", rc->dkim[i].selector);
		xw_close(w, "dkim");
	}
	xw_open(w, "spf");
	xw_leaf(w, "domain", rc->spf_domain);
	if (d->flags & F_SCOPE)
		xw_leaf(w, "scope", "mfrom");
	xw_leaf(w, "result", rc->spf_result);
	xw_close(w, "spf");
	xw_close(w, "auth_results");
	xw_close(w, "record");

	rep->records++;
	rep->messages += rc->count;
	if (rc->pe_dkim || rc->pe_spf)
		rep->pass_messages += rc->count;
	rep->by_src[rc->src] += rc->count;
}

static void
xml_tail(struct xw *w)
{
	ob_puts(w->b, "</feedback>");
	ob_puts(w->b, w->d->eol[0] ? "\n" : "");
}

static void
report_xml(struct report *rep, struct obuf *b)
{
	struct xw w = { b, rep->dl, 0 };
	size_t i;

	b->len = 0;
	xml_head(&w, rep);
	for (i = 0; i < rep->nrec; i++)
		xml_record(&w, rep, &rep->recs[i]);
	xml_tail(&w);
}

/* ---------------------------------------------------------------------- */
/* Mail messages.                                                          */

static void
rfc5322_date(char *dst, size_t size, int64_t ts)
{
	time_t t = (time_t)ts;
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(dst, size, "%a, %d %b %Y %H:%M:%S +0000", &tm) == 0)
		die("strftime failed");
}

static void
utc_day(char *dst, size_t size, int64_t ts)
{
	time_t t = (time_t)ts;
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(dst, size, "%Y-%m-%d", &tm) == 0)
		die("strftime failed");
}

static const char *
ext_of(enum fmt f)
{
	return f == FMT_ZIP ? ".zip" : f == FMT_GZ ? ".xml.gz" : ".xml";
}

static const char *
ctype_of(const struct reporter *rp, enum fmt f)
{
	if (rp->layout == L_SES)
		return "application/octet-stream";
	return f == FMT_ZIP ? "application/zip" : f == FMT_GZ ? rp->gz_type : "text/xml";
}

/*
 * One report mail in the reporter's layout, into g->msg.  `crlf` picks
 * the line ending (Microsoft's .eml files are CRLF, mbox is always LF).
 * A re-sent duplicate gets a new Message-ID and a later Date.
 */
static void
build_mail(struct gen *g, struct report *rep, enum fmt f, const char *attname, int resent,
    int crlf)
{
	const struct reporter *rp = rep->rp;
	const char *nl = crlf ? "\r\n" : "\n";
	const char *ct = ctype_of(rp, f);
	struct obuf *m = &g->msg;
	struct obuf subj = { 0 }, html = { 0 };
	char d1[16], d2[16], date[64], rdate[64], bnd[96], bnd2[96], bnd3[96], mid[96];
	int64_t sent = rep->end + 3600 + (int64_t)rng_below(&rep->r, 8 * 3600);

	if (resent)
		sent += DAY + (int64_t)rng_below(&rep->r, 2 * DAY);
	rfc5322_date(date, sizeof date, sent);
	rfc5322_date(rdate, sizeof rdate, sent + 2 + (int64_t)rng_below(&rep->r, 30));
	m->len = 0;

	switch (rp->layout) {
	case L_SINGLE:
		fmt_into(mid, sizeof mid, "%" PRIu64 "@google.com", rng_next(&rep->r) >> 1);
		break;
	case L_MS:
		hex_id(&rep->r, bnd, 32);
		fmt_into(mid, sizeof mid, "%s@microsoft.com", bnd);
		break;
	case L_MAILRU:
		fmt_into(mid, sizeof mid, "dmarc-%" PRId64 "@corp.mail.ru", sent);
		break;
	default:
		hex_id(&rep->r, bnd, 20);
		fmt_into(mid, sizeof mid, "%s.%" PRId64 "@%s", bnd, sent, rp->host);
		break;
	}

	ob_printf(m, "Return-Path: <%s>%s", rp->email, nl);
	ob_printf(m, "Received: from %s (%s [%s])%s\tby mx.%s (Postfix) with ESMTPS id %.10s%s"
	    "\tfor <dmarc-rua@%s>; %s%s", rp->host, rp->host, rp->host_ip, nl, rep->dom->name,
	    mid, nl, rep->dom->name, rdate, nl);

	/* Subject in the reporter's own words (RFC 7489 7.2.1.1 and reality) */
	switch (rp->layout) {
	case L_SINGLE:
		ob_printf(&subj, "Report domain: %s Submitter: %s Report-ID: %s", rep->dom->name,
		    rp->key, rep->report_id);
		break;
	case L_MAILRU:
		ob_printf(&subj, "Report Domain: %s; Submitter: %s;%s Report-ID: %s",
		    rep->dom->name, rp->org_name, nl, rep->report_id);
		break;
	case L_SES:
		utc_day(d1, sizeof d1, rep->begin);
		ob_printf(&subj, "Dmarc Aggregate Report Domain: {%s}  Submitter: {Amazon SES} "
		    "Date: {%s}", rep->dom->name, d1);
		break;
	case L_MS: {
		struct obuf plain = { 0 };
		ob_printf(&plain, "[Preview] Report Domain: %s Submitter: %s Report-ID: %s",
		    rep->dom->name, rp->key, rep->report_id);
		ob_putc(&plain, '\0');
		ob_puts(&subj, "=?utf-8?B?");
		b64_flat(&subj, plain.p);
		ob_puts(&subj, "?=");
		ob_free(&plain);
		break;
	}
	case L_MIXED:
		ob_printf(&subj, "Report Domain: %s Submitter: %s Report-ID: <%s>",
		    rep->dom->name, rp->key, rep->report_id);
		break;
	}
	ob_putc(&subj, '\0');

	ob_printf(m, "MIME-Version: 1.0%s", nl);
	ob_printf(m, "Date: %s%s", date, nl);
	ob_printf(m, "Message-ID: <%s>%s", mid, nl);
	ob_printf(m, "Subject: %s%s", subj.p, nl);
	if (rp->layout == L_MS)
		ob_printf(m, "From: \"DMARC Aggregate Report\" <%s>%s", rp->email, nl);
	else
		ob_printf(m, "From: %s%s", rp->email, nl);
	ob_printf(m, "To: dmarc-rua@%s%s", rep->dom->name, nl);
	ob_free(&subj);

	if (rp->layout == L_SINGLE) {
		/* Google: the whole body is the attachment */
		ob_printf(m, "Content-Type: %s; %s\tname=\"%s\"%s", ct, nl, attname, nl);
		ob_printf(m, "Content-Disposition: attachment; %s\tfilename=\"%s\"%s", nl,
		    attname, nl);
		ob_printf(m, "Content-Transfer-Encoding: base64%s%s", nl, nl);
		b64_lines(m, (const unsigned char *)g->att.p, g->att.len, nl);
		return;
	}

	switch (rp->layout) {
	case L_MS:
		hex_id(&rep->r, bnd3, 32);
		fmt_into(bnd, sizeof bnd, "_mpm_%spiotk5m200exchangecorpm_", bnd3);
		fmt_into(bnd2, sizeof bnd2, "_rv_%spiotk5m200exchangecorpm_", bnd3);
		fmt_into(bnd3, sizeof bnd3, "_av_%.32spiotk5m200exchangecorpm_", bnd + 5);
		break;
	case L_MAILRU:
		fmt_into(bnd, sizeof bnd, "===============%019" PRIu64 "==",
		    rng_next(&rep->r) % UINT64_C(10000000000000000000));
		break;
	default:
		hex_id(&rep->r, bnd2, 16);
		fmt_into(bnd, sizeof bnd, "----=_Part_%u_%s.%" PRId64,
		    (unsigned)rng_below(&rep->r, 100000), bnd2, sent);
		break;
	}
	ob_printf(m, "Content-Type: multipart/mixed;%s\tboundary=\"%s\"%s%s", nl, bnd, nl, nl);
	ob_printf(m, "This is a multi-part message in MIME format.%s%s", nl, nl);
	ob_printf(m, "--%s%s", bnd, nl);

	if (rp->layout == L_MS) {
		ob_printf(m, "Content-Type: multipart/related;%s\tboundary=\"%s\"%s%s", nl, bnd2,
		    nl, nl);
		ob_printf(m, "--%s%s", bnd2, nl);
		ob_printf(m, "Content-Type: multipart/alternative;%s\tboundary=\"%s\"%s%s", nl,
		    bnd3, nl, nl);
		ob_printf(m, "--%s%sContent-Type: text/plain; charset=\"us-ascii\"%s"
		    "Content-Transfer-Encoding: 7bit%s%s"
		    "This is a DMARC aggregate report from Microsoft Corporation.%s%s",
		    bnd3, nl, nl, nl, nl, nl, nl);
		/* the HTML part is base64 and starts with <div>, like the real one */
		html.len = 0;
		utc_day(d1, sizeof d1, rep->begin);
		utc_day(d2, sizeof d2, rep->end);
		ob_printf(&html, "<div style = \"font-family:Segoe UI; font-size:14px;\">This is a "
		    "DMARC aggregate report from Microsoft Corporation. For Emails received "
		    "between %s 00:00:00 UTC to %s 00:00:00 UTC.</ div><br /><br /><div style = "
		    "\"font-family:Segoe UI; font-size:12px; color:#666666;\">Please do not "
		    "respond to this e-mail. This mailbox is not monitored and you will not "
		    "receive a response.</ div >", d1, d2);
		ob_printf(m, "--%s%sContent-Type: text/html; charset=us-ascii%s"
		    "Content-Transfer-Encoding: base64%s%s", bnd3, nl, nl, nl, nl);
		b64_lines(m, (const unsigned char *)html.p, html.len, nl);
		ob_puts(m, nl);
		ob_free(&html);
		ob_printf(m, "--%s--%s%s--%s--%s%s", bnd3, nl, nl, bnd2, nl, nl);
	} else if (rp->layout == L_MAILRU) {
		ob_printf(m, "MIME-Version: 1.0%sContent-Type: text/plain; charset=\"utf-8\"%s"
		    "Content-Transfer-Encoding: base64%s%s", nl, nl, nl, nl);
		b64_lines(m, (const unsigned char *)"This is an aggregate report from Mail.Ru.",
		    41, nl);
		ob_puts(m, nl);
	} else {
		ob_printf(m, "Content-Type: text/plain; charset=\"us-ascii\"%s"
		    "Content-Transfer-Encoding: 7bit%s%s"
		    "This is an aggregate report from %s.%s%s", nl, nl, nl, rp->org_name, nl, nl);
	}

	ob_printf(m, "--%s%s", bnd, nl);
	if (rp->layout == L_MS) {
		hex_id(&rep->r, bnd2, 32);
		ob_printf(m, "Content-Type: %s%sContent-Transfer-Encoding: base64%s"
		    "Content-ID: <%.8s-%.4s-%.4s-%.4s-%.12s>%sContent-Description: %s%s"
		    "Content-Disposition: attachment; filename=\"%s\";%s%s", ct, nl, nl, bnd2,
		    bnd2 + 8, bnd2 + 12, bnd2 + 16, bnd2 + 20, nl, attname, nl, attname, nl, nl);
		b64_lines(m, (const unsigned char *)g->att.p, g->att.len, nl);
		ob_printf(m, "%s--%s--%s", nl, bnd, nl);
		return;
	}
	ob_printf(m, "Content-Type: %s;%s\tname=\"%s\"%s", ct, nl, attname, nl);
	if (rp->layout == L_MAILRU)
		ob_printf(m, "MIME-Version: 1.0%s", nl);
	ob_printf(m, "Content-Transfer-Encoding: base64%s", nl);
	ob_printf(m, "Content-Disposition: attachment;%s filename=\"%s\"%s%s", nl, attname, nl,
	    nl);
	b64_lines(m, (const unsigned char *)g->att.p, g->att.len, nl);
	ob_printf(m, "%s--%s--%s", nl, bnd, nl);
}

/* ---------------------------------------------------------------------- */
/* Writing files, the mbox and the truth.                                  */

static void
mkdirs(const char *path)
{
	char buf[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof buf)
		die("bad directory name");
	memcpy(buf, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (buf[i] == '/' || buf[i] == '\0') {
			char c = buf[i];
			buf[i] = '\0';
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				die("mkdir %s: %s", buf, strerror(errno));
			buf[i] = c;
		}
	}
}

static void
write_file(struct gen *g, const char *name, const void *p, size_t n)
{
	const char *q = p;
	ssize_t w;
	int fd;

	g->path.len = 0;
	ob_printf(&g->path, "%s/%s", g->out, name);
	ob_putc(&g->path, '\0');
	fd = open(g->path.p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die("%s: %s", g->path.p, strerror(errno));
	while (n > 0) {
		w = write(fd, q, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("%s: %s", g->path.p, strerror(errno));
		}
		q += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0)
		die("%s: %s", g->path.p, strerror(errno));
}

static void
mbox_open(struct gen *g)
{
	char *path;

	if (g->mbox)
		return;
	if (g->mbox_path)
		path = strdup(g->mbox_path);
	else {
		g->path.len = 0;
		ob_printf(&g->path, "%s/reports.mbox", g->out);
		ob_putc(&g->path, '\0');
		path = strdup(g->path.p);
	}
	if (path == NULL)
		die("out of memory");
	g->mbox = fopen(path, "w");
	if (g->mbox == NULL)
		die("%s: %s", path, strerror(errno));
	setvbuf(g->mbox, NULL, _IOFBF, 1 << 20);
	if (g->mbox_path == NULL)
		g->mbox_path = g->mbox_owned = path;    /* kept for the truth file */
	else
		free(path);
}

/* From_ line + message.  Our messages have no body line starting with
 * "From " (base64 has no space), so no >From quoting is needed. */
static void
mbox_append(struct gen *g, const struct reporter *rp, int64_t when)
{
	char d[64];
	time_t t = (time_t)when;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(d, sizeof d, "%a %b %e %H:%M:%S %Y", &tm);
	mbox_open(g);
	if (fprintf(g->mbox, "From %s %s\n", rp->email, d) < 0 ||
	    fwrite(g->msg.p, 1, g->msg.len, g->mbox) != g->msg.len || fputc('\n', g->mbox) == EOF)
		die("%s: %s", g->mbox_path, strerror(errno));
	g->mbox_bytes += (uint64_t)strlen(rp->email) + strlen(d) + 7 + g->msg.len + 1;
	g->mbox_msgs++;
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

static void
truth_entry(struct gen *g, const struct report *rep, const char *file, int64_t msgno,
    const char *envelope, enum fmt f, const char *attname, int64_t dup_of)
{
	FILE *t = g->truth;
	int s, first = 1;

	if (t == NULL)
		return;
	fprintf(t, "%s\n    {\"index\": %" PRIu64 ", \"file\": ", g->deliveries ? "," : "",
	    g->deliveries);
	json_str(t, file);
	if (msgno >= 0)
		fprintf(t, ", \"message\": %" PRId64, msgno);
	fprintf(t, ", \"envelope\": \"%s\", \"container\": \"%s\", \"attachment\": ", envelope,
	    f == FMT_ZIP ? "zip" : f == FMT_GZ ? "gzip" : "xml");
	json_str(t, attname);
	fputs(", \"reporter\": ", t);
	json_str(t, rep->rp->key);
	fputs(", \"org_name\": ", t);
	json_str(t, rep->rp->org_name);
	fputs(", \"report_id\": ", t);
	json_str(t, rep->report_id);
	fputs(", \"domain\": ", t);
	json_str(t, rep->dom->name);
	fprintf(t, ", \"begin\": %" PRId64 ", \"end\": %" PRId64 ", \"days\": %" PRId64
	    ", \"records\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"dmarc_pass\": %" PRIu64
	    ", \"by_source\": {", rep->begin, rep->end, rep->ndays, rep->records, rep->messages,
	    rep->pass_messages);
	for (s = 0; s < SRC_N; s++) {
		if (rep->by_src[s] == 0)
			continue;
		fprintf(t, "%s\"%s\": %" PRIu64, first ? "" : ", ", src_names[s], rep->by_src[s]);
		first = 0;
	}
	if (dup_of >= 0)
		fprintf(t, "}, \"duplicate_of\": %" PRId64 "}", dup_of);
	else
		fputs("}, \"duplicate_of\": null}", t);
}

static int
done(const struct gen *g)
{
	if (g->count && g->deliveries >= g->count)
		return 1;
	if (g->mbox_size && g->mbox_bytes >= g->mbox_size)
		return 1;
	return 0;
}

/* One delivery of an encoded report: a file, an .eml or an mbox message. */
static void
deliver_one(struct gen *g, struct report *rep, enum fmt f, const char *attname, int resent,
    int64_t dup_of)
{
	enum env e = g->env;
	char name[400];
	int64_t msgno = -1;

	if (e == ENV_MIXED) {
		double u = rng_unit(&rep->r);
		e = u < 0.60 ? ENV_FILE : u < 0.85 ? ENV_EML : ENV_MBOX;
	}
	switch (e) {
	case ENV_FILE:
		if (resent)
			fmt_into(name, sizeof name, "%s (1)%s", rep->stem, ext_of(f));
		else
			fmt_into(name, sizeof name, "%s", attname);
		write_file(g, name, g->att.p, g->att.len);
		g->file_bytes += g->att.len;
		truth_entry(g, rep, name, -1, "file", f, attname, dup_of);
		break;
	case ENV_EML:
		build_mail(g, rep, f, attname, resent, rep->rp->layout == L_MS);
		fmt_into(name, sizeof name, "%s%s.eml", rep->stem, resent ? " (1)" : "");
		write_file(g, name, g->msg.p, g->msg.len);
		g->file_bytes += g->msg.len;
		truth_entry(g, rep, name, -1, "eml", f, attname, dup_of);
		break;
	case ENV_MBOX:
	case ENV_MIXED:
		build_mail(g, rep, f, attname, resent, 0);
		msgno = (int64_t)g->mbox_msgs;
		mbox_append(g, rep->rp, rep->end + 3600);
		truth_entry(g, rep, base_name(g->mbox_path), msgno, "mbox", f, attname, dup_of);
		break;
	}
	g->deliveries++;
	g->all_records += rep->records;
	g->all_messages += rep->messages;
}

static void
deliver(struct gen *g, struct report *rep)
{
	enum fmt f = g->fmt == FMT_NATIVE ? rep->rp->native : g->fmt;
	char attname[400];
	int64_t first;

	report_xml(rep, &g->xml);
	fmt_into(attname, sizeof attname, "%s%s", rep->stem, ext_of(f));
	g->att.len = 0;
	if (f == FMT_GZ) {
		char member[400];
		fmt_into(member, sizeof member, "%s.xml", rep->stem);
		gz_encode(&g->defl, &g->xml, member, rep->end + 600, &g->att);
	} else if (f == FMT_ZIP) {
		char member[400];
		fmt_into(member, sizeof member, "%s.xml", rep->stem);
		zip_encode(&g->defl, &g->xml, member, rep->end + 600, &g->att);
	} else {
		ob_put(&g->att, g->xml.p, g->xml.len);
	}

	first = (int64_t)g->deliveries;
	deliver_one(g, rep, f, attname, 0, -1);
	g->uniq_reports++;
	g->records += rep->records;
	g->messages += rep->messages;
	g->pass_messages += rep->pass_messages;

	if (rng_unit(&rep->r) * 1000.0 < rep->rp->dup_permille && !done(g)) {
		deliver_one(g, rep, f, attname, 1, first);
		g->dups++;
	}
}

/* ---------------------------------------------------------------------- */
/* The single huge report (--big-records), streamed.                       */

struct sink {
	FILE *fp;
	int gz;
	z_stream z;
	unsigned char out[1 << 16];
	uint64_t bytes;
};

static void
sink_write(struct sink *k, const void *p, size_t n, int finish)
{
	int rc;

	if (!k->gz) {
		if (n && fwrite(p, 1, n, k->fp) != n)
			die("write: %s", strerror(errno));
		k->bytes += n;
		return;
	}
	k->z.next_in = (Bytef *)(uintptr_t)p;
	k->z.avail_in = (uInt)n;
	do {
		k->z.next_out = k->out;
		k->z.avail_out = sizeof k->out;
		rc = deflate(&k->z, finish ? Z_FINISH : Z_NO_FLUSH);
		if (rc == Z_STREAM_ERROR)
			die("deflate failed");
		n = sizeof k->out - k->z.avail_out;
		if (n && fwrite(k->out, 1, n, k->fp) != n)
			die("write: %s", strerror(errno));
		k->bytes += n;
	} while (k->z.avail_out == 0 || (finish && rc != Z_STREAM_END));
}

static void
big_report(struct gen *g)
{
	static const unsigned weights[SRC_N] = { 30, 20, 15, 10, 5, 5, 15 };
	struct report rep = { 0 };
	struct domain *dom = &g->doms[0];
	struct xw w = { &g->xml, NULL, 0 };
	struct sink k = { 0 };
	enum fmt f = g->fmt == FMT_NATIVE ? FMT_XML : g->fmt;
	char attname[400], member[400], ip[48];
	uint64_t emitted = 0;
	size_t i;
	gz_header h;

	if (f == FMT_ZIP || g->env != ENV_FILE)
		die("--big-records writes one .xml or .xml.gz file (no --zip/--eml/--mbox)");
	rep.rp = &reporters[R_GOOGLE];
	rep.ri = R_GOOGLE;
	rep.dl = &dialects[rep.rp->dialect];
	rep.dom = dom;
	rep.first_day = g->end_day;
	rep.ndays = 1;
	rep.begin = g->end_day * DAY;
	rep.end = rep.begin + DAY - 1;
	rng_seed(&rep.r, g->seed, 0xb16, (uint64_t)g->end_day, g->big_records);
	make_report_id(&rep);
	fmt_into(rep.stem, sizeof rep.stem, "%s!%s!%" PRId64 "!%" PRId64, rep.rp->key, dom->name,
	    rep.begin, rep.end);
	fmt_into(attname, sizeof attname, "%s%s", rep.stem, ext_of(f));
	fmt_into(member, sizeof member, "%s.xml", rep.stem);
	w.d = rep.dl;

	g->path.len = 0;
	ob_printf(&g->path, "%s/%s", g->out, attname);
	ob_putc(&g->path, '\0');
	k.fp = fopen(g->path.p, "w");
	if (k.fp == NULL)
		die("%s: %s", g->path.p, strerror(errno));
	if (f == FMT_GZ) {
		k.gz = 1;
		if (deflateInit2(&k.z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			die("deflateInit2 failed");
		memset(&h, 0, sizeof h);
		h.name = (Bytef *)member;
		h.time = (uLong)(rep.end + 600);
		h.os = 3;
		deflateSetHeader(&k.z, &h);
	}

	g->xml.len = 0;
	xml_head(&w, &rep);
	while (emitted < g->big_records) {
		unsigned u = (unsigned)rng_below(&rep.r, 100), s = 0;
		uint64_t cnt;
		while (u >= weights[s]) {
			u -= weights[s];
			s++;
		}
		/* fresh addresses, so the report has as many sources as rows */
		source_ip(g, (enum src)s, dom, s == SRC_OWN ? rng_below(&rep.r, 3) :
		    rng_next(&rep.r) >> 8, ip, sizeof ip);
		cnt = s == SRC_SPOOF ? 1 + rng_poisson(&rep.r, 1.5) :
		    1 + rng_poisson(&rep.r, s == SRC_OWN || s == SRC_WORKSPACE ? 40 : 8);
		rep.nrec = 0;
		make_recs(&rep, (enum src)s, ip, cnt);
		for (i = 0; i < rep.nrec && emitted < g->big_records; i++, emitted++)
			xml_record(&w, &rep, &rep.recs[i]);
		if (g->xml.len >= (1 << 20)) {
			sink_write(&k, g->xml.p, g->xml.len, 0);
			g->xml.len = 0;
		}
	}
	xml_tail(&w);
	sink_write(&k, g->xml.p, g->xml.len, 1);
	g->xml.len = 0;
	if (k.gz)
		deflateEnd(&k.z);
	if (fclose(k.fp) != 0)
		die("%s: %s", g->path.p, strerror(errno));
	g->file_bytes += k.bytes;
	truth_entry(g, &rep, attname, -1, "file", f, attname, -1);
	g->deliveries++;
	g->uniq_reports++;
	g->records += rep.records;
	g->messages += rep.messages;
	g->pass_messages += rep.pass_messages;
	g->all_records += rep.records;
	g->all_messages += rep.messages;
	free(rep.recs);
}

/* ---------------------------------------------------------------------- */
/* Main loop.                                                              */

static void
generate(struct gen *g)
{
	struct report rep = { 0 };
	int64_t day, start, window;
	unsigned round = 0;
	size_t di;
	int ri;

	window = g->count || g->mbox_size ? (g->days_given ? g->days : ROUND_DAYS) : g->days;
	for (;;) {
		setup_round(g, round);
		start = g->end_day - window + 1;
		for (day = g->end_day; day >= start; day--) {
			for (di = 0; di < g->nbase; di++) {
				for (ri = 0; ri < R_N; ri++) {
					if (done(g))
						goto out;
					if (plan_report(g, &rep, day, &g->doms[di], ri))
						deliver(g, &rep);
				}
			}
		}
		if (!g->count && !g->mbox_size)
			break;
		if (++round > 100000)
			die("internal: runaway generation");
	}
out:
	free(rep.recs);
}

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static uint64_t
parse_u64(const char *opt, const char *s, int allow_suffix)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		bad_usage("%s: not a number: %s", opt, s);
	if (allow_suffix && *end) {
		unsigned shift = 0;
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		default: bad_usage("%s: bad suffix in %s", opt, s);
		}
		if (end[1] != '\0' && strcmp(end + 1, "B") != 0 && strcmp(end + 1, "iB") != 0)
			bad_usage("%s: bad suffix in %s", opt, s);
		if (v > (UINT64_MAX >> shift))
			bad_usage("%s: too large: %s", opt, s);
		return (uint64_t)v << shift;
	}
	if (*end)
		bad_usage("%s: not a number: %s", opt, s);
	return (uint64_t)v;
}

static int64_t
parse_date(const char *s)
{
	char *end;
	unsigned long y, m, d;

	y = strtoul(s, &end, 10);
	if (end - s != 4 || *end != '-')
		goto bad;
	s = end + 1;
	m = strtoul(s, &end, 10);
	if (end - s != 2 || *end != '-' || m < 1 || m > 12)
		goto bad;
	s = end + 1;
	d = strtoul(s, &end, 10);
	if (end - s != 2 || *end != '\0' || d < 1 || d > 31)
		goto bad;
	if (y < 1990 || y > 2200)
		goto bad;
	return days_from_civil((int64_t)y, (unsigned)m, (unsigned)d);
bad:
	bad_usage("--end: expected YYYY-MM-DD");
}

static void
parse_domains(struct gen *g, const char *list)
{
	char *copy = strdup(list), *p, *comma;
	size_t n = 0, i;

	if (copy == NULL)
		die("out of memory");
	if (g->domains_owned) {
		free(g->domains_owned);
		free(g->base_domains);
	}
	g->domains_owned = copy;
	g->base_domains = calloc(strlen(list) / 2 + 2, sizeof *g->base_domains);
	if (g->base_domains == NULL)
		die("out of memory");
	for (p = copy; p; p = comma) {
		comma = strchr(p, ',');
		if (comma)
			*comma++ = '\0';
		if (*p == '\0')
			continue;
		if (strlen(p) > NAME_MAX_LEN || strchr(p, '.') == NULL)
			bad_usage("--domains: bad domain: %s", p);
		for (i = 0; p[i]; i++) {
			char c = p[i];
			if (c >= 'A' && c <= 'Z')
				p[i] = (char)(c - 'A' + 'a');
			else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '.'))
				bad_usage("--domains: bad domain: %s", p);
		}
		g->base_domains[n++] = p;
	}
	if (n == 0)
		bad_usage("--domains: empty list");
	g->nbase = n;
}

static void
usage(FILE *f)
{
	fputs(
"usage: dmarcgen [options]\n"
"Writes realistic synthetic DMARC aggregate reports; deterministic for a\n"
"given --seed and --end.\n"
"\n"
"  --out DIR          directory for report files (created)\n"
"  --seed N           random seed (default 1)\n"
"  --days N           reports for the last N days (default 30)\n"
"  --end YYYY-MM-DD   last day covered (default: yesterday, UTC)\n"
"  --domains a,b,...  policy domains (default example.co.jp,example.com,\n"
"                     shop.example.net); domain i gets p=reject, p=quarantine\n"
"                     pct=50, p=none for i %% 3 = 0, 1, 2\n"
"  --count N          exactly N report files/messages (duplicates included),\n"
"                     walking back from --end; past 730 days (or --days) the\n"
"                     domain set repeats as example-2.co.jp, ...\n"
"  --xml | --gzip | --zip   container of every report (default: the\n"
"                     reporter's own: Google .zip, the others .xml.gz)\n"
"  --eml              one .eml message per report (base64 attachment)\n"
"  --mbox FILE        all reports as messages in one mbox\n"
"  --mixed            60%% bare files, 25%% .eml, 15%% in the mbox (DIR/reports.mbox\n"
"                     or --mbox FILE)\n"
"  --big-records N    one single report with N records, streamed (.xml, or\n"
"                     .xml.gz with --gzip); for memory tests\n"
"  --mbox-size BYTES  an mbox of about BYTES (suffix K/M/G), streamed\n"
"  --json             write the truth JSON to stdout\n"
"  --truth FILE       write the truth JSON to FILE\n"
"  -q, --quiet        no summary on stderr\n"
"  -h, --help         this text\n", f);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "seed", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "end", required_argument, NULL, 'e' },
		{ "domains", required_argument, NULL, 'D' },
		{ "count", required_argument, NULL, 'c' },
		{ "xml", no_argument, NULL, 'X' },
		{ "gzip", no_argument, NULL, 'G' },
		{ "zip", no_argument, NULL, 'Z' },
		{ "eml", no_argument, NULL, 'E' },
		{ "mbox", required_argument, NULL, 'M' },
		{ "mixed", no_argument, NULL, 'x' },
		{ "big-records", required_argument, NULL, 'B' },
		{ "mbox-size", required_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "truth", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gen g;
	struct timespec t0, t1;
	int c, nfmt = 0, mixed = 0, eml = 0;
	size_t i;
	double secs;

	memset(&g, 0, sizeof g);
	g.seed = 1;
	g.days = 30;
	g.end_day = (int64_t)(time(NULL) / DAY) - 1;
	g.fmt = FMT_NATIVE;
	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 'o': g.out = optarg; break;
		case 's': g.seed = parse_u64("--seed", optarg, 0); break;
		case 'd':
			g.days = (int64_t)parse_u64("--days", optarg, 0);
			if (g.days < 1 || g.days > 36500)
				bad_usage("--days: 1..36500");
			g.days_given = 1;
			break;
		case 'e': g.end_day = parse_date(optarg); break;
		case 'D': parse_domains(&g, optarg); break;
		case 'c':
			g.count = parse_u64("--count", optarg, 0);
			if (g.count == 0)
				bad_usage("--count: must be at least 1");
			break;
		case 'X': g.fmt = FMT_XML; nfmt++; break;
		case 'G': g.fmt = FMT_GZ; nfmt++; break;
		case 'Z': g.fmt = FMT_ZIP; nfmt++; break;
		case 'E': eml = 1; break;
		case 'M': g.mbox_path = optarg; break;
		case 'x': mixed = 1; break;
		case 'B':
			g.big_records = parse_u64("--big-records", optarg, 0);
			if (g.big_records == 0)
				bad_usage("--big-records: must be at least 1");
			break;
		case 'S':
			g.mbox_size = parse_u64("--mbox-size", optarg, 1);
			if (g.mbox_size == 0)
				bad_usage("--mbox-size: must be at least 1");
			break;
		case 'j': g.truth_stdout = 1; break;
		case 't': g.truth_path = optarg; break;
		case 'q': g.quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc)
		bad_usage("unexpected argument: %s", argv[optind]);
	if (nfmt > 1)
		bad_usage("choose one of --xml, --gzip, --zip");
	if (eml + mixed > 1 || (mixed && g.mbox_size))
		bad_usage("--eml, --mixed and --mbox-size do not combine");
	if (g.count && g.mbox_size)
		bad_usage("--count and --mbox-size do not combine");
	if (g.big_records && (g.count || g.mbox_size || eml || mixed))
		bad_usage("--big-records makes one file; no --count/--mbox-size/--eml/--mixed");
	if (mixed)
		g.env = ENV_MIXED;
	else if (eml)
		g.env = ENV_EML;
	else if (g.mbox_path || g.mbox_size)
		g.env = ENV_MBOX;
	else
		g.env = ENV_FILE;
	if (g.env != ENV_MBOX && g.out == NULL)
		bad_usage("--out DIR is required");
	if (g.mbox_size && g.mbox_path == NULL && g.out == NULL)
		bad_usage("--mbox-size needs --mbox FILE or --out DIR");
	if (g.base_domains == NULL) {
		static char d0[] = "example.co.jp", d1[] = "example.com", d2[] = "shop.example.net";
		static char *defaults[] = { d0, d1, d2 };
		g.base_domains = defaults;
		g.nbase = 3;
	}
	if (g.out)
		mkdirs(g.out);
	g.doms = calloc(g.nbase, sizeof *g.doms);
	if (g.doms == NULL)
		die("out of memory");
	if (g.truth_path) {
		g.truth = fopen(g.truth_path, "w");
		if (g.truth == NULL)
			die("%s: %s", g.truth_path, strerror(errno));
	} else if (g.truth_stdout) {
		g.truth = stdout;
	}
	if (g.truth) {
		char end[16];
		time_t t = (time_t)(g.end_day * DAY);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(end, sizeof end, "%Y-%m-%d", &tm);
		setvbuf(g.truth, NULL, _IOFBF, 1 << 16);
		fprintf(g.truth, "{\n  \"generator\": \"dmarcgen\",\n  \"format\": 1,\n"
		    "  \"seed\": %" PRIu64 ",\n  \"end\": \"%s\",\n  \"reports\": [", g.seed, end);
	}

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (g.big_records) {
		setup_round(&g, 0);
		big_report(&g);
	} else {
		generate(&g);
	}
	if (g.mbox && fclose(g.mbox) != 0)
		die("%s: %s", g.mbox_path, strerror(errno));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

	if (g.truth) {
		unsigned r;
		int first = 1;
		fprintf(g.truth, "\n  ],\n  \"domains\": [");
		for (r = 0; r <= g.max_round; r++) {
			setup_round(&g, r);
			for (i = 0; i < g.nbase; i++) {
				fprintf(g.truth, "%s\n    {\"domain\": ", first ? "" : ",");
				json_str(g.truth, g.doms[i].name);
				fprintf(g.truth, ", \"p\": \"%s\", \"pct\": %d}",
				    policy_p[g.doms[i].profile],
				    g.doms[i].profile == P_QUARANTINE ? 50 : 100);
				first = 0;
			}
		}
		fprintf(g.truth, "\n  ],\n  \"totals\": {\"deliveries\": %" PRIu64
		    ", \"reports\": %" PRIu64 ", \"duplicates\": %" PRIu64 ", \"records\": %" PRIu64
		    ", \"messages\": %" PRIu64 ", \"dmarc_pass\": %" PRIu64
		    ", \"records_with_duplicates\": %" PRIu64
		    ", \"messages_with_duplicates\": %" PRIu64 "}\n}\n",
		    g.deliveries, g.uniq_reports, g.dups, g.records, g.messages, g.pass_messages,
		    g.all_records, g.all_messages);
		if (g.truth != stdout ? fclose(g.truth) != 0 : fflush(g.truth) != 0)
			die("truth: %s", strerror(errno));
	}
	if (!g.quiet)
		fprintf(stderr, "dmarcgen: %" PRIu64 " deliveries (%" PRIu64 " reports + %" PRIu64
		    " duplicates), %" PRIu64 " records, %" PRIu64 " messages; %.1f MB files, "
		    "%.1f MB mbox; %.2f s\n", g.deliveries, g.uniq_reports, g.dups, g.records,
		    g.messages, (double)g.file_bytes / 1e6, (double)g.mbox_bytes / 1e6, secs);

	if (g.defl.gz_ok)
		deflateEnd(&g.defl.gz);
	if (g.defl.raw_ok)
		deflateEnd(&g.defl.raw);
	ob_free(&g.xml);
	ob_free(&g.att);
	ob_free(&g.msg);
	ob_free(&g.path);
	free(g.doms);
	free(g.mbox_owned);
	if (g.domains_owned) {
		free(g.domains_owned);
		free(g.base_domains);
	}
	return 0;
}
