/*
 * aggregate.c - streaming DMARC aggregate report parser (aggregate.h).
 *
 * Pipeline: bytes -> aggregate_filter (decode to UTF-8, lexical repair) ->
 * expat (no namespace processing: names are matched on their local part,
 * so unbound prefixes cannot fail a report) -> the element handlers below,
 * which keep a small stack of frames saying what each open element means
 * (a table maps (parent, local name) to a meaning, so child order is free).
 *
 * Memory: header strings live in a->harena until aggregate_free(); record
 * strings live in a->rarena, which is reset at every <record> (one chunk
 * reused, so steady state does no malloc per record).  Per-record arrays
 * (reasons, DKIM and SPF results) are reused and bounded by max_results.
 * Text values are bounded by max_text, element depth by max_xml_depth,
 * records by max_records, the document by max_expanded_bytes.
 *
 * Recovery: the filter fixes most syntax damage; if expat still gives up
 * after the report header was read, the records already delivered stand,
 * a fresh expat is started on "<feedback>" + the next <record>, and a
 * warning says so.  Every recovery leaves one line in report->warnings
 * (repeated ones are counted into one line).
 */
#include <expat.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/ipaddr.h"
#include "lib/xalloc.h"
#include "parse/aggregate.h"
#include "parse/aggregate_filter.h"

#define MAX_WARNINGS 100
#define MAX_RESYNCS 10000

/* What an open element means. */
enum agg_node {
	N_IGNORE, N_WRAP, N_ROOT, N_META, N_RANGE, N_POLICY, N_RECORD, N_ROW,
	N_PE, N_REASON, N_IDENT, N_AUTH, N_ADKIM, N_ASPF, N_LEAF, N_CAPTURE,
};

/* Which value a leaf element carries. */
enum agg_field {
	F_NONE, F_VERSION, F_ORG, F_EMAIL, F_EXTRA, F_RID, F_BEGIN, F_END,
	F_ERROR, F_GENERATOR,
	F_P_DOMAIN, F_ADKIM, F_ASPF, F_P, F_SP, F_NP, F_PCT, F_FO, F_TESTING,
	F_DISC,
	F_IP, F_COUNT, F_DISP, F_PE_DKIM, F_PE_SPF, F_R_TYPE, F_R_COMMENT,
	F_HFROM, F_EFROM, F_ETO,
	F_DK_DOMAIN, F_DK_SEL, F_DK_RESULT, F_DK_HUMAN,
	F_SF_DOMAIN, F_SF_SCOPE, F_SF_RESULT, F_SF_HUMAN,
};

struct agg_child {
	const char *name;
	unsigned char len, node, field;
};

#define AGG_C(name, node, field) { name, sizeof(name) - 1, node, field }

/* (parent, local name) -> meaning.  Anything else is ignored or captured. */
static const struct agg_child agg_root_kids[] = {
	AGG_C("version", N_LEAF, F_VERSION),
	AGG_C("report_metadata", N_META, F_NONE),
	AGG_C("policy_published", N_POLICY, F_NONE),
	AGG_C("record", N_RECORD, F_NONE),
};
static const struct agg_child agg_meta_kids[] = {
	AGG_C("org_name", N_LEAF, F_ORG),
	AGG_C("email", N_LEAF, F_EMAIL),
	AGG_C("extra_contact_info", N_LEAF, F_EXTRA),
	AGG_C("report_id", N_LEAF, F_RID),
	AGG_C("date_range", N_RANGE, F_NONE),
	AGG_C("error", N_LEAF, F_ERROR),
	AGG_C("generator", N_LEAF, F_GENERATOR),
	AGG_C("version", N_LEAF, F_VERSION),
};
static const struct agg_child agg_range_kids[] = {
	AGG_C("begin", N_LEAF, F_BEGIN),
	AGG_C("end", N_LEAF, F_END),
};
static const struct agg_child agg_policy_kids[] = {
	AGG_C("domain", N_LEAF, F_P_DOMAIN),
	AGG_C("adkim", N_LEAF, F_ADKIM),
	AGG_C("aspf", N_LEAF, F_ASPF),
	AGG_C("p", N_LEAF, F_P),
	AGG_C("sp", N_LEAF, F_SP),
	AGG_C("np", N_LEAF, F_NP),
	AGG_C("pct", N_LEAF, F_PCT),
	AGG_C("fo", N_LEAF, F_FO),
	AGG_C("testing", N_LEAF, F_TESTING),
	AGG_C("discovery_method", N_LEAF, F_DISC),
};
static const struct agg_child agg_record_kids[] = {
	AGG_C("row", N_ROW, F_NONE),
	AGG_C("identifiers", N_IDENT, F_NONE),
	AGG_C("auth_results", N_AUTH, F_NONE),
};
static const struct agg_child agg_row_kids[] = {
	AGG_C("source_ip", N_LEAF, F_IP),
	AGG_C("count", N_LEAF, F_COUNT),
	AGG_C("policy_evaluated", N_PE, F_NONE),
};
static const struct agg_child agg_pe_kids[] = {
	AGG_C("disposition", N_LEAF, F_DISP),
	AGG_C("dkim", N_LEAF, F_PE_DKIM),
	AGG_C("spf", N_LEAF, F_PE_SPF),
	AGG_C("reason", N_REASON, F_NONE),
};
static const struct agg_child agg_reason_kids[] = {
	AGG_C("type", N_LEAF, F_R_TYPE),
	AGG_C("comment", N_LEAF, F_R_COMMENT),
};
static const struct agg_child agg_ident_kids[] = {
	AGG_C("header_from", N_LEAF, F_HFROM),
	AGG_C("envelope_from", N_LEAF, F_EFROM),
	AGG_C("envelope_to", N_LEAF, F_ETO),
};
static const struct agg_child agg_auth_kids[] = {
	AGG_C("dkim", N_ADKIM, F_NONE),
	AGG_C("spf", N_ASPF, F_NONE),
};
static const struct agg_child agg_adkim_kids[] = {
	AGG_C("domain", N_LEAF, F_DK_DOMAIN),
	AGG_C("selector", N_LEAF, F_DK_SEL),
	AGG_C("result", N_LEAF, F_DK_RESULT),
	AGG_C("human_result", N_LEAF, F_DK_HUMAN),
};
static const struct agg_child agg_aspf_kids[] = {
	AGG_C("domain", N_LEAF, F_SF_DOMAIN),
	AGG_C("scope", N_LEAF, F_SF_SCOPE),
	AGG_C("result", N_LEAF, F_SF_RESULT),
	AGG_C("human_result", N_LEAF, F_SF_HUMAN),
};

#define AGG_KIDS(v) { v, sizeof(v) / sizeof(v[0]) }

/* Children by parent node (indexed by enum agg_node). */
static const struct {
	const struct agg_child *v;
	size_t n;
} agg_kids[] = {
	[N_ROOT] = AGG_KIDS(agg_root_kids),
	[N_META] = AGG_KIDS(agg_meta_kids),
	[N_RANGE] = AGG_KIDS(agg_range_kids),
	[N_POLICY] = AGG_KIDS(agg_policy_kids),
	[N_RECORD] = AGG_KIDS(agg_record_kids),
	[N_ROW] = AGG_KIDS(agg_row_kids),
	[N_PE] = AGG_KIDS(agg_pe_kids),
	[N_REASON] = AGG_KIDS(agg_reason_kids),
	[N_IDENT] = AGG_KIDS(agg_ident_kids),
	[N_AUTH] = AGG_KIDS(agg_auth_kids),
	[N_ADKIM] = AGG_KIDS(agg_adkim_kids),
	[N_ASPF] = AGG_KIDS(agg_aspf_kids),
};

/* The child entry for a local name of length n under parent, or NULL. */
static const struct agg_child *
agg_child_find(unsigned parent, const char *name, size_t n)
{
	const struct agg_child *c, *end;

	if (parent >= sizeof(agg_kids) / sizeof(agg_kids[0]) ||
	    agg_kids[parent].v == NULL)
		return NULL;
	c = agg_kids[parent].v;
	for (end = c + agg_kids[parent].n; c < end; c++)
		if (c->len == n && c->name[0] == name[0] &&
		    memcmp(c->name, name, n) == 0)
			return c;
	return NULL;
}

/* Record-level problems, counted and reported once per report. */
enum agg_count {
	WC_BAD_IP, WC_NO_IP, WC_BAD_COUNT, WC_TOO_MANY, WC_TRUNC, WC_DUP,
	WC_CAP_TRUNC, WC_RESYNC, WC_PARTIAL, WC_MS, WC__N
};

struct agg_counter {
	unsigned long long n;
	char first[96];
};

struct agg_frame {
	unsigned char node, field;
};

struct agg_buf {
	char *p;
	size_t len, cap;
};

struct aggregate {
	struct limits lim;
	struct aggregate_cb cb;
	void *ctx;
	XML_Parser xp;
	struct aggregate_filter *filter;
	struct arena harena, rarena;
	struct report rep;
	size_t warn_cap, err_cap;
	unsigned long long warn_dropped;
	struct agg_counter wc[WC__N];

	/* element stack */
	struct agg_frame *stack;
	unsigned depth, stack_cap;

	/* text of the current leaf */
	struct agg_buf text;
	int text_trunc;

	/* raw XML capture of extensions */
	struct agg_buf cap;
	unsigned cap_depth;
	int capturing, cap_record, cap_trunc;

	/* record in progress */
	struct report_record rec;
	size_t cap_reasons, cap_dkim, cap_spf;
	int in_record, count_seen, drop_reason, drop_dkim, drop_spf;

	/* document state */
	int got_root, have_meta, have_policy, policy_locked, header_sent;
	int not_dmarc;           /* the document was other XML, not a report */
	int resync_root, resync_pending, eof_closing, halted, failed, cb_ret;
	int finished;
	unsigned long long fed_in, xp_fed;
	char root_name[64];
	char err[256];
};

/* ---- small helpers ---------------------------------------------------- */

static void
agg_buf_put(struct agg_buf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t want = b->cap ? b->cap : 256;

		while (want - b->len < n + 1)
			want *= 2;
		b->p = xrealloc(b->p, want);
		b->cap = want;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static int
agg_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void
agg_trim(const char **s, size_t *n)
{
	while (*n > 0 && agg_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && agg_space((*s)[*n - 1]))
		(*n)--;
}

static char *
agg_lower_dup(struct arena *ar, const char *s, size_t n)
{
	char *p = arena_strndup(ar, s, n);
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] + 32);
	return p;
}

/* Longest prefix of s[0..n) that does not cut a UTF-8 sequence. */
static size_t
agg_utf8_cut(const char *s, size_t n)
{
	size_t i = n;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0) {
		unsigned char c = (unsigned char)s[i - 1];
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;

		if (n - (i - 1) >= need)
			return n;
		return i - 1;
	}
	return 0;
}

/* ---- warnings and errors ---------------------------------------------- */

static void
agg_warn(struct aggregate *a, const char *msg)
{
	size_t n = a->rep.n_warnings;

	if (n >= MAX_WARNINGS) {
		a->warn_dropped++;
		return;
	}
	if (n == a->warn_cap) {
		a->warn_cap = a->warn_cap ? a->warn_cap * 2 : 8;
		a->rep.warnings = xrealloc((void *)a->rep.warnings,
		    a->warn_cap * sizeof(*a->rep.warnings));
	}
	a->rep.warnings[n] = arena_strdup(&a->harena, msg);
	a->rep.n_warnings = n + 1;
}

static void
agg_warnf(struct aggregate *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
agg_warnf(struct aggregate *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	agg_warn(a, msg);
}

static void
agg_filter_warn(void *ctx, const char *msg)
{
	agg_warn(ctx, msg);
}

/* Counts a repeated problem; `ex` (may be NULL) is kept for the first. */
static void
agg_count(struct aggregate *a, enum agg_count k, const char *ex, size_t n)
{
	struct agg_counter *c = &a->wc[k];
	size_t i, j = 0;

	if (c->n++ == 0 && ex != NULL) {
		/* Keep a short printable sample for the message. */
		for (i = 0; i < n && j + 1 < sizeof(c->first) - 4; i++) {
			unsigned char ch = (unsigned char)ex[i];

			c->first[j++] = (ch < 0x20 || ch == 0x7f) ? '?' :
			    (char)ch;
		}
		if (i < n)
			j += (size_t)snprintf(c->first + j,
			    sizeof(c->first) - j, "...");
		c->first[j] = '\0';
	}
}

static void
agg_fail(struct aggregate *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
agg_fail(struct aggregate *a, const char *fmt, ...)
{
	va_list ap;

	if (a->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
	a->failed = 1;
	a->halted = 1;
	if (a->xp != NULL)
		XML_StopParser(a->xp, XML_FALSE);
}

static void
agg_stop_cb(struct aggregate *a, int r)
{
	a->cb_ret = r;
	a->halted = 1;
	snprintf(a->err, sizeof(a->err), "stopped");
	XML_StopParser(a->xp, XML_FALSE);
}

/* ---- value normalisation ---------------------------------------------- */

struct agg_alias {
	const char *from, *to;
};

static const struct agg_alias agg_verdict_alias[] = {
	{ "hardfail", "fail" }, { NULL, NULL }
};
static const struct agg_alias agg_dkim_alias[] = {
	{ "hardfail", "fail" }, { NULL, NULL }
};
static const struct agg_alias agg_spf_alias[] = {
	{ "hardfail", "fail" }, { "unknown", "temperror" },
	{ "error", "permerror" }, { NULL, NULL }
};
static const struct agg_alias agg_align_alias[] = {
	{ "relaxed", "r" }, { "strict", "s" }, { NULL, NULL }
};
static const struct agg_alias agg_no_alias[] = { { NULL, NULL } };

/*
 * Interned normalised words, so most records allocate nothing for them:
 * the word equal to low[0..n), or NULL.
 */
static const char *
agg_word(const char *low, size_t n)
{
	static const char *const words[] = {
		"pass", "fail", "none", "quarantine", "reject", "neutral",
		"policy", "temperror", "permerror", "softfail", "forwarded",
		"sampled_out", "trusted_forwarder", "mailing_list",
		"local_policy", "other", "policy_test_mode", "mfrom", "helo",
		"r", "s", "y", "n", "psl", "treewalk",
	};
	size_t i;

	if (n == 0)
		return NULL;
	/* The common verdicts first, then the rest by length and byte 0. */
	if (n == 4) {
		if (memcmp(low, "pass", 4) == 0)
			return words[0];
		if (memcmp(low, "fail", 4) == 0)
			return words[1];
		if (memcmp(low, "none", 4) == 0)
			return words[2];
	}
	for (i = 3; i < sizeof(words) / sizeof(words[0]); i++)
		if (words[i][0] == low[0] && strlen(words[i]) == n &&
		    memcmp(words[i], low, n) == 0)
			return words[i];
	return NULL;
}

/*
 * Lower-cased, alias-mapped form of raw (which is trimmed); `missing` when
 * raw is NULL or empty.
 */
static const char *
agg_norm(struct arena *ar, const char *raw, const struct agg_alias *al,
    const char *missing)
{
	char low[32];
	const char *w;
	size_t n, i;

	if (raw == NULL || raw[0] == '\0')
		return missing;
	for (n = 0; n < sizeof(low) && raw[n] != '\0'; n++)
		low[n] = (raw[n] >= 'A' && raw[n] <= 'Z') ?
		    (char)(raw[n] + 32) : raw[n];
	if (n >= sizeof(low))
		return agg_lower_dup(ar, raw, strlen(raw));
	low[n] = '\0';
	for (i = 0; al[i].from != NULL; i++)
		if (al[i].from[0] == low[0] && strcmp(low, al[i].from) == 0)
			return al[i].to;
	if ((w = agg_word(low, n)) != NULL)
		return w;
	return arena_strndup(ar, low, n);
}

/* Unsigned decimal with nothing else; -1 when invalid or above max. */
static int
agg_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	if (s[0] == '+') {
		s++;
		n--;
		if (n == 0)
			return -1;
	}
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Epoch seconds: fraction cut at the dot, 13-digit milliseconds divided. */
static int64_t
agg_epoch(struct aggregate *a, const char *what, const char *s, size_t n)
{
	const char *dot = memchr(s, '.', n);
	size_t ip = dot ? (size_t)(dot - s) : n, i;
	uint64_t v;

	if (n == 0) {
		agg_warnf(a, "empty <%s> in date_range", what);
		return -1;
	}
	for (i = ip + 1; dot != NULL && i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto bad;
	}
	if (agg_parse_u64(s, ip, 999999999999999ULL, &v) < 0)
		goto bad;
	if (v >= 100000000000ULL) {
		agg_warnf(a, "<%s> %llu looks like milliseconds; divided by "
		    "1000", what, (unsigned long long)v);
		v /= 1000;
	}
	return (int64_t)v;
bad:
	agg_warnf(a, "invalid <%s> \"%.*s\" ignored", what,
	    (int)(n > 40 ? 40 : n), s);
	return -1;
}

/* "x@Example.COM>" -> "example.com"; NULL when there is no domain. */
static const char *
agg_email_domain(struct arena *ar, const char *email)
{
	const char *at, *end;

	if (email == NULL || (at = strrchr(email, '@')) == NULL)
		return NULL;
	at++;
	for (end = at; *end != '\0' && *end != '>' && !agg_space(*end) &&
	    *end != ';' && *end != ','; end++)
		;
	if (end == at)
		return NULL;
	return agg_lower_dup(ar, at, (size_t)(end - at));
}

/* Fills derived header fields; with warn, also says what looks wrong. */
static void
agg_header_normalize(struct aggregate *a, int warn)
{
	struct report *r = &a->rep;
	const int64_t y2000 = 946684800, y2100 = 4102444800LL;

	if (r->org_name_raw == NULL || r->org_name_raw[0] == '\0') {
		const char *d = agg_email_domain(&a->harena, r->email);

		r->org_name = d;
		if (warn && d != NULL)
			agg_warnf(a, "empty or missing org_name; using the "
			    "email domain \"%s\"", d);
		else if (warn)
			agg_warnf(a, "empty or missing org_name");
	} else {
		r->org_name = r->org_name_raw;
	}
	if (!warn)
		return;
	if (r->report_id_raw == NULL || r->report_id == NULL ||
	    r->report_id[0] == '\0')
		agg_warnf(a, "empty or missing report_id");
	if (r->begin < 0 || r->end < 0)
		agg_warnf(a, "date_range is missing or incomplete");
	if (r->begin >= 0 && r->end >= 0 && r->begin > r->end)
		agg_warnf(a, "date_range begin %lld is after end %lld",
		    (long long)r->begin, (long long)r->end);
	if ((r->begin >= 0 && (r->begin < y2000 || r->begin > y2100)) ||
	    (r->end >= 0 && (r->end < y2000 || r->end > y2100)))
		agg_warnf(a, "implausible date_range %lld..%lld (outside "
		    "2000-2100)", (long long)r->begin, (long long)r->end);
	else if (r->begin >= 0 && r->end > r->begin &&
	    r->end - r->begin > 31 * 86400LL)
		agg_warnf(a, "date_range spans %lld days",
		    (long long)((r->end - r->begin) / 86400));
	if (r->policy.domain == NULL || r->policy.domain[0] == '\0')
		agg_warnf(a, "policy_published has no domain");
}

/* ---- raw XML capture (extensions) ------------------------------------- */

static void
agg_cap_put(struct aggregate *a, const char *s, size_t n)
{
	if (a->cap_trunc)
		return;
	if (a->cap.len + n > a->lim.max_text) {
		a->cap_trunc = 1;
		return;
	}
	agg_buf_put(&a->cap, s, n);
}

static void
agg_cap_escaped(struct aggregate *a, const char *s, size_t n, int attr)
{
	size_t i, from = 0;

	for (i = 0; i < n; i++) {
		const char *e = NULL;

		switch (s[i]) {
		case '&': e = "&amp;"; break;
		case '<': e = "&lt;"; break;
		case '>': e = "&gt;"; break;
		case '"': e = attr ? "&quot;" : NULL; break;
		default: break;
		}
		if (e == NULL)
			continue;
		agg_cap_put(a, s + from, i - from);
		agg_cap_put(a, e, strlen(e));
		from = i + 1;
	}
	agg_cap_put(a, s + from, n - from);
}

static void
agg_cap_start(struct aggregate *a, const char *qname, const char **attrs)
{
	size_t i;

	agg_cap_put(a, "<", 1);
	agg_cap_put(a, qname, strlen(qname));
	for (i = 0; attrs[i] != NULL; i += 2) {
		agg_cap_put(a, " ", 1);
		agg_cap_put(a, attrs[i], strlen(attrs[i]));
		agg_cap_put(a, "=\"", 2);
		agg_cap_escaped(a, attrs[i + 1], strlen(attrs[i + 1]), 1);
		agg_cap_put(a, "\"", 1);
	}
	agg_cap_put(a, ">", 1);
}

/* The captured element closed: append its XML to the right owner. */
static void
agg_cap_store(struct aggregate *a)
{
	struct arena *ar = a->cap_record ? &a->rarena : &a->harena;
	const char **dst = a->cap_record ? &a->rec.extensions :
	    &a->rep.extensions;
	size_t old = *dst ? strlen(*dst) : 0;
	char *p;

	if (a->cap_trunc)
		agg_count(a, WC_CAP_TRUNC, NULL, 0);
	if (old + a->cap.len > a->lim.max_text) {
		agg_count(a, WC_CAP_TRUNC, NULL, 0);
	} else {
		p = arena_alloc(ar, old + a->cap.len + 1);
		if (old > 0)
			memcpy(p, *dst, old);
		if (a->cap.len > 0)
			memcpy(p + old, a->cap.p, a->cap.len);
		p[old + a->cap.len] = '\0';
		*dst = p;
	}
	a->capturing = 0;
	a->cap.len = 0;
	a->cap_trunc = 0;
}

/* ---- records ---------------------------------------------------------- */

static void
agg_send_header(struct aggregate *a)
{
	int r;

	if (a->header_sent)
		return;
	a->header_sent = 1;
	agg_header_normalize(a, 0);
	if (a->cb.on_header != NULL &&
	    (r = a->cb.on_header(a->ctx, &a->rep)) != 0)
		agg_stop_cb(a, r);
}

static void
agg_record_start(struct aggregate *a)
{
	if (a->rep.n_records >= a->lim.max_records) {
		agg_fail(a, "too many records (more than max_records = %llu)",
		    (unsigned long long)a->lim.max_records);
		return;
	}
	agg_send_header(a);
	arena_reset(&a->rarena);
	a->rec.source_ip = a->rec.source_ip_raw = NULL;
	a->rec.count = 0;
	a->rec.disposition = a->rec.disposition_raw = NULL;
	a->rec.dkim = a->rec.dkim_raw = a->rec.spf = a->rec.spf_raw = NULL;
	a->rec.header_from = a->rec.envelope_from = NULL;
	a->rec.envelope_to = NULL;
	a->rec.n_reasons = a->rec.n_dkim = a->rec.n_spf = 0;
	a->rec.extensions = NULL;
	a->in_record = 1;
	a->count_seen = 0;
}

/*
 * Grows one of the reused per-record arrays by one zeroed element; returns
 * NULL past max_results (the element is then dropped, with a warning).
 */
static void *
agg_grow(struct aggregate *a, void **arr, size_t *n, size_t *cap, size_t sz)
{
	char *p;

	if (*n >= a->lim.max_results) {
		agg_count(a, WC_TOO_MANY, NULL, 0);
		return NULL;
	}
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4;
		if (*cap > a->lim.max_results)
			*cap = a->lim.max_results;
		*arr = xrealloc(*arr, *cap * sz);
	}
	p = (char *)*arr + *n * sz;
	memset(p, 0, sz);
	(*n)++;
	return p;
}

static void
agg_record_end(struct aggregate *a)
{
	struct report_record *rec = &a->rec;
	struct arena *ar = &a->rarena;
	size_t i;
	int r;

	a->in_record = 0;
	if (a->eof_closing) {
		agg_count(a, WC_PARTIAL, NULL, 0);
		return;
	}
	if (rec->source_ip == NULL)
		agg_count(a, WC_NO_IP, NULL, 0);
	if (!a->count_seen)
		agg_count(a, WC_BAD_COUNT, "(missing)", 9);
	rec->disposition = agg_norm(ar, rec->disposition_raw, agg_no_alias,
	    REPORT_UNKNOWN);
	rec->dkim = agg_norm(ar, rec->dkim_raw, agg_verdict_alias,
	    REPORT_UNKNOWN);
	rec->spf = agg_norm(ar, rec->spf_raw, agg_verdict_alias,
	    REPORT_UNKNOWN);
	for (i = 0; i < rec->n_reasons; i++) {
		struct report_reason *re = &rec->reasons[i];

		re->type = agg_norm(ar, re->type_raw, agg_no_alias, "other");
	}
	for (i = 0; i < rec->n_dkim; i++) {
		struct report_dkim *d = &rec->dkim_results[i];

		d->result = agg_norm(ar, d->result_raw, agg_dkim_alias,
		    REPORT_UNKNOWN);
	}
	for (i = 0; i < rec->n_spf; i++) {
		struct report_spf *s = &rec->spf_results[i];

		s->result = agg_norm(ar, s->result_raw, agg_spf_alias,
		    REPORT_UNKNOWN);
		if (s->scope != NULL)
			s->scope = agg_norm(ar, s->scope, agg_no_alias, NULL);
	}
	a->rep.n_records++;
	if (UINT64_MAX - a->rep.msg_total < rec->count)
		a->rep.msg_total = UINT64_MAX;
	else
		a->rep.msg_total += rec->count;
	if (a->cb.on_record != NULL &&
	    (r = a->cb.on_record(a->ctx, &a->rep, rec)) != 0)
		agg_stop_cb(a, r);
}

/* ---- leaf values ------------------------------------------------------ */

/* Stores a header string once; a repeated element is counted, not kept. */
static void
agg_set_h(struct aggregate *a, const char **dst, const char *s, size_t n,
    int lower)
{
	if (*dst != NULL) {
		agg_count(a, WC_DUP, NULL, 0);
		return;
	}
	*dst = lower ? agg_lower_dup(&a->harena, s, n) :
	    arena_strndup(&a->harena, s, n);
}

static void
agg_set_r(struct aggregate *a, const char **dst, const char *s, size_t n,
    int lower)
{
	if (*dst != NULL) {
		agg_count(a, WC_DUP, NULL, 0);
		return;
	}
	*dst = lower ? agg_lower_dup(&a->rarena, s, n) :
	    arena_strndup(&a->rarena, s, n);
}

static void
agg_leaf_header(struct aggregate *a, enum agg_field f, const char *s, size_t n)
{
	struct report *r = &a->rep;
	struct report_policy *p = &r->policy;
	const char *v;
	uint64_t u;

	switch (f) {
	case F_VERSION:
		agg_set_h(a, &r->version, s, n, 0);
		return;
	case F_ORG:
		agg_set_h(a, &r->org_name_raw, s, n, 0);
		return;
	case F_EMAIL:
		agg_set_h(a, &r->email, s, n, 0);
		return;
	case F_EXTRA:
		agg_set_h(a, &r->extra_contact_info, s, n, 0);
		return;
	case F_RID:
		if (r->report_id_raw != NULL) {
			agg_count(a, WC_DUP, NULL, 0);
			return;
		}
		r->report_id_raw = arena_strndup(&a->harena, s, n);
		if (n > 0 && s[0] == '<') {
			s++;
			n--;
		}
		if (n > 0 && s[n - 1] == '>')
			n--;
		agg_trim(&s, &n);
		r->report_id = arena_strndup(&a->harena, s, n);
		return;
	case F_BEGIN:
		r->begin = agg_epoch(a, "begin", s, n);
		return;
	case F_END:
		r->end = agg_epoch(a, "end", s, n);
		return;
	case F_ERROR:
		if (r->n_errors >= a->lim.max_results) {
			agg_count(a, WC_TOO_MANY, NULL, 0);
			return;
		}
		if (r->n_errors == a->err_cap) {
			a->err_cap = a->err_cap ? a->err_cap * 2 : 4;
			r->errors = xrealloc((void *)r->errors,
			    a->err_cap * sizeof(*r->errors));
		}
		r->errors[r->n_errors++] = arena_strndup(&a->harena, s, n);
		return;
	case F_GENERATOR:
		agg_set_h(a, &r->generator, s, n, 0);
		return;
	default:
		break;
	}
	if (a->policy_locked)
		return;
	switch (f) {
	case F_P_DOMAIN:
		agg_set_h(a, &p->domain, s, n, 1);
		break;
	case F_ADKIM:
	case F_ASPF:
		v = arena_strndup(&a->harena, s, n);
		v = agg_norm(&a->harena, v, agg_align_alias, NULL);
		if (f == F_ADKIM)
			p->adkim = v;
		else
			p->aspf = v;
		break;
	case F_P:
	case F_SP:
	case F_NP:
	case F_TESTING:
	case F_DISC:
		v = arena_strndup(&a->harena, s, n);
		v = agg_norm(&a->harena, v, agg_no_alias, NULL);
		if (f == F_P)
			p->p = v;
		else if (f == F_SP)
			p->sp = v;
		else if (f == F_NP)
			p->np = v;
		else if (f == F_TESTING)
			p->testing = v;
		else
			p->discovery_method = v;
		break;
	case F_PCT:
		if (n == 0)
			break;
		if (agg_parse_u64(s, n, 100, &u) < 0) {
			agg_warnf(a, "invalid <pct> \"%.*s\" ignored",
			    (int)(n > 40 ? 40 : n), s);
			p->pct = -1;
		} else {
			p->pct = (int)u;
		}
		break;
	case F_FO:
		agg_set_h(a, &p->fo, s, n, 0);
		break;
	default:
		break;
	}
}

static void
agg_leaf_record(struct aggregate *a, enum agg_field f, const char *s, size_t n)
{
	struct report_record *rec = &a->rec;
	struct report_reason *re = rec->n_reasons && !a->drop_reason ?
	    &rec->reasons[rec->n_reasons - 1] : NULL;
	struct report_dkim *dk = rec->n_dkim && !a->drop_dkim ?
	    &rec->dkim_results[rec->n_dkim - 1] : NULL;
	struct report_spf *sf = rec->n_spf && !a->drop_spf ?
	    &rec->spf_results[rec->n_spf - 1] : NULL;
	char ip[IPADDR_STRLEN];

	if (!a->in_record)
		return;
	switch (f) {
	case F_IP:
		if (rec->source_ip_raw != NULL) {
			agg_count(a, WC_DUP, NULL, 0);
			break;
		}
		rec->source_ip_raw = arena_strndup(&a->rarena, s, n);
		if (n == 0)
			break;
		if (ipaddr_normalize(s, n, ip, sizeof(ip)) != 0) {
			rec->source_ip = arena_strdup(&a->rarena, ip);
		} else {
			rec->source_ip = rec->source_ip_raw;
			agg_count(a, WC_BAD_IP, s, n);
		}
		break;
	case F_COUNT:
		if (a->count_seen) {
			agg_count(a, WC_DUP, NULL, 0);
			break;
		}
		a->count_seen = 1;
		if (agg_parse_u64(s, n, UINT64_MAX, &rec->count) < 0) {
			rec->count = 0;
			agg_count(a, WC_BAD_COUNT, s, n);
		}
		break;
	case F_DISP:
		agg_set_r(a, &rec->disposition_raw, s, n, 0);
		break;
	case F_PE_DKIM:
		agg_set_r(a, &rec->dkim_raw, s, n, 0);
		break;
	case F_PE_SPF:
		agg_set_r(a, &rec->spf_raw, s, n, 0);
		break;
	case F_R_TYPE:
		if (re != NULL)
			agg_set_r(a, &re->type_raw, s, n, 0);
		break;
	case F_R_COMMENT:
		if (re != NULL)
			agg_set_r(a, &re->comment, s, n, 0);
		break;
	case F_HFROM:
		agg_set_r(a, &rec->header_from, s, n, 1);
		break;
	case F_EFROM:
		agg_set_r(a, &rec->envelope_from, s, n, 1);
		break;
	case F_ETO:
		agg_set_r(a, &rec->envelope_to, s, n, 1);
		break;
	case F_DK_DOMAIN:
		if (dk != NULL)
			agg_set_r(a, &dk->domain, s, n, 1);
		break;
	case F_DK_SEL:
		if (dk != NULL)
			agg_set_r(a, &dk->selector, s, n, 0);
		break;
	case F_DK_RESULT:
		if (dk != NULL)
			agg_set_r(a, &dk->result_raw, s, n, 0);
		break;
	case F_DK_HUMAN:
		if (dk != NULL)
			agg_set_r(a, &dk->human_result, s, n, 0);
		break;
	case F_SF_DOMAIN:
		if (sf != NULL)
			agg_set_r(a, &sf->domain, s, n, 1);
		break;
	case F_SF_SCOPE:
		if (sf != NULL)
			agg_set_r(a, &sf->scope, s, n, 0);
		break;
	case F_SF_RESULT:
		if (sf != NULL)
			agg_set_r(a, &sf->result_raw, s, n, 0);
		break;
	case F_SF_HUMAN:
		if (sf != NULL)
			agg_set_r(a, &sf->human_result, s, n, 0);
		break;
	default:
		break;
	}
}

static void
agg_leaf_end(struct aggregate *a, enum agg_field f)
{
	const char *s = a->text.p ? a->text.p : "";
	size_t n = a->text.len;

	if (a->text_trunc)
		agg_count(a, WC_TRUNC, NULL, 0);
	agg_trim(&s, &n);
	if (f < F_IP)
		agg_leaf_header(a, f, s, n);
	else
		agg_leaf_record(a, f, s, n);
}

/* ---- expat handlers --------------------------------------------------- */

static void
agg_root(struct aggregate *a, const char *qname, const char **attrs)
{
	const char *colon = strrchr(qname, ':');
	char want[256];
	size_t i;

	a->got_root = 1;
	if (colon == NULL)
		snprintf(want, sizeof(want), "xmlns");
	else
		snprintf(want, sizeof(want), "xmlns:%.*s",
		    (int)(colon - qname > 200 ? 200 : colon - qname), qname);
	for (i = 0; attrs[i] != NULL; i += 2) {
		if (strcmp(attrs[i], want) == 0 && attrs[i + 1][0] != '\0') {
			a->rep.xml_namespace = arena_strdup(&a->harena,
			    attrs[i + 1]);
			break;
		}
	}
}

static void XMLCALL
agg_start(void *ud, const XML_Char *qname, const XML_Char **attrs)
{
	struct aggregate *a = ud;
	const char *name = qname, *e;
	struct agg_frame fr = { N_IGNORE, F_NONE };
	const struct agg_child *c;
	unsigned parent;
	size_t nlen;

	if (a->halted)
		return;
	for (e = qname; *e != '\0'; e++)
		if (*e == ':')
			name = e + 1;
	nlen = (size_t)(e - name);
	if (a->depth >= a->stack_cap) {
		agg_fail(a, "XML nesting deeper than max_xml_depth (%u)",
		    a->lim.max_xml_depth);
		return;
	}
	if (a->capturing) {
		agg_cap_start(a, qname, attrs);
		fr.node = N_CAPTURE;
		goto push;
	}
	parent = a->depth ? a->stack[a->depth - 1].node : N_WRAP;
	if (a->depth == 0 && a->resync_root) {
		a->resync_root = 0;
		fr.node = N_ROOT;
		goto push;
	}
	if (parent == N_WRAP) {
		if (nlen == 8 && memcmp(name, "feedback", 8) == 0 &&
		    !a->got_root) {
			if (a->depth > 0)
				agg_warnf(a, "ignored <%s> wrapped around "
				    "<feedback>", a->root_name);
			agg_root(a, qname, attrs);
			fr.node = N_ROOT;
		} else if (a->depth == 0) {
			snprintf(a->root_name, sizeof(a->root_name), "%s",
			    qname);
			fr.node = N_WRAP;
		} else if (a->depth < 3 && !a->got_root) {
			fr.node = N_WRAP;
		}
		goto push;
	}
	if ((c = agg_child_find(parent, name, nlen)) != NULL) {
		fr.node = c->node;
		fr.field = c->field;
	}
	switch (fr.node) {
	case N_IGNORE:
		/* Unknown children of <feedback> and <record>: extensions. */
		if (parent == N_ROOT || parent == N_RECORD) {
			a->capturing = 1;
			a->cap_record = parent == N_RECORD;
			a->cap_depth = a->depth;
			a->cap.len = 0;
			a->cap_trunc = 0;
			agg_cap_start(a, qname, attrs);
			fr.node = N_CAPTURE;
		}
		break;
	case N_META:
		a->have_meta = 1;
		if (a->header_sent)
			agg_warnf(a, "<report_metadata> after the first "
			    "<record>; the streamed header lacked it");
		break;
	case N_POLICY:
		if (a->have_policy) {
			agg_warnf(a, "repeated <policy_published> ignored "
			    "(kept the first)");
			a->policy_locked = 1;
		}
		else if (a->header_sent)
			agg_warnf(a, "<policy_published> after the first "
			    "<record>; the streamed header lacked it");
		a->have_policy = 1;
		break;
	case N_RECORD:
		agg_record_start(a);
		break;
	case N_REASON:
		a->drop_reason = agg_grow(a, (void **)&a->rec.reasons,
		    &a->rec.n_reasons, &a->cap_reasons,
		    sizeof(*a->rec.reasons)) == NULL;
		break;
	case N_ADKIM:
		a->drop_dkim = agg_grow(a, (void **)&a->rec.dkim_results,
		    &a->rec.n_dkim, &a->cap_dkim,
		    sizeof(*a->rec.dkim_results)) == NULL;
		break;
	case N_ASPF:
		a->drop_spf = agg_grow(a, (void **)&a->rec.spf_results,
		    &a->rec.n_spf, &a->cap_spf,
		    sizeof(*a->rec.spf_results)) == NULL;
		break;
	case N_LEAF:
		a->text.len = 0;
		a->text_trunc = 0;
		break;
	default:
		break;
	}
push:
	a->stack[a->depth++] = fr;
}

static void XMLCALL
agg_end(void *ud, const XML_Char *qname)
{
	struct aggregate *a = ud;
	struct agg_frame fr;

	if (a->halted || a->depth == 0)
		return;
	fr = a->stack[--a->depth];
	switch (fr.node) {
	case N_CAPTURE:
		agg_cap_put(a, "</", 2);
		agg_cap_put(a, qname, strlen(qname));
		agg_cap_put(a, ">", 1);
		if (a->depth == a->cap_depth)
			agg_cap_store(a);
		break;
	case N_LEAF:
		agg_leaf_end(a, (enum agg_field)fr.field);
		break;
	case N_RECORD:
		if (a->in_record)
			agg_record_end(a);
		break;
	case N_POLICY:
		a->policy_locked = 1;
		break;
	default:
		break;
	}
}

static void XMLCALL
agg_chars(void *ud, const XML_Char *s, int len)
{
	struct aggregate *a = ud;
	unsigned char node;
	size_t n = (size_t)len, room;

	if (a->halted || a->depth == 0)
		return;
	node = a->stack[a->depth - 1].node;
	if (node == N_CAPTURE) {
		agg_cap_escaped(a, s, n, 0);
		return;
	}
	if (node != N_LEAF || a->text_trunc)
		return;
	room = a->lim.max_text - a->text.len;
	if (n > room) {
		/* Cut on a character boundary so the value stays UTF-8. */
		n = agg_utf8_cut(s, room);
		a->text_trunc = 1;
	}
	agg_buf_put(&a->text, s, n);
}

static void XMLCALL
agg_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	agg_fail(ud, "DTD not allowed");
}

static void XMLCALL
agg_entity_decl(void *ud, const XML_Char *name, int is_param,
    const XML_Char *value, int value_len, const XML_Char *base,
    const XML_Char *sysid, const XML_Char *pubid, const XML_Char *notation)
{
	agg_fail(ud, "entity declarations not allowed");
}

/*
 * One random hash salt per process for every expat parser: expat would
 * otherwise ask the kernel for fresh randomness at each document.  The salt
 * only has to be unknown to whoever writes the input.
 */
static pthread_once_t agg_salt_once = PTHREAD_ONCE_INIT;
static unsigned long agg_salt;

static void
agg_salt_init(void)
{
	unsigned long v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (unsigned long)time(NULL) * 2654435761UL ^
		    (unsigned long)getpid() ^ (unsigned long)(uintptr_t)&v;
	agg_salt = v != 0 ? v : 1;
}

static int
agg_new_parser(struct aggregate *a)
{
	/* The filter hands over UTF-8 whatever the document declared. */
	if (a->xp == NULL || !XML_ParserReset(a->xp, "UTF-8")) {
		if (a->xp != NULL)
			XML_ParserFree(a->xp);
		a->xp = XML_ParserCreate("UTF-8");
	}
	if (a->xp == NULL) {
		agg_fail(a, "cannot create XML parser");
		return -1;
	}
	pthread_once(&agg_salt_once, agg_salt_init);
	XML_SetHashSalt(a->xp, agg_salt);
	XML_SetUserData(a->xp, a);
	XML_SetElementHandler(a->xp, agg_start, agg_end);
	XML_SetCharacterDataHandler(a->xp, agg_chars);
	XML_SetStartDoctypeDeclHandler(a->xp, agg_doctype);
	XML_SetEntityDeclHandler(a->xp, agg_entity_decl);
	XML_SetParamEntityParsing(a->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	a->xp_fed = 0;
	return 0;
}

/* Offset of the next "<record" start tag (any prefix) in s[from..n). */
static size_t
agg_find_record(const char *s, size_t n, size_t from)
{
	const char *p = s + from, *end = s + n;

	while (p < end && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		const char *q = p + 1, *l = q;

		while (q < end && *q != '>' && *q != '/' && !agg_space(*q) &&
		    *q != '<') {
			if (*q == ':')
				l = q + 1;
			q++;
		}
		if (q < end && q - l == 6 && memcmp(l, "record", 6) == 0 &&
		    (*q == '>' || agg_space(*q)) && p[1] != '/') {
			/* Skip <record/>, as the filter's resync does. */
			char quote = 0;

			while (q < end && (quote || *q != '>')) {
				if (quote == 0 && (*q == '"' || *q == '\''))
					quote = *q;
				else if (quote == *q)
					quote = 0;
				q++;
			}
			if (q < end && q[-1] != '/')
				return (size_t)(p - s);
		}
		p++;
	}
	return n;
}

/*
 * Hands s[0..n) to expat.  On an XML error after the header was read,
 * restarts expat at the next <record> (in this chunk or, through the
 * filter, in later input).  Returns 0, -1 (a->err) or a callback's value.
 */
static int
agg_parse(struct aggregate *a, const char *s, size_t n, int final)
{
	enum XML_Error code;
	unsigned long line, col;
	XML_Index idx;
	size_t at;

	while (!a->halted) {
		if (a->resync_pending) {
			if (n == 0)
				return 0;
			a->resync_pending = 0;
		}
		if (XML_Parse(a->xp, s, (int)n, final) == XML_STATUS_OK) {
			a->xp_fed += n;
			return 0;
		}
		if (a->halted)
			break;
		code = XML_GetErrorCode(a->xp);
		line = XML_GetCurrentLineNumber(a->xp);
		col = XML_GetCurrentColumnNumber(a->xp);
		if (!a->got_root || !a->have_meta ||
		    a->wc[WC_RESYNC].n >= MAX_RESYNCS) {
			agg_fail(a, "XML error: %s (line %lu, column %lu of "
			    "the repaired text)", XML_ErrorString(code), line,
			    col);
			break;
		}
		if (a->wc[WC_RESYNC].n == 0) {
			char ex[160];

			snprintf(ex, sizeof(ex), "%s at line %lu",
			    XML_ErrorString(code), line);
			agg_count(a, WC_RESYNC, ex, strlen(ex));
		} else {
			agg_count(a, WC_RESYNC, NULL, 0);
		}
		if (a->in_record) {
			a->in_record = 0;
			agg_count(a, WC_PARTIAL, NULL, 0);
		}
		a->capturing = 0;
		a->depth = 0;
		idx = XML_GetCurrentByteIndex(a->xp);
		at = idx >= 0 && (unsigned long long)idx >= a->xp_fed ?
		    (size_t)((unsigned long long)idx - a->xp_fed) + 1 : 0;
		if (at > n)
			at = n;
		at = agg_find_record(s, n, at);
		if (agg_new_parser(a) < 0)
			break;
		a->resync_root = 1;
		if (at >= n) {
			/* Nothing left here: let the filter look further. */
			aggregate_filter_resync(a->filter);
			a->resync_pending = 1;
			return 0;
		}
		aggregate_filter_rebase(a->filter);
		if (XML_Parse(a->xp, "<feedback>", 10, 0) != XML_STATUS_OK)
			break;
		a->xp_fed = 10;
		s += at;
		n -= at;
	}
	if (a->cb_ret)
		return a->cb_ret;
	if (!a->failed)
		agg_fail(a, "XML error: %s",
		    XML_ErrorString(XML_GetErrorCode(a->xp)));
	return -1;
}

/* ---- public API ------------------------------------------------------- */

/*
 * A parser object kept per thread after aggregate_free(), so that a stream
 * of small documents reuses its buffers, arenas and expat instance instead
 * of allocating them again for every document.
 */
static pthread_once_t agg_spare_once = PTHREAD_ONCE_INIT;
static pthread_key_t agg_spare_key;

static void
agg_destroy(struct aggregate *a)
{
	if (a->xp != NULL)
		XML_ParserFree(a->xp);
	aggregate_filter_free(&a->filter);
	arena_fini(&a->harena);
	arena_fini(&a->rarena);
	free(a->stack);
	free(a->text.p);
	free(a->cap.p);
	free(a->rec.reasons);
	free(a->rec.dkim_results);
	free(a->rec.spf_results);
	free((void *)a->rep.warnings);
	free((void *)a->rep.errors);
	free(a);
}

static void
agg_spare_dtor(void *p)
{
	agg_destroy(p);
}

static void
agg_spare_key_init(void)
{
	pthread_key_create(&agg_spare_key, agg_spare_dtor);
}

/*
 * Makes a (new or used) parser object ready for a new document, keeping
 * what it allocated: expat, the filter, arenas, stacks and arrays.
 */
static void
agg_setup(struct aggregate *a, const struct limits *lim,
    const struct aggregate_cb *cb, void *ctx)
{
	XML_Parser xp = a->xp;
	struct aggregate_filter *filter = a->filter;
	struct arena harena = a->harena, rarena = a->rarena;
	struct agg_frame *stack = a->stack;
	unsigned stack_cap = a->stack_cap;
	struct agg_buf text = a->text, cap = a->cap;
	struct report_reason *reasons = a->rec.reasons;
	struct report_dkim *dkim = a->rec.dkim_results;
	struct report_spf *spf = a->rec.spf_results;
	size_t cap_reasons = a->cap_reasons, cap_dkim = a->cap_dkim;
	size_t cap_spf = a->cap_spf, warn_cap = a->warn_cap;
	size_t err_cap = a->err_cap;
	const char **warnings = a->rep.warnings, **errors = a->rep.errors;

	memset(a, 0, sizeof(*a));
	a->xp = xp;
	a->harena = harena;
	a->rarena = rarena;
	arena_reset(&a->harena);
	arena_reset(&a->rarena);
	a->text = text;
	a->text.len = 0;
	a->cap = cap;
	a->cap.len = 0;
	a->rec.reasons = reasons;
	a->rec.dkim_results = dkim;
	a->rec.spf_results = spf;
	a->cap_reasons = cap_reasons;
	a->cap_dkim = cap_dkim;
	a->cap_spf = cap_spf;
	a->rep.warnings = warnings;
	a->warn_cap = warn_cap;
	a->rep.errors = errors;
	a->err_cap = err_cap;

	a->lim = *lim;
	if (a->lim.max_text == 0)
		a->lim.max_text = 1;
	if (a->lim.max_xml_depth == 0)
		a->lim.max_xml_depth = 1;
	if (cb != NULL)
		a->cb = *cb;
	a->ctx = ctx;
	a->stack_cap = a->lim.max_xml_depth + 2;
	if (stack == NULL || stack_cap != a->stack_cap) {
		free(stack);
		stack = xcalloc(a->stack_cap, sizeof(*a->stack));
	}
	a->stack = stack;
	if (filter == NULL)
		filter = aggregate_filter_new(a->lim.max_xml_depth,
		    agg_filter_warn, a);
	else
		aggregate_filter_reset(filter, a->lim.max_xml_depth,
		    agg_filter_warn, a);
	a->filter = filter;
	a->rep.begin = a->rep.end = -1;
	a->rep.policy.pct = -1;
	if (agg_new_parser(a) < 0) {
		/* Out of memory inside expat: report it at the first feed. */
		a->halted = 1;
	}
}

struct aggregate *
aggregate_new(const struct limits *lim, const struct aggregate_cb *cb,
    void *ctx)
{
	struct aggregate *a;

	pthread_once(&agg_spare_once, agg_spare_key_init);
	a = pthread_getspecific(agg_spare_key);
	if (a != NULL) {
		pthread_setspecific(agg_spare_key, NULL);
	} else {
		a = xcalloc(1, sizeof(*a));
		arena_init(&a->harena, 4096);
		arena_init(&a->rarena, 4096);
	}
	agg_setup(a, lim, cb, ctx);
	return a;
}

void
aggregate_reset(struct aggregate *a, const struct limits *lim,
    const struct aggregate_cb *cb, void *ctx)
{
	agg_setup(a, lim, cb, ctx);
}

int
aggregate_not_dmarc(const struct aggregate *a)
{
	return a->not_dmarc;
}

void
aggregate_free(struct aggregate **ap)
{
	struct aggregate *a = *ap;

	if (a == NULL)
		return;
	*ap = NULL;
	pthread_once(&agg_spare_once, agg_spare_key_init);
	if (a->xp != NULL && pthread_getspecific(agg_spare_key) == NULL &&
	    pthread_setspecific(agg_spare_key, a) == 0)
		return;
	agg_destroy(a);
}

static int
agg_error_out(struct aggregate *a, char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", a->err);
	return a->cb_ret ? a->cb_ret : -1;
}

int
aggregate_feed(struct aggregate *a, const void *buf, size_t len, char *err,
    size_t errlen)
{
	const char *p = buf, *out;
	size_t outlen, slice;
	char ferr[256];
	int r;

	if (a->halted || a->finished) {
		if (!a->failed && !a->cb_ret && a->finished)
			snprintf(a->err, sizeof(a->err), "feed after finish");
		return agg_error_out(a, err, errlen);
	}
	if (a->lim.max_expanded_bytes > 0 &&
	    a->fed_in + len > a->lim.max_expanded_bytes) {
		agg_fail(a, "document larger than max_expanded_bytes (%llu)",
		    (unsigned long long)a->lim.max_expanded_bytes);
		return agg_error_out(a, err, errlen);
	}
	a->fed_in += len;
	while (len > 0) {
		slice = len > AGGREGATE_FILTER_SLICE ? AGGREGATE_FILTER_SLICE :
		    len;
		if (aggregate_filter_push(a->filter, p, slice, &out, &outlen,
		    ferr, sizeof(ferr)) < 0) {
			r = agg_parse(a, out, outlen, 0);
			if (r > 0)
				return agg_error_out(a, err, errlen);
			a->failed = 0;
			agg_fail(a, "%s", ferr);
			return agg_error_out(a, err, errlen);
		}
		r = agg_parse(a, out, outlen, 0);
		if (r != 0)
			return agg_error_out(a, err, errlen);
		p += slice;
		len -= slice;
	}
	return 0;
}

static void
agg_emit_counters(struct aggregate *a)
{
	const struct agg_counter *c = a->wc;

	if (c[WC_RESYNC].n)
		agg_warnf(a, "recovered from %llu XML error(s) by skipping to "
		    "the next <record> (first: %s)", c[WC_RESYNC].n,
		    c[WC_RESYNC].first);
	if (c[WC_PARTIAL].n)
		agg_warnf(a, "dropped %llu incomplete record(s)",
		    c[WC_PARTIAL].n);
	if (c[WC_BAD_IP].n)
		agg_warnf(a, "invalid source_ip kept as written in %llu "
		    "record(s) (first: \"%s\")", c[WC_BAD_IP].n,
		    c[WC_BAD_IP].first);
	if (c[WC_NO_IP].n)
		agg_warnf(a, "%llu record(s) with a missing or empty source_ip",
		    c[WC_NO_IP].n);
	if (c[WC_BAD_COUNT].n)
		agg_warnf(a, "missing or invalid <count> taken as 0 in %llu "
		    "record(s) (first: \"%s\")", c[WC_BAD_COUNT].n,
		    c[WC_BAD_COUNT].first);
	if (c[WC_TOO_MANY].n)
		agg_warnf(a, "dropped %llu dkim/spf/reason/error entries "
		    "beyond max_results (%u)", c[WC_TOO_MANY].n,
		    a->lim.max_results);
	if (c[WC_TRUNC].n)
		agg_warnf(a, "truncated %llu text value(s) longer than "
		    "max_text (%u bytes)", c[WC_TRUNC].n, a->lim.max_text);
	if (c[WC_CAP_TRUNC].n)
		agg_warnf(a, "extension XML longer than max_text (%u bytes) "
		    "dropped or cut %llu time(s)", a->lim.max_text,
		    c[WC_CAP_TRUNC].n);
	if (c[WC_DUP].n)
		agg_warnf(a, "ignored %llu repeated element(s) (kept the "
		    "first)", c[WC_DUP].n);
}

int
aggregate_finish(struct aggregate *a, const struct report **out, char *err,
    size_t errlen)
{
	const char *buf;
	size_t len, closes_at;
	int r;

	if (out != NULL)
		*out = NULL;
	if (a->halted || a->finished)
		return agg_error_out(a, err, errlen);
	a->finished = 1;
	if (aggregate_filter_finish(a->filter, &buf, &len, &closes_at, a->err,
	    sizeof(a->err)) < 0) {
		a->failed = a->halted = 1;
		return agg_error_out(a, err, errlen);
	}
	r = agg_parse(a, buf, closes_at, 0);
	if (r == 0 && !a->resync_pending) {
		a->eof_closing = 1;
		r = agg_parse(a, buf + closes_at, len - closes_at, 1);
	}
	if (r > 0)
		return agg_error_out(a, err, errlen);
	if (a->fed_in == 0 || aggregate_filter_is_blank(a->filter)) {
		a->failed = 0;
		agg_fail(a, "empty input");
		return agg_error_out(a, err, errlen);
	}
	if (!a->got_root) {
		a->failed = 0;
		if (a->root_name[0] != '\0')
			agg_fail(a, "not a DMARC aggregate report: root "
			    "element is <%s>", a->root_name);
		else if (r < 0 && aggregate_filter_saw_element(a->filter))
			return agg_error_out(a, err, errlen);
		else
			agg_fail(a, "not a DMARC aggregate report: no XML "
			    "element found");
		a->not_dmarc = 1;
		return agg_error_out(a, err, errlen);
	}
	if (r < 0) {
		/* Damage at the very end of a usable report is a warning. */
		if (a->have_meta && a->have_policy &&
		    strncmp(a->err, "XML error", 9) == 0) {
			agg_warn(a, a->err);
			a->failed = a->halted = 0;
		} else {
			return agg_error_out(a, err, errlen);
		}
	}
	if (!a->have_meta && !a->have_policy) {
		agg_fail(a, "not a DMARC aggregate report: <feedback> has "
		    "neither report_metadata nor policy_published");
		return agg_error_out(a, err, errlen);
	}
	if (!a->have_meta || !a->have_policy) {
		agg_fail(a, "unusable aggregate report: no <%s>",
		    a->have_meta ? "policy_published" : "report_metadata");
		return agg_error_out(a, err, errlen);
	}
	agg_header_normalize(a, 1);
	aggregate_filter_summary(a->filter);
	agg_emit_counters(a);
	if (a->warn_dropped > 0) {
		unsigned long long dropped = a->warn_dropped;

		/* Replace the last kept line by a count of the rest. */
		a->rep.n_warnings--;
		agg_warnf(a, "%llu further warning(s) not shown", dropped + 1);
	}
	if (!a->header_sent) {
		agg_send_header(a);
		if (a->cb_ret)
			return agg_error_out(a, err, errlen);
	}
	if (out != NULL)
		*out = &a->rep;
	return 0;
}

int
aggregate_parse_buffer(const struct limits *lim, const void *buf, size_t len,
    const struct aggregate_cb *cb, void *ctx, const struct report **out,
    struct aggregate **owner, char *err, size_t errlen)
{
	struct aggregate *a = aggregate_new(lim, cb, ctx);
	int r;

	r = aggregate_feed(a, buf, len, err, errlen);
	if (r == 0)
		r = aggregate_finish(a, out, err, errlen);
	if (owner != NULL) {
		*owner = a;
	} else {
		if (out != NULL)
			*out = NULL;
		aggregate_free(&a);
	}
	return r;
}
