/*
 * aggregate_filter.c - decoding and lexical repair in front of expat (see
 * aggregate_filter.h for what it fixes and why).
 *
 * Data flow per push: input bytes -> sniff (first bytes only) -> decode into
 * f->w (valid UTF-8 containing only XML characters) -> lex f->w into f->o.
 * What the lexer cannot decide yet (a tag or entity cut by the end of the
 * slice) stays at the front of f->w for the next push; the current text run
 * (text since the last tag, at most HOLD_TEXT bytes) stays in f->o so that a
 * following end tag can still repair it.  Everything is O(n) in the input;
 * each byte is looked at a bounded number of times (a held tag is rescanned
 * once per push, and it is at most MAX_TAG bytes).
 *
 * Ownership: the filter owns its buffers; *out points into f->o.
 */
#include <errno.h>
#include <stdarg.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "parse/aggregate_filter.h"

#define MAX_TAG (64 * 1024)     /* longest tag we wait for */
#define MAX_NAME 1024           /* longest element name */
#define HOLD_TEXT 4096          /* longest text run kept for repairs */
#define SNIFF_MAX 1024          /* bytes looked at for <?xml encoding= */
#define NOHOLD ((size_t)-1)
#define MAX_PENDING 32          /* one-off warnings kept */

struct fbuf {
	char *p;
	size_t len, cap;
};

enum filter_enc {
	ENC_UNKNOWN, ENC_UTF8, ENC_UTF16LE, ENC_UTF16BE, ENC_TABLE, ENC_ICONV
};
enum filter_lex { LX_TEXT, LX_COMMENT, LX_PI, LX_CDATA };

struct aggregate_filter {
	unsigned max_depth;
	aggregate_filter_warn_fn warn;
	void *ctx;

	/* decoding */
	enum filter_enc enc;
	struct fbuf head;               /* bytes held while sniffing */
	unsigned char carry[8];         /* incomplete sequence at slice end */
	size_t ncarry;
	uint32_t hi;                    /* pending UTF-16 high surrogate */
	uint32_t table[256];            /* single-byte encodings */
	iconv_t cd;                     /* multi-byte encodings, to UTF-32LE */
	char enc_name[24];              /* its iconv name, for the warning */
	struct fbuf join;               /* carried bytes + a slice (iconv) */

	/* lexing */
	struct fbuf w;                  /* decoded, not yet lexed */
	struct fbuf o;                  /* repaired output */
	const char *span;               /* verbatim output not yet in o */
	size_t span_len;                /* (follows o; see filter_out) */
	size_t hold_from;               /* o[hold_from..] kept for next push */
	size_t text_start;              /* current text run in o, or NOHOLD */
	enum filter_lex lex;
	int cdata_emit;                 /* current CDATA section is emitted */
	int root_open, root_done, skipping, saw_element, nonblank;

	/* open elements: names back to back in names, offsets in off */
	struct fbuf names;
	size_t *off;
	unsigned depth;

	/* repairs, reported by aggregate_filter_summary() */
	unsigned long long n_enc;       /* bytes invalid in f->enc_name */
	unsigned long long n_utf8, n_ctrl, n_lt, n_amp, n_attr;
	unsigned long long n_stray_close, n_autoclose;
	int junk_before, junk_after;
	char first_stray[64], first_autoclose[64];
	struct fbuf pending;            /* messages, NUL-separated */
	unsigned n_pending;
};

/* ---- buffers -------------------------------------------------------- */

static void
fbuf_reserve(struct fbuf *b, size_t extra)
{
	size_t want;

	if (b->cap - b->len >= extra)
		return;
	want = b->cap ? b->cap : 4096;
	while (want - b->len < extra)
		want *= 2;
	b->p = xrealloc(b->p, want);
	b->cap = want;
}

static void
fbuf_put(struct fbuf *b, const char *s, size_t n)
{
	if (n == 0)
		return;
	fbuf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
fbuf_free(struct fbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/*
 * Output.  The repaired text is o followed by a pending span: bytes of the
 * lexer's source that go out unchanged are not copied at once but only
 * noted (span), and consecutive ones are merged, so that a clean document
 * is handed to expat straight from the caller's buffer (see
 * aggregate_filter_push).  Anything else flushes the span into o first.
 * Offsets into the output (text_start, hold_from) count o then span.
 */
static size_t
filter_olen(const struct aggregate_filter *f)
{
	return f->o.len + f->span_len;
}

static void
filter_flush(struct aggregate_filter *f)
{
	if (f->span_len > 0)
		fbuf_put(&f->o, f->span, f->span_len);
	f->span = NULL;
	f->span_len = 0;
}

/* s[0..n) of the lexer's source goes out unchanged. */
static void
filter_out(struct aggregate_filter *f, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (f->span != NULL && f->span + f->span_len == s) {
		f->span_len += n;
		return;
	}
	filter_flush(f);
	f->span = s;
	f->span_len = n;
}

/* Bytes that are not the source's (escapes, rebuilt tags). */
static void
filter_lit(struct aggregate_filter *f, const char *s, size_t n)
{
	filter_flush(f);
	fbuf_put(&f->o, s, n);
}

/* ---- warnings ------------------------------------------------------- */

static void
filter_warnf(struct aggregate_filter *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
filter_warnf(struct aggregate_filter *f, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	/*
	 * Held until aggregate_filter_summary(): how far the filter runs
	 * ahead of expat depends on slicing, so emitting now would make the
	 * order of warnings depend on it.
	 */
	if (f->n_pending >= MAX_PENDING) {
		f->n_pending++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fbuf_put(&f->pending, msg, strlen(msg) + 1);
	f->n_pending++;
}

static void
filter_warn_now(struct aggregate_filter *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
filter_warn_now(struct aggregate_filter *f, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	f->warn(f->ctx, msg);
}

/* Copies a name for a message, cut to fit. */
static void
filter_keep_name(char *dst, size_t dstlen, const char *s, size_t n)
{
	if (dst[0] != '\0')
		return;
	if (n >= dstlen)
		n = dstlen - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* ---- decoding ------------------------------------------------------- */

static const uint16_t cp1252_high[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

/* Appends cp as UTF-8; characters XML forbids become U+FFFD. */
static char *
filter_put_cp(struct aggregate_filter *f, char *d, uint32_t cp)
{
	if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp == 0xfffe || cp == 0xffff ||
	    cp > 0x10ffff) {
		f->n_ctrl++;
		cp = 0xfffd;
	}
	if (cp < 0x80) {
		*d++ = (char)cp;
	} else if (cp < 0x800) {
		*d++ = (char)(0xc0 | (cp >> 6));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (char)(0xe0 | (cp >> 12));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (char)(0xf0 | (cp >> 18));
		*d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*d++ = (char)(0x80 | (cp & 0x3f));
	}
	return d;
}

/*
 * One UTF-8 sequence at s[0..n).  Returns 1 (valid; *cp, *adv), 0 (invalid;
 * *adv = length of the maximal valid prefix, at least 1) or -1 (a valid
 * prefix cut by the end of the buffer).  Follows Unicode table 3-7, so
 * overlong forms and surrogates are invalid.
 */
static int
filter_utf8_one(const unsigned char *s, size_t n, uint32_t *cp, size_t *adv)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;
	uint32_t v;

	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		*adv = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= n) {
			*adv = i;
			return -1;
		}
		if (s[i] < lo || s[i] > hi) {
			*adv = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
		v = (v << 6) | (s[i] & 0x3f);
	}
	*cp = v;
	*adv = need + 1;
	return 1;
}

static int
filter_xml_ascii(unsigned char c)
{
	return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
}

/* Decodes UTF-8 from s[0..n) into d; returns the new end; keeps a cut tail. */
static char *
filter_dec_utf8(struct aggregate_filter *f, const unsigned char *s, size_t n,
    int final, char *d)
{
	size_t i = 0, adv;
	uint32_t cp;
	int r;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] < 0x80 && filter_xml_ascii(s[j]))
			j++;
		if (j > i) {
			memcpy(d, s + i, j - i);
			d += j - i;
			i = j;
			if (i == n)
				break;
		}
		if (s[i] < 0x80) {              /* control character */
			d = filter_put_cp(f, d, s[i]);
			i++;
			continue;
		}
		r = filter_utf8_one(s + i, n - i, &cp, &adv);
		if (r == 1) {
			d = filter_put_cp(f, d, cp);
		} else if (r < 0 && !final) {
			memcpy(f->carry, s + i, n - i);
			f->ncarry = n - i;
			return d;
		} else {
			f->n_utf8++;
			d = filter_put_cp(f, d, 0xfffd);
		}
		i += adv;
	}
	return d;
}

static char *
filter_dec_utf16(struct aggregate_filter *f, const unsigned char *s, size_t n,
    int final, char *d)
{
	size_t i;
	int be = f->enc == ENC_UTF16BE;

	for (i = 0; i + 1 < n; i += 2) {
		uint32_t u = be ? (uint32_t)(s[i] << 8 | s[i + 1]) :
		    (uint32_t)(s[i + 1] << 8 | s[i]);

		if (f->hi != 0) {
			if (u >= 0xdc00 && u <= 0xdfff) {
				d = filter_put_cp(f, d, 0x10000 +
				    ((f->hi - 0xd800) << 10) + (u - 0xdc00));
				f->hi = 0;
				continue;
			}
			f->n_utf8++;
			d = filter_put_cp(f, d, 0xfffd);
			f->hi = 0;
		}
		if (u >= 0xd800 && u <= 0xdbff) {
			f->hi = u;
			continue;
		}
		if (u >= 0xdc00 && u <= 0xdfff) {
			f->n_utf8++;
			u = 0xfffd;
		}
		d = filter_put_cp(f, d, u);
	}
	if (i < n) {
		if (final) {
			f->n_utf8++;
			d = filter_put_cp(f, d, 0xfffd);
		} else {
			f->carry[0] = s[i];
			f->ncarry = 1;
		}
	}
	if (final && f->hi != 0) {
		f->n_utf8++;
		d = filter_put_cp(f, d, 0xfffd);
		f->hi = 0;
	}
	return d;
}

/*
 * Multi-byte encodings through iconv (to UTF-32LE, so every character then
 * goes through filter_put_cp like the others).  A sequence cut by the end
 * of the slice is carried to the next one; a byte iconv refuses becomes
 * U+FFFD (counted; one warning in the summary) and decoding resumes at the
 * next byte; an incomplete sequence at the very end becomes one U+FFFD.
 */
static char *
filter_dec_iconv(struct aggregate_filter *f, const unsigned char *in,
    size_t n, int final, char *d)
{
	unsigned char u[1024];
	char *ip, *op;
	size_t il, ol, got, i;

	if (f->ncarry > 0) {
		f->join.len = 0;
		fbuf_put(&f->join, (const char *)f->carry, f->ncarry);
		fbuf_put(&f->join, (const char *)in, n);
		in = (const unsigned char *)f->join.p;
		n = f->join.len;
		f->ncarry = 0;
	}
	ip = (char *)(uintptr_t)in;
	il = n;
	for (;;) {
		size_t r;
		int e;

		op = (char *)u;
		ol = sizeof(u);
		if (il > 0)
			r = iconv(f->cd, &ip, &il, &op, &ol);
		else if (final)
			r = iconv(f->cd, NULL, NULL, &op, &ol);  /* shift back */
		else
			break;
		e = errno;
		got = (sizeof(u) - ol) / 4;
		for (i = 0; i < got; i++)
			d = filter_put_cp(f, d, (uint32_t)u[4 * i] |
			    (uint32_t)u[4 * i + 1] << 8 |
			    (uint32_t)u[4 * i + 2] << 16 |
			    (uint32_t)u[4 * i + 3] << 24);
		if (r != (size_t)-1) {
			if (il == 0)
				break;
			continue;
		}
		if (e == E2BIG)
			continue;
		if (e == EINVAL && !final && il < sizeof(f->carry)) {
			memcpy(f->carry, ip, il);
			f->ncarry = il;
			break;
		}
		/* EILSEQ, or a sequence the input ends inside */
		f->n_enc++;
		d = filter_put_cp(f, d, 0xfffd);
		if (e == EINVAL) {
			il = 0;
			continue;
		}
		ip++;
		il--;
	}
	return d;
}

/* Decodes in[0..n) (after any carried bytes) and appends to f->w. */
static void
filter_decode(struct aggregate_filter *f, const unsigned char *in, size_t n,
    int final)
{
	char *d;
	size_t i;

	fbuf_reserve(&f->w, 4 * (n + f->ncarry) + 16);
	d = f->w.p + f->w.len;
	switch (f->enc) {
	case ENC_ICONV:
		d = filter_dec_iconv(f, in, n, final, d);
		break;
	case ENC_TABLE:
		for (i = 0; i < n; i++)
			d = filter_put_cp(f, d, f->table[in[i]]);
		break;
	case ENC_UTF16LE:
	case ENC_UTF16BE:
		if (f->ncarry > 0 && n > 0) {
			unsigned char two[2] = { f->carry[0], in[0] };

			f->ncarry = 0;
			d = filter_dec_utf16(f, two, 2, 0, d);
			in++;
			n--;
		}
		d = filter_dec_utf16(f, in, n, final, d);
		break;
	default:
		/* Complete a sequence cut at the previous slice end. */
		while (f->ncarry > 0 && (n > 0 || final)) {
			unsigned char tmp[8];
			size_t k = 4 - f->ncarry, adv, have;
			uint32_t cp;
			int r;

			if (k > n)
				k = n;
			memcpy(tmp, f->carry, f->ncarry);
			if (k > 0)
				memcpy(tmp + f->ncarry, in, k);
			have = f->ncarry + k;
			r = filter_utf8_one(tmp, have, &cp, &adv);
			if (r < 0 && !final) {
				memcpy(f->carry, tmp, have);
				f->ncarry = have;
				in += k;
				n -= k;
				break;
			}
			if (r == 1) {
				d = filter_put_cp(f, d, cp);
			} else {
				f->n_utf8++;
				d = filter_put_cp(f, d, 0xfffd);
			}
			if (adv >= f->ncarry) {
				in += adv - f->ncarry;
				n -= adv - f->ncarry;
				f->ncarry = 0;
			} else {
				memmove(f->carry, f->carry + adv,
				    f->ncarry - adv);
				f->ncarry -= adv;
			}
		}
		if (f->ncarry == 0)
			d = filter_dec_utf8(f, in, n, final, d);
		break;
	}
	f->w.len = (size_t)(d - f->w.p);
}

/* Character classes of the lexer (names are ASCII only: see below). */
#define FC_START 1       /* may start a name */
#define FC_NAME  2       /* may continue one */
#define FC_SPACE 4
#define FC_AZ(c) [c] = FC_START | FC_NAME
static const unsigned char filter_class[256] = {
	FC_AZ('a'), FC_AZ('b'), FC_AZ('c'), FC_AZ('d'), FC_AZ('e'), FC_AZ('f'),
	FC_AZ('g'), FC_AZ('h'), FC_AZ('i'), FC_AZ('j'), FC_AZ('k'), FC_AZ('l'),
	FC_AZ('m'), FC_AZ('n'), FC_AZ('o'), FC_AZ('p'), FC_AZ('q'), FC_AZ('r'),
	FC_AZ('s'), FC_AZ('t'), FC_AZ('u'), FC_AZ('v'), FC_AZ('w'), FC_AZ('x'),
	FC_AZ('y'), FC_AZ('z'),
	FC_AZ('A'), FC_AZ('B'), FC_AZ('C'), FC_AZ('D'), FC_AZ('E'), FC_AZ('F'),
	FC_AZ('G'), FC_AZ('H'), FC_AZ('I'), FC_AZ('J'), FC_AZ('K'), FC_AZ('L'),
	FC_AZ('M'), FC_AZ('N'), FC_AZ('O'), FC_AZ('P'), FC_AZ('Q'), FC_AZ('R'),
	FC_AZ('S'), FC_AZ('T'), FC_AZ('U'), FC_AZ('V'), FC_AZ('W'), FC_AZ('X'),
	FC_AZ('Y'), FC_AZ('Z'), FC_AZ('_'), FC_AZ(':'),
	['0'] = FC_NAME, ['1'] = FC_NAME, ['2'] = FC_NAME, ['3'] = FC_NAME,
	['4'] = FC_NAME, ['5'] = FC_NAME, ['6'] = FC_NAME, ['7'] = FC_NAME,
	['8'] = FC_NAME, ['9'] = FC_NAME, ['-'] = FC_NAME, ['.'] = FC_NAME,
	[' '] = FC_SPACE, ['\t'] = FC_SPACE, ['\r'] = FC_SPACE, ['\n'] = FC_SPACE,
};
#undef FC_AZ

static int
filter_is_space(unsigned char c)
{
	return filter_class[c] & FC_SPACE;
}

/* Builds f->table for a single-byte encoding iconv knows; -1 if none. */
static int
filter_iconv_table(struct aggregate_filter *f, const char *label, char *err,
    size_t errlen)
{
	iconv_t cd = iconv_open("UTF-32LE", label);
	unsigned b;

	if (cd == (iconv_t)-1) {
		snprintf(err, errlen, "unsupported encoding \"%s\"", label);
		return -1;
	}
	for (b = 0; b < 256; b++) {
		char in[1] = { (char)b }, out[16];
		char *ip = in, *op = out;
		size_t il = 1, ol = sizeof(out);

		iconv(cd, NULL, NULL, NULL, NULL);
		if (iconv(cd, &ip, &il, &op, &ol) == (size_t)-1) {
			if (errno == EINVAL) {
				iconv_close(cd);
				snprintf(err, errlen, "unsupported multi-byte "
				    "encoding \"%s\"", label);
				return -1;
			}
			f->table[b] = 0xfffd;
			continue;
		}
		if (sizeof(out) - ol != 4) {
			f->table[b] = 0xfffd;
			continue;
		}
		f->table[b] = (uint32_t)(unsigned char)out[0] |
		    (uint32_t)(unsigned char)out[1] << 8 |
		    (uint32_t)(unsigned char)out[2] << 16 |
		    (uint32_t)(unsigned char)out[3] << 24;
	}
	iconv_close(cd);
	/* Markup must read the same as in ASCII. */
	for (b = 0x20; b < 0x7f; b++) {
		if (f->table[b] != b && b != '\\' && b != '~') {
			snprintf(err, errlen, "unsupported encoding \"%s\" "
			    "(not ASCII-compatible)", label);
			return -1;
		}
	}
	f->table['\t'] = '\t';
	f->table['\n'] = '\n';
	f->table['\r'] = '\r';
	return 0;
}

static void
filter_cp1252(struct aggregate_filter *f)
{
	unsigned b;

	for (b = 0; b < 256; b++)
		f->table[b] = b;
	for (b = 0; b < 32; b++)
		f->table[0x80 + b] = cp1252_high[b];
}

/*
 * Multi-byte encodings read through iconv: declared labels (lower case,
 * WHATWG names and aliases) -> the glibc converter, each the superset
 * that decoders in browsers use for the label.
 */
static const struct {
	const char *label, *conv;
} filter_multibyte[] = {
	{ "shift_jis", "CP932" }, { "shift-jis", "CP932" },
	{ "sjis", "CP932" }, { "x-sjis", "CP932" }, { "ms_kanji", "CP932" },
	{ "csshiftjis", "CP932" }, { "windows-31j", "CP932" },
	{ "cp932", "CP932" }, { "ms932", "CP932" }, { "x-ms-cp932", "CP932" },
	{ "euc-jp", "EUC-JP" }, { "eucjp", "EUC-JP" },
	{ "x-euc-jp", "EUC-JP" }, { "cseucpkdfmtjapanese", "EUC-JP" },
	{ "iso-2022-jp", "ISO-2022-JP" }, { "csiso2022jp", "ISO-2022-JP" },
	{ "gb18030", "GB18030" }, { "gbk", "GB18030" },
	{ "gb2312", "GB18030" }, { "csgb2312", "GB18030" },
	{ "euc-cn", "GB18030" }, { "x-gbk", "GB18030" },
	{ "cp936", "GB18030" }, { "ms936", "GB18030" },
	{ "windows-936", "GB18030" }, { "chinese", "GB18030" },
	{ "gb_2312", "GB18030" }, { "gb_2312-80", "GB18030" },
	{ "big5", "BIG5-HKSCS" }, { "big5-hkscs", "BIG5-HKSCS" },
	{ "cn-big5", "BIG5-HKSCS" }, { "csbig5", "BIG5-HKSCS" },
	{ "x-x-big5", "BIG5-HKSCS" },
	{ "euc-kr", "CP949" }, { "cseuckr", "CP949" },
	{ "ks_c_5601-1987", "CP949" }, { "ks_c_5601-1989", "CP949" },
	{ "ksc5601", "CP949" }, { "ksc_5601", "CP949" },
	{ "csksc56011987", "CP949" }, { "iso-ir-149", "CP949" },
	{ "korean", "CP949" }, { "windows-949", "CP949" },
	{ "cp949", "CP949" },
};

/* Reads the rest of the input with iconv from `conv`; -1 with err. */
static int
filter_use_iconv(struct aggregate_filter *f, const char *conv, char *err,
    size_t errlen)
{
	if (f->cd != (iconv_t)-1)
		iconv_close(f->cd);
	f->cd = iconv_open("UTF-32LE", conv);
	if (f->cd == (iconv_t)-1) {
		snprintf(err, errlen, "unsupported encoding \"%s\" (no "
		    "converter on this system)", conv);
		return -1;
	}
	snprintf(f->enc_name, sizeof(f->enc_name), "%s", conv);
	f->enc = ENC_ICONV;
	return 0;
}

/* Picks f->enc from a declared label; -1 with err when unsupported. */
static int
filter_set_label(struct aggregate_filter *f, const char *label, char *err,
    size_t errlen)
{
	static const char *const latin[] = {
		"windows-1252", "cp1252", "x-cp1252", "iso-8859-1",
		"iso8859-1", "iso_8859-1", "latin1", "latin-1", "l1",
		"cp819", "ibm819", "iso-ir-100", NULL
	};
	size_t i;

	if (strcmp(label, "utf-8") == 0 || strcmp(label, "utf8") == 0 ||
	    strcmp(label, "us-ascii") == 0 || strcmp(label, "ascii") == 0) {
		f->enc = ENC_UTF8;
		return 0;
	}
	for (i = 0; latin[i] != NULL; i++) {
		if (strcmp(label, latin[i]) == 0) {
			/* Like browsers: Latin-1 labels mean windows-1252. */
			filter_cp1252(f);
			f->enc = ENC_TABLE;
			return 0;
		}
	}
	for (i = 0; i < sizeof(filter_multibyte) / sizeof(filter_multibyte[0]);
	    i++)
		if (strcmp(label, filter_multibyte[i].label) == 0)
			return filter_use_iconv(f, filter_multibyte[i].conv, err,
			    errlen);
	if (strncmp(label, "utf-16", 6) == 0 ||
	    strncmp(label, "utf-32", 6) == 0 ||
	    strncmp(label, "ucs-4", 5) == 0 ||
	    strncmp(label, "ucs-2", 5) == 0) {
		filter_warnf(f, "encoding \"%s\" declared on 8-bit input; "
		    "read as UTF-8", label);
		f->enc = ENC_UTF8;
		return 0;
	}
	if (filter_iconv_table(f, label, err, errlen) < 0)
		return -1;
	f->enc = ENC_TABLE;
	return 0;
}

/*
 * Looks at the held first bytes.  Returns 1 when the encoding is known (and
 * *skip = BOM length), 0 when more bytes are needed, -1 on refusal.
 */
static int
filter_sniff(struct aggregate_filter *f, const unsigned char *b, size_t n,
    int final, size_t *skip, char *err, size_t errlen)
{
	size_t i, end;
	char label[48];
	const char *decl, *e;

	*skip = 0;
	if (n < 4 && !final)
		return 0;
	if (n >= 3 && b[0] == 0xef && b[1] == 0xbb && b[2] == 0xbf) {
		*skip = 3;
		f->enc = ENC_UTF8;
		return 1;
	}
	if (n >= 4 && ((b[0] == 0xff && b[1] == 0xfe && !b[2] && !b[3]) ||
	    (b[0] != 0 && !b[1] && !b[2] && !b[3]))) {
		*skip = b[0] == 0xff ? 4 : 0;
		return filter_use_iconv(f, "UTF-32LE", err, errlen) < 0 ? -1 : 1;
	}
	if (n >= 4 && ((!b[0] && !b[1] && b[2] == 0xfe && b[3] == 0xff) ||
	    (!b[0] && !b[1] && !b[2] && b[3] != 0))) {
		*skip = b[2] == 0xfe ? 4 : 0;
		return filter_use_iconv(f, "UTF-32BE", err, errlen) < 0 ? -1 : 1;
	}
	if (n >= 2 && b[0] == 0xfe && b[1] == 0xff) {
		*skip = 2;
		f->enc = ENC_UTF16BE;
		return 1;
	}
	if (n >= 2 && b[0] == 0xff && b[1] == 0xfe) {
		*skip = 2;
		f->enc = ENC_UTF16LE;
		return 1;
	}
	if (n >= 2 && b[0] == 0 && b[1] != 0) {
		f->enc = ENC_UTF16BE;
		return 1;
	}
	if (n >= 2 && b[0] != 0 && b[1] == 0) {
		f->enc = ENC_UTF16LE;
		return 1;
	}
	if (n > SNIFF_MAX)
		n = SNIFF_MAX;       /* same decision whatever the slicing */
	for (i = 0; i < n && filter_is_space(b[i]); i++)
		;
	if (n - i < 5 && !final && n < SNIFF_MAX)
		return 0;
	if (n - i < 5 || memcmp(b + i, "<?xml", 5) != 0) {
		f->enc = ENC_UTF8;
		return 1;
	}
	decl = (const char *)b + i;
	e = memmem(decl, n - i, "?>", 2);
	if (e == NULL) {
		if (!final && n < SNIFF_MAX)
			return 0;
		e = (const char *)b + n;
	}
	end = (size_t)(e - decl);
	f->enc = ENC_UTF8;
	for (i = 5; i + 8 < end; i++) {
		size_t j, k;
		char q;

		if (memcmp(decl + i, "encoding", 8) != 0)
			continue;
		j = i + 8;
		while (j < end && filter_is_space((unsigned char)decl[j]))
			j++;
		if (j >= end || decl[j] != '=')
			continue;
		j++;
		while (j < end && filter_is_space((unsigned char)decl[j]))
			j++;
		if (j >= end || (decl[j] != '"' && decl[j] != '\''))
			continue;
		q = decl[j++];
		for (k = 0; j < end && decl[j] != q; j++, k++) {
			char c = decl[j];

			if (k + 1 >= sizeof(label) || !(
			    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			    c == '.' || c == ':')) {
				snprintf(err, errlen, "unsupported encoding "
				    "(bad encoding name in XML declaration)");
				return -1;
			}
			label[k] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		label[k] = '\0';
		if (filter_set_label(f, label, err, errlen) < 0)
			return -1;
		break;
	}
	return 1;
}

/* ---- lexing --------------------------------------------------------- */

/*
 * Names are ASCII only: every DMARC element and extension seen is, and
 * expat's tables for non-ASCII name characters differ from XML 1.0 5th
 * edition; a tag whose name we would pass but expat refuses would cost a
 * resynchronisation.  Anything else reads as text.
 */

static int
filter_name_start(unsigned char c)
{
	return filter_class[c] & FC_START;
}

static int
filter_name_char(unsigned char c)
{
	return filter_class[c] & FC_NAME;
}

/* Local part of a qualified name. */
static void
filter_local(const char *s, size_t n, const char **l, size_t *ln)
{
	const char *c = memrchr(s, ':', n);

	if (c == NULL) {
		*l = s;
		*ln = n;
	} else {
		*l = c + 1;
		*ln = n - (size_t)(c + 1 - s);
	}
}

static const char *
filter_stack_name(const struct aggregate_filter *f, unsigned i, size_t *n)
{
	size_t end = i + 1 < f->depth ? f->off[i + 1] : f->names.len;

	*n = end - f->off[i];
	return f->names.p + f->off[i];
}

static void
filter_push(struct aggregate_filter *f, const char *name, size_t n)
{
	f->off[f->depth++] = f->names.len;
	fbuf_put(&f->names, name, n);
}

static void
filter_pop(struct aggregate_filter *f)
{
	f->depth--;
	f->names.len = f->off[f->depth];
}

static void
filter_emit_close(struct aggregate_filter *f, const char *name, size_t n)
{
	filter_flush(f);
	fbuf_reserve(&f->o, n + 3);
	fbuf_put(&f->o, "</", 2);
	fbuf_put(&f->o, name, n);
	fbuf_put(&f->o, ">", 1);
}

/* Text (or an escape standing for text) at the current position. */
static void
filter_text(struct aggregate_filter *f, const char *s, size_t n)
{
	size_t i;

	if (f->skipping)
		return;
	if (!f->root_open) {
		for (i = 0; i < n; i++) {
			if (!filter_is_space((unsigned char)s[i])) {
				f->nonblank = 1;
				if (f->root_done)
					f->junk_after = 1;
				else
					f->junk_before = 1;
				break;
			}
		}
		return;
	}
	filter_out(f, s, n);
}

/* Like filter_text, for an escape that is not in the source. */
static void
filter_text_lit(struct aggregate_filter *f, const char *s, size_t n)
{
	if (f->skipping)
		return;
	if (!f->root_open) {
		filter_text(f, s, n);
		return;
	}
	filter_lit(f, s, n);
}

/*
 * Length of a valid entity or character reference at s (s[0] == '&'), 0
 * when it is not one, -1 when more bytes are needed to tell.
 */
static int
filter_entity(const char *s, size_t n, int final)
{
	static const char *const known[] = { "lt;", "gt;", "amp;", "quot;",
		"apos;" };
	size_t i, k;
	uint32_t v = 0;

	if (n < 2)
		return final ? 0 : -1;
	if (s[1] == '#') {
		int hex = n > 2 && s[2] == 'x';

		for (i = hex ? 3 : 2; i < n && i < 12; i++) {
			char c = s[i];
			int d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else if (c == ';')
				break;
			else
				return 0;
			v = v * (hex ? 16 : 10) + (uint32_t)d;
		}
		if (i >= n)
			return final ? 0 : -1;
		if (s[i] != ';' || i == (hex ? 3u : 2u))
			return 0;
		if (!(v == 9 || v == 10 || v == 13 || (v >= 0x20 && v <= 0xd7ff)
		    || (v >= 0xe000 && v <= 0xfffd) ||
		    (v >= 0x10000 && v <= 0x10ffff)))
			return 0;
		return (int)i + 1;
	}
	for (k = 0; k < 5; k++) {
		size_t len = strlen(known[k]), m = n - 1 < len ? n - 1 : len;

		if (memcmp(s + 1, known[k], m) == 0) {
			if (m == len)
				return (int)len + 1;
			return final ? 0 : -1;
		}
	}
	return 0;
}

/*
 * An end tag that matches no open element.  If the current text run reads
 * "NAME>value" (a start tag that lost its '<', seen from KDDI), restore it.
 */
static int
filter_repair_start(struct aggregate_filter *f, const char *name, size_t n)
{
	size_t t = f->text_start, ws, v, vlen;
	char *o;

	/* Same bound as the hold, so the outcome never depends on where
	 * the input was cut into pieces. */
	if (t == NOHOLD || !f->root_open || filter_olen(f) - t > HOLD_TEXT)
		return 0;
	filter_flush(f);
	o = f->o.p;
	for (ws = t; ws < f->o.len && filter_is_space((unsigned char)o[ws]);
	    ws++)
		;
	if (f->o.len - ws < n + 4 || memcmp(o + ws, name, n) != 0 ||
	    memcmp(o + ws + n, "&gt;", 4) != 0)
		return 0;
	v = ws + n + 4;
	vlen = f->o.len - v;
	/* "NAME&gt;" (n + 4 bytes) becomes "<NAME>" (n + 2 bytes). */
	o[ws] = '<';
	memmove(o + ws + 1, name, n);
	o[ws + 1 + n] = '>';
	memmove(o + ws + n + 2, o + v, vlen);
	f->o.len = ws + n + 2 + vlen;
	filter_emit_close(f, name, n);
	filter_warnf(f, "restored a start tag missing its '<': <%.*s>",
	    (int)(n > 64 ? 64 : n), name);
	return 1;
}

/*
 * An end tag for name[0..n); raw is the whole tag in the source when it
 * reads exactly "</name>" (else NULL), so that it can go out verbatim.
 */
static void
filter_end_tag(struct aggregate_filter *f, const char *name, size_t n,
    const char *raw)
{
	unsigned k;
	size_t tn, ln, tln;
	const char *tname, *l, *tl;
	int exact = 1;

	if (f->skipping)
		return;
	if (!f->root_open || f->depth == 0) {
		if (f->root_done)
			f->junk_after = 1;
		else
			f->junk_before = 1;
		return;
	}
	for (k = f->depth; k-- > 0;) {
		tname = filter_stack_name(f, k, &tn);
		if (tn == n && memcmp(tname, name, n) == 0)
			break;
	}
	if (k == (unsigned)-1) {
		/* <a:x> closed by </x> or </b:x>: same local name, accept. */
		tname = filter_stack_name(f, f->depth - 1, &tn);
		filter_local(name, n, &l, &ln);
		filter_local(tname, tn, &tl, &tln);
		if (ln == tln && memcmp(l, tl, ln) == 0) {
			k = f->depth - 1;
			exact = 0;
		} else if (filter_repair_start(f, name, n)) {
			f->text_start = filter_olen(f);
			return;
		} else {
			f->n_stray_close++;
			filter_keep_name(f->first_stray,
			    sizeof(f->first_stray), name, n);
			return;
		}
	}
	while (f->depth > k + 1) {
		tname = filter_stack_name(f, f->depth - 1, &tn);
		f->n_autoclose++;
		filter_keep_name(f->first_autoclose,
		    sizeof(f->first_autoclose), tname, tn);
		filter_emit_close(f, tname, tn);
		filter_pop(f);
	}
	tname = filter_stack_name(f, k, &tn);
	if (exact && raw != NULL)
		filter_out(f, raw, n + 3);
	else
		filter_emit_close(f, tname, tn);
	filter_pop(f);
	if (f->depth == 0) {
		f->root_open = 0;
		f->root_done = 1;
	}
	f->text_start = filter_olen(f);
}

#define MAX_ATTRS 32     /* more attributes than this: not a tag */

/* A start tag that passed filter_scan_start(). */
struct filter_tag {
	const char *s;          /* "<" ... ">" */
	size_t len, nlen;       /* whole tag, element name */
	int selfclose, rewrite;
	unsigned n_attrs;
	struct {
		size_t name, nlen, val, vlen;   /* offsets into s */
		int dup;
	} attr[MAX_ATTRS];
};

/* Attribute value with '<' and stray '&' escaped. */
static void
filter_put_value(struct aggregate_filter *f, const char *v, size_t n)
{
	size_t i, from = 0;

	for (i = 0; i < n; i++) {
		if (v[i] == '<') {
			filter_lit(f, v + from, i - from);
			filter_lit(f, "&lt;", 4);
			from = i + 1;
		} else if (v[i] == '&' && filter_entity(v + i, n - i, 1) <= 0) {
			filter_lit(f, v + from, i - from);
			filter_lit(f, "&amp;", 5);
			from = i + 1;
		}
	}
	filter_lit(f, v + from, n - from);
}

/*
 * Emits a start tag: verbatim when it is clean, else rebuilt with values
 * repaired and repeated attributes dropped (expat refuses both).
 */
static void
filter_emit_tag(struct aggregate_filter *f, const struct filter_tag *t)
{
	unsigned i;

	if (!t->rewrite) {
		filter_out(f, t->s, t->len);
		return;
	}
	f->n_attr++;
	filter_flush(f);
	fbuf_put(&f->o, t->s, t->nlen + 1);
	for (i = 0; i < t->n_attrs; i++) {
		if (t->attr[i].dup)
			continue;
		fbuf_put(&f->o, " ", 1);
		fbuf_put(&f->o, t->s + t->attr[i].name, t->attr[i].nlen);
		fbuf_put(&f->o, "=\"", 2);
		filter_put_value(f, t->s + t->attr[i].val, t->attr[i].vlen);
		fbuf_put(&f->o, "\"", 1);
	}
	fbuf_put(&f->o, t->selfclose ? "/>" : ">", t->selfclose ? 2 : 1);
}

static int
filter_start_tag(struct aggregate_filter *f, const struct filter_tag *t,
    char *err, size_t errlen)
{
	const char *name = t->s + 1, *l;
	size_t nlen = t->nlen, ln;

	if (f->skipping) {
		filter_local(name, nlen, &l, &ln);
		if (t->selfclose || ln != 6 || memcmp(l, "record", 6) != 0)
			return 0;
		f->skipping = 0;
		f->depth = 0;
		f->names.len = 0;
		f->root_open = 1;
		f->root_done = 0;
		filter_lit(f, "<feedback>", 10);
		filter_push(f, "feedback", 8);
	}
	if (f->root_done) {
		f->junk_after = 1;
		return 0;
	}
	if (!t->selfclose && f->depth + 1 > f->max_depth) {
		snprintf(err, errlen, "XML nesting deeper than max_xml_depth "
		    "(%u)", f->max_depth);
		return -1;
	}
	f->saw_element = 1;
	f->nonblank = 1;
	filter_emit_tag(f, t);
	if (t->selfclose) {
		if (f->depth == 0)
			f->root_done = 1;
	} else {
		filter_push(f, name, nlen);
		f->root_open = 1;
	}
	f->text_start = filter_olen(f);
	return 0;
}

enum { MK_NEED = 0, MK_STRAY = -2, MK_ERR = -1 };

/* Scans "<name attrs>" at s into t; returns MK_NEED, MK_STRAY or 1. */
static long
filter_scan_start(const char *s, size_t n, int final, struct filter_tag *t)
{
	size_t i = 1, a0, j;
	long more = (final || n >= MAX_TAG) ? MK_STRAY : MK_NEED;
	unsigned k;

	while (i < n && filter_name_char((unsigned char)s[i]))
		i++;
	t->s = s;
	t->nlen = i - 1;
	if (t->nlen > MAX_NAME)
		return MK_STRAY;
	t->selfclose = 0;
	t->rewrite = 0;
	t->n_attrs = 0;
	for (;;) {
		int ws = 0;
		char q;

		while (i < n && filter_is_space((unsigned char)s[i])) {
			i++;
			ws = 1;
		}
		if (i >= n)
			return more;
		if (s[i] == '>') {
			t->len = i + 1;
			return 1;
		}
		if (s[i] == '/') {
			if (i + 1 >= n)
				return more;
			if (s[i + 1] != '>')
				return MK_STRAY;
			t->selfclose = 1;
			t->len = i + 2;
			return 1;
		}
		if (!ws || !filter_name_start((unsigned char)s[i]) ||
		    t->n_attrs == MAX_ATTRS)
			return MK_STRAY;
		a0 = i;
		while (i < n && filter_name_char((unsigned char)s[i]))
			i++;
		k = t->n_attrs;
		t->attr[k].name = a0;
		t->attr[k].nlen = i - a0;
		t->attr[k].dup = 0;
		while (i < n && filter_is_space((unsigned char)s[i]))
			i++;
		if (i >= n)
			return more;
		if (s[i] != '=')
			return MK_STRAY;
		i++;
		while (i < n && filter_is_space((unsigned char)s[i]))
			i++;
		if (i >= n)
			return more;
		q = s[i];
		if (q != '"' && q != '\'')
			return MK_STRAY;
		t->attr[k].val = ++i;
		for (; i < n && s[i] != q; i++) {
			if (s[i] == '<' || (s[i] == '&' &&
			    filter_entity(s + i, n - i, 1) <= 0))
				t->rewrite = 1;
		}
		if (i >= n)
			return more;
		t->attr[k].vlen = i - t->attr[k].val;
		i++;
		/* At most MAX_ATTRS^2 / 2 short comparisons per tag. */
		for (j = 0; j < k; j++) {
			if (!t->attr[j].dup &&
			    t->attr[j].nlen == t->attr[k].nlen &&
			    memcmp(s + t->attr[j].name, s + a0,
			    t->attr[k].nlen) == 0) {
				t->attr[k].dup = 1;
				t->rewrite = 1;
				break;
			}
		}
		t->n_attrs++;
	}
}

/* Markup at s[0] == '<'.  Returns bytes consumed, MK_NEED, MK_STRAY, MK_ERR. */
static long
filter_markup(struct aggregate_filter *f, const char *s, size_t n, int final,
    char *err, size_t errlen)
{
	static const char comment[] = "<!--", cdata[] = "<![CDATA[",
		doctype[] = "<!DOCTYPE";
	long more;
	size_t i, nlen;
	struct filter_tag t;
	long len;

	/* Never look further than MAX_TAG, however much is buffered. */
	if (n > MAX_TAG)
		n = MAX_TAG;
	more = (final || n >= MAX_TAG) ? MK_STRAY : MK_NEED;
	if (n < 2)
		return final ? MK_STRAY : MK_NEED;
	switch (s[1]) {
	case '!':
		if (memcmp(s, comment, n < 4 ? n : 4) == 0) {
			if (n < 4)
				return more;
			f->lex = LX_COMMENT;
			return 4;
		}
		if (memcmp(s, cdata, n < 9 ? n : 9) == 0) {
			if (n < 9)
				return more;
			f->lex = LX_CDATA;
			f->cdata_emit = f->root_open && !f->skipping;
			if (f->cdata_emit) {
				filter_out(f, s, 9);
				f->text_start = NOHOLD;
			}
			return 9;
		}
		if (memcmp(s, doctype, n < 9 ? n : 9) == 0) {
			if (n < 9)
				return more;
			snprintf(err, errlen, "DTD not allowed");
			return MK_ERR;
		}
		return MK_STRAY;
	case '?':
		f->lex = LX_PI;
		return 2;
	case '/':
		for (i = 2; i < n && filter_name_char((unsigned char)s[i]); i++)
			;
		nlen = i - 2;
		if (nlen == 0 || !filter_name_start((unsigned char)s[2]) ||
		    nlen > MAX_NAME)
			return (i < n || final || n >= MAX_TAG) ?
			    MK_STRAY : MK_NEED;
		while (i < n && filter_is_space((unsigned char)s[i]))
			i++;
		if (i >= n)
			return more;
		if (s[i] != '>')
			return MK_STRAY;
		filter_end_tag(f, s + 2, nlen, i == 2 + nlen ? s : NULL);
		return (long)i + 1;
	default:
		if (!filter_name_start((unsigned char)s[1]))
			return MK_STRAY;
		len = filter_scan_start(s, n, final, &t);
		if (len <= 0)
			return len;
		if (filter_start_tag(f, &t, err, errlen) < 0)
			return MK_ERR;
		return (long)t.len;
	}
}

/* Finds the terminator of a comment, PI or CDATA; returns bytes to skip. */
static size_t
filter_until(const char *s, size_t n, const char *term, size_t tn, int *found)
{
	const char *e = memmem(s, n, term, tn);

	if (e != NULL) {
		*found = 1;
		return (size_t)(e - s) + tn;
	}
	*found = 0;
	return n >= tn - 1 ? n - (tn - 1) : 0;
}

static const unsigned char filter_special[256] = {
	['<'] = 1, ['&'] = 1, ['>'] = 1,
};

/*
 * Lexes s[0..n) (f->w, or the caller's input when it needed no decoding)
 * into the output; *used says how much was consumed: the rest is an
 * undecidable tail for the next push.  Returns 0 or -1 (err).
 */
static int
filter_lex(struct aggregate_filter *f, const char *s, size_t n, int final,
    size_t *used, char *err, size_t errlen)
{
	size_t p = 0, q;
	int found;
	long r;

	while (p < n) {
		switch (f->lex) {
		case LX_COMMENT:
		case LX_PI:
			q = filter_until(s + p, n - p,
			    f->lex == LX_PI ? "?>" : "-->",
			    f->lex == LX_PI ? 2 : 3, &found);
			p += q;
			if (!found)
				goto need;
			f->lex = LX_TEXT;
			continue;
		case LX_CDATA:
			q = filter_until(s + p, n - p, "]]>", 3, &found);
			if (f->cdata_emit)
				filter_out(f, s + p, q);
			p += q;
			if (!found)
				goto need;
			f->lex = LX_TEXT;
			continue;
		case LX_TEXT:
			break;
		}
		q = p;
		while (q < n && !filter_special[(unsigned char)s[q]])
			q++;
		if (q > p) {
			filter_text(f, s + p, q - p);
			p = q;
			continue;
		}
		if (s[p] == '>') {
			filter_text_lit(f, "&gt;", 4);
			p++;
			continue;
		}
		if (s[p] == '&') {
			int e = filter_entity(s + p, n - p, final);

			if (e < 0)
				goto need;
			if (e > 0) {
				filter_text(f, s + p, (size_t)e);
				p += (size_t)e;
			} else {
				if (f->root_open && !f->skipping)
					f->n_amp++;
				filter_text_lit(f, "&amp;", 5);
				p++;
			}
			continue;
		}
		/* Asked as if more could come, so a tag cut by the end of
		 * input is dropped rather than escaped into text. */
		r = filter_markup(f, s + p, n - p, 0, err, errlen);
		if (r == MK_ERR)
			return -1;
		if (r == MK_NEED && final) {
			filter_warnf(f, "input ends inside a tag");
			p = n;
			break;
		}
		if (r == MK_NEED)
			goto need;
		if (r == MK_STRAY) {
			if (f->root_open && !f->skipping)
				f->n_lt++;
			filter_text_lit(f, "&lt;", 4);
			p++;
			continue;
		}
		p += (size_t)r;
	}
need:
	if (final && p < n) {
		/* Only a cut comment/PI/CDATA tail can remain. */
		if (f->cdata_emit && f->lex == LX_CDATA)
			filter_out(f, s + p, n - p);
		p = n;
	}
	*used = p;
	return 0;
}

/* Lexes f->w; leaves the undecidable tail in f->w. */
static int
filter_lex_w(struct aggregate_filter *f, int final, char *err, size_t errlen)
{
	size_t used = 0;
	int r = filter_lex(f, f->w.p, f->w.len, final, &used, err, errlen);

	/* The span may point into w, which is about to move. */
	filter_flush(f);
	if (r < 0)
		return -1;
	memmove(f->w.p, f->w.p + used, f->w.len - used);
	f->w.len -= used;
	return 0;
}

/* ---- public --------------------------------------------------------- */

struct aggregate_filter *
aggregate_filter_new(unsigned max_depth, aggregate_filter_warn_fn warn,
    void *ctx)
{
	struct aggregate_filter *f = xcalloc(1, sizeof(*f));

	f->max_depth = max_depth ? max_depth : 1;
	f->warn = warn;
	f->ctx = ctx;
	f->off = xcalloc(f->max_depth + 2, sizeof(*f->off));
	f->text_start = NOHOLD;
	f->cd = (iconv_t)-1;
	return f;
}

void
aggregate_filter_free(struct aggregate_filter **fp)
{
	struct aggregate_filter *f = *fp;

	if (f == NULL)
		return;
	fbuf_free(&f->head);
	fbuf_free(&f->w);
	fbuf_free(&f->o);
	fbuf_free(&f->names);
	fbuf_free(&f->pending);
	fbuf_free(&f->join);
	if (f->cd != (iconv_t)-1)
		iconv_close(f->cd);
	free(f->off);
	free(f);
	*fp = NULL;
}

void
aggregate_filter_reset(struct aggregate_filter *f, unsigned max_depth,
    aggregate_filter_warn_fn warn, void *ctx)
{
	struct fbuf head = f->head, w = f->w, o = f->o, names = f->names;
	struct fbuf pending = f->pending, join = f->join;
	size_t *off = f->off;
	unsigned old_depth = f->max_depth;

	if (f->cd != (iconv_t)-1)
		iconv_close(f->cd);
	memset(f, 0, sizeof(*f));
	f->cd = (iconv_t)-1;
	f->join = join;
	f->join.len = 0;
	f->max_depth = max_depth ? max_depth : 1;
	f->warn = warn;
	f->ctx = ctx;
	if (f->max_depth != old_depth) {
		free(off);
		off = xcalloc(f->max_depth + 2, sizeof(*off));
	}
	f->off = off;
	f->head = head;
	f->w = w;
	f->o = o;
	f->names = names;
	f->pending = pending;
	f->head.len = f->w.len = f->o.len = 0;
	f->names.len = f->pending.len = 0;
	f->text_start = NOHOLD;
}

/* Moves the text run held back at the end of the last push to the front. */
static void
filter_unhold(struct aggregate_filter *f)
{
	size_t h = f->hold_from;

	if (h > 0 && h <= f->o.len) {
		memmove(f->o.p, f->o.p + h, f->o.len - h);
		f->o.len -= h;
		if (f->text_start != NOHOLD)
			f->text_start = f->text_start >= h ?
			    f->text_start - h : NOHOLD;
	} else if (h > f->o.len) {
		f->o.len = 0;
	}
	f->hold_from = 0;
}

/* Bytes that UTF-8 decoding copies unchanged when they stand alone. */
static const unsigned char filter_ascii_ok[256] = {
	['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [0x20 ... 0x7f] = 1,
};

/*
 * Length of the prefix of s[0..n) that filter_dec_utf8() would copy as it
 * is: XML characters in valid UTF-8, no sequence cut at the end.
 */
static size_t
filter_utf8_clean(const unsigned char *s, size_t n)
{
	size_t i = 0, adv;
	uint32_t cp;

	while (i < n) {
		/* Markup is ASCII: look at eight bytes per step. */
		while (i + 8 <= n && filter_ascii_ok[s[i]] &&
		    filter_ascii_ok[s[i + 1]] && filter_ascii_ok[s[i + 2]] &&
		    filter_ascii_ok[s[i + 3]] && filter_ascii_ok[s[i + 4]] &&
		    filter_ascii_ok[s[i + 5]] && filter_ascii_ok[s[i + 6]] &&
		    filter_ascii_ok[s[i + 7]])
			i += 8;
		if (i >= n)
			break;
		if (filter_ascii_ok[s[i]]) {
			i++;
			continue;
		}
		if (s[i] < 0x80)
			return i;
		if (filter_utf8_one(s + i, n - i, &cp, &adv) != 1 ||
		    cp == 0xfffe || cp == 0xffff)
			return i;
		i += adv;
	}
	return i;
}

static int
filter_run(struct aggregate_filter *f, const void *in, size_t len, int final,
    char *err, size_t errlen)
{
	const unsigned char *src = in;
	size_t n = len, skip, used;
	int r;

	if (f->enc == ENC_UNKNOWN) {
		if (f->head.len == 0) {
			r = filter_sniff(f, src, n, final, &skip, err, errlen);
			if (r == 0)
				fbuf_put(&f->head, in, len);
		} else {
			fbuf_put(&f->head, in, len);
			src = (const unsigned char *)f->head.p;
			n = f->head.len;
			r = filter_sniff(f, src, n, final, &skip, err, errlen);
		}
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		/* head (if used) stays untouched until the next push */
		f->head.len = 0;
		src += skip;
		n -= skip;
	}
	if (f->enc == ENC_UTF8 && f->ncarry == 0 && f->w.len == 0 &&
	    filter_utf8_clean(src, n) == n) {
		/* Nothing to decode: lex the input where it is. */
		if (filter_lex(f, (const char *)src, n, final, &used, err,
		    errlen) < 0)
			return -1;
		fbuf_put(&f->w, (const char *)src + used, n - used);
		return 0;
	}
	filter_decode(f, src, n, final);
	return filter_lex_w(f, final, err, errlen);
}

int
aggregate_filter_push(struct aggregate_filter *f, const void *in, size_t len,
    const char **out, size_t *outlen, char *err, size_t errlen)
{
	size_t olen, h;

	filter_unhold(f);
	if (filter_run(f, in, len, 0, err, errlen) < 0) {
		/* Hand over what came before the problem all the same. */
		filter_flush(f);
		*out = f->o.p != NULL ? f->o.p : "";
		*outlen = f->o.len;
		f->hold_from = f->o.len;
		return -1;
	}
	/* Keep a short text run back so that an end tag can still fix it. */
	olen = filter_olen(f);
	if (f->root_open && !f->skipping && f->text_start != NOHOLD &&
	    olen - f->text_start <= HOLD_TEXT) {
		f->hold_from = f->text_start;
	} else {
		f->hold_from = olen;
		f->text_start = NOHOLD;
	}
	if (f->span_len > 0 && f->o.len == 0) {
		/*
		 * Everything going out is the caller's bytes as they are:
		 * hand them over without a copy; only the held text run is
		 * copied, for the next push.
		 */
		h = f->hold_from;
		*out = f->span;
		*outlen = h;
		fbuf_put(&f->o, f->span + h, f->span_len - h);
		f->span = NULL;
		f->span_len = 0;
		if (f->text_start != NOHOLD)
			f->text_start -= h;
		f->hold_from = 0;
		return 0;
	}
	filter_flush(f);
	*out = f->o.p != NULL ? f->o.p : "";
	*outlen = f->hold_from;
	return 0;
}

int
aggregate_filter_finish(struct aggregate_filter *f, const char **out,
    size_t *outlen, size_t *closes_at, char *err, size_t errlen)
{
	size_t n;
	const char *name;
	int r;

	filter_unhold(f);
	r = filter_run(f, "", 0, 1, err, errlen);
	filter_flush(f);
	if (r < 0)
		return -1;
	if (f->lex == LX_COMMENT || f->lex == LX_PI) {
		filter_warnf(f, "input ends inside a %s",
		    f->lex == LX_PI ? "processing instruction" : "comment");
	} else if (f->lex == LX_CDATA) {
		filter_warnf(f, "input ends inside a CDATA section");
		if (f->cdata_emit)
			fbuf_put(&f->o, "]]>", 3);
	}
	f->lex = LX_TEXT;
	*closes_at = f->o.len;
	if (f->depth > 0 && !f->skipping) {
		name = filter_stack_name(f, f->depth - 1, &n);
		filter_warnf(f, "input ends with %u element(s) open "
		    "(innermost <%.*s>)", f->depth, (int)(n > 64 ? 64 : n),
		    name);
		while (f->depth > 0) {
			name = filter_stack_name(f, f->depth - 1, &n);
			filter_emit_close(f, name, n);
			filter_pop(f);
		}
		f->root_open = 0;
		f->root_done = 1;
	}
	f->hold_from = f->o.len;
	*out = f->o.p != NULL ? f->o.p : "";
	*outlen = f->o.len;
	return 0;
}

void
aggregate_filter_resync(struct aggregate_filter *f)
{
	f->skipping = 1;
	f->depth = 0;
	f->names.len = 0;
	f->root_open = 0;
	f->text_start = NOHOLD;
	/* Whatever is held belongs to the document expat gave up on. */
	f->o.len = 0;
	f->hold_from = 0;
}

void
aggregate_filter_rebase(struct aggregate_filter *f)
{
	unsigned k, j;
	size_t n, ln, base;
	const char *name, *l;

	for (k = f->depth; k-- > 0;) {
		name = filter_stack_name(f, k, &n);
		filter_local(name, n, &l, &ln);
		if (ln == 8 && memcmp(l, "feedback", 8) == 0)
			break;
	}
	if (k == (unsigned)-1 || k == 0)
		return;
	/* Drop the wrappers below the innermost open <feedback>. */
	base = f->off[k];
	memmove(f->names.p, f->names.p + base, f->names.len - base);
	f->names.len -= base;
	for (j = k; j < f->depth; j++)
		f->off[j - k] = f->off[j] - base;
	f->depth -= k;
}

int
aggregate_filter_saw_element(const struct aggregate_filter *f)
{
	return f->saw_element;
}

int
aggregate_filter_is_blank(const struct aggregate_filter *f)
{
	return !f->nonblank;
}

void
aggregate_filter_summary(struct aggregate_filter *f)
{
	size_t off;
	unsigned n = 0;

	if (f->warn == NULL)
		return;
	for (off = 0; off < f->pending.len;
	    off += strlen(f->pending.p + off) + 1, n++)
		f->warn(f->ctx, f->pending.p + off);
	if (f->n_pending > n)
		filter_warn_now(f, "%u more repair warning(s) not shown",
		    f->n_pending - n);
	f->pending.len = 0;
	f->n_pending = 0;
	if (f->n_utf8)
		filter_warn_now(f, "replaced %llu invalid UTF-8/UTF-16 "
		    "sequence(s) with U+FFFD", f->n_utf8);
	if (f->n_enc)
		filter_warn_now(f, "replaced %llu byte sequence(s) invalid in "
		    "%s with U+FFFD", f->n_enc, f->enc_name);
	if (f->n_ctrl)
		filter_warn_now(f, "replaced %llu character(s) not allowed in "
		    "XML with U+FFFD", f->n_ctrl);
	if (f->n_lt)
		filter_warn_now(f, "escaped %llu stray '<' in text", f->n_lt);
	if (f->n_amp)
		filter_warn_now(f, "escaped %llu stray '&' in text", f->n_amp);
	if (f->n_attr)
		filter_warn_now(f, "repaired %llu tag(s) with a bad or "
		    "repeated attribute", f->n_attr);
	if (f->n_autoclose)
		filter_warn_now(f, "closed %llu element(s) left open "
		    "(first <%s>)", f->n_autoclose, f->first_autoclose);
	if (f->n_stray_close)
		filter_warn_now(f, "dropped %llu end tag(s) matching no open "
		    "element (first </%s>)", f->n_stray_close, f->first_stray);
	if (f->junk_before)
		filter_warn_now(f, "ignored text or markup before the root "
		    "element");
	if (f->junk_after)
		filter_warn_now(f, "ignored content after the root element");
}
