/*
 * reasontr.c - translation of English reasons and warnings (reasontr.h).
 *
 * The catalog (web/i18n/reasons.json, embedded with the dashboard's files)
 * is read once per process into compiled patterns: literal runs and %s /
 * %d holes.  Matching is a small backtracking walk over the tokens, in the
 * order a regular expression /^...$/ with ([\s\S]*?) and (-?\d+) would
 * try, so that web/js/reasons.js, which builds exactly that expression,
 * picks the same pattern and the same captures.  Patterns are short and
 * texts are cut at REASON_MAX bytes, so the walk is bounded.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/reasontr.h"
#include "lib/xalloc.h"
#include "web/assets.h"

#define REASON_MAX 2048          /* longest text looked at */
#define REASON_DEPTH 4           /* reasons inside reasons */
#define REASON_CAPS 9            /* %1 .. %9 */

enum { T_LIT, T_ANY, T_NUM };

struct tok {
	int kind;
	const char *lit;             /* T_LIT: into the pattern string */
	size_t len;
};

struct pat {
	char *en, *ja;
	struct tok *t;
	size_t nt;
};

static struct pat *pats;
static size_t npats;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

/* "%s", "%d" and literal runs ("%%" is a literal '%'). */
static int
compile(struct pat *p)
{
	const char *s = p->en;
	size_t cap = 8, nholes = 0;

	p->t = xcalloc(cap, sizeof *p->t);
	p->nt = 0;
	while (*s) {
		struct tok t = { T_LIT, s, 0 };

		if (s[0] == '%' && (s[1] == 's' || s[1] == 'd')) {
			t.kind = s[1] == 's' ? T_ANY : T_NUM;
			s += 2;
			if (++nholes > REASON_CAPS)
				return -1;
		} else if (s[0] == '%' && s[1] == '%') {
			t.lit = s + 1;
			t.len = 1;
			s += 2;
		} else {
			while (*s && *s != '%')
				s++;
			t.len = (size_t)(s - t.lit);
			if (t.len == 0)
				return -1;       /* a lone '%' */
		}
		if (p->nt == cap) {
			cap *= 2;
			p->t = xrealloc(p->t, cap * sizeof *p->t);
		}
		p->t[p->nt++] = t;
	}
	return p->nt > 0 ? 0 : -1;
}

static void
load(void)
{
	const struct asset *a = assets_find("/i18n/reasons.json");
	json_t *root, *list, *e;
	size_t i;

	if (a == NULL || (root = json_loadb((const char *)a->data, a->len, 0,
	    NULL)) == NULL)
		return;
	list = json_object_get(root, "reasons");
	pats = xcalloc(json_array_size(list) + 1, sizeof *pats);
	json_array_foreach(list, i, e) {
		const char *en = json_string_value(json_object_get(e, "en"));
		const char *ja = json_string_value(json_object_get(e, "ja"));
		struct pat *p = &pats[npats];

		if (en == NULL || ja == NULL)
			continue;
		p->en = xstrdup(en);
		p->ja = xstrdup(ja);
		if (compile(p) != 0) {
			free(p->en);
			free(p->ja);
			free(p->t);
			continue;
		}
		npats++;
	}
	json_decref(root);
}

size_t
reason_tr_count(void)
{
	pthread_once(&load_once, load);
	return npats;
}

struct span {
	size_t off, len;
	int any;                     /* from %s: translated in turn */
};

/*
 * Tokens ti.. of p against s[pos..n); caps[] filled on success.  *budget
 * bounds the backtracking (a hostile text with many candidate cut points
 * simply does not match).
 */
static int
match(const struct pat *p, size_t ti, const char *s, size_t n, size_t pos,
    struct span *caps, int nc, long *budget)
{
	const struct tok *t;
	size_t end;

	if (--*budget < 0)
		return 0;
	if (ti == p->nt)
		return pos == n;
	t = &p->t[ti];
	switch (t->kind) {
	case T_LIT:
		if (n - pos < t->len || memcmp(s + pos, t->lit, t->len) != 0)
			return 0;
		return match(p, ti + 1, s, n, pos + t->len, caps, nc, budget);
	case T_ANY:
		/* shortest first, like ([\s\S]*?) */
		for (end = pos; end <= n; end++) {
			const struct tok *next = ti + 1 < p->nt ? &p->t[ti + 1] : NULL;

			/* only where the literal that follows can start */
			if (next != NULL && next->kind == T_LIT &&
			    (n - end < next->len || s[end] != next->lit[0]))
				continue;
			caps[nc] = (struct span){ pos, end - pos, 1 };
			if (match(p, ti + 1, s, n, end, caps, nc + 1, budget))
				return 1;
			if (*budget < 0)
				return 0;
		}
		return 0;
	default: {
		/* longest first, like (-?\d+) */
		size_t d = pos + (pos < n && s[pos] == '-');
		size_t last = d;

		while (last < n && s[last] >= '0' && s[last] <= '9')
			last++;
		for (end = last; end > d; end--) {
			caps[nc] = (struct span){ pos, end - pos, 0 };
			if (match(p, ti + 1, s, n, end, caps, nc + 1, budget))
				return 1;
		}
		return 0;
	}
	}
}

struct out {
	char *p;
	size_t len, cap;             /* cap includes the NUL */
	int full;                    /* a piece was cut: nothing more fits */
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->len + 1 >= o->cap)
		return;
	if (n > o->cap - 1 - o->len) {
		/* cut, but never inside a UTF-8 sequence, and the end: the
		 * output stays a prefix of the whole translation */
		n = o->cap - 1 - o->len;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		o->full = 1;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

/* back to a mark taken as (len, full) */
static void
rewind_to(struct out *o, size_t mark, int full)
{
	o->full = full;
	o->len = mark;
	o->p[o->len] = '\0';
}

static int tr(const char *s, size_t n, struct out *o, int depth);

/* A capture, always written: translated whole, else item by item of a
 * ", " list, else as it is.  1 when something was translated. */
static int
tr_capture(const char *s, size_t n, struct out *o, int depth)
{
	const char *sep;
	size_t start = 0, mark = o->len;
	int done = 0, full = o->full;

	if (tr(s, n, o, depth))
		return 1;
	while (start <= n) {
		sep = memmem(s + start, n - start, ", ", 2);
		size_t len = sep ? (size_t)(sep - s) - start : n - start;

		if (tr(s + start, len, o, depth))
			done = 1;
		else
			put(o, s + start, len);
		if (sep == NULL)
			break;
		put(o, ", ", 2);
		start = (size_t)(sep - s) + 2;
	}
	if (!done) {
		rewind_to(o, mark, full);
		put(o, s, n);
	}
	return done;
}

/* Appends the translation of s[0..n) and returns 1, or appends nothing
 * and returns 0. */
static int
tr(const char *s, size_t n, struct out *o, int depth)
{
	struct span caps[REASON_CAPS];
	const char *colon;
	size_t i, mark = o->len;
	int full = o->full;

	if (depth >= REASON_DEPTH)
		return 0;
	for (i = 0; i < npats; i++) {
		const struct pat *p = &pats[i];
		const char *j;
		long budget = 20000;
		int holes = 0;

		if (!match(p, 0, s, n, 0, caps, 0, &budget))
			continue;
		for (size_t x = 0; x < p->nt; x++)
			holes += p->t[x].kind != T_LIT;
		for (j = p->ja; *j; ) {
			if (j[0] == '%' && j[1] >= '1' && j[1] <= '9') {
				int k = j[1] - '1';

				if (k < holes && caps[k].any)
					tr_capture(s + caps[k].off, caps[k].len, o,
					    depth + 1);
				else if (k < holes)
					put(o, s + caps[k].off, caps[k].len);
				j += 2;
			} else if (j[0] == '%' && j[1] == '%') {
				put(o, "%", 1);
				j += 2;
			} else {
				const char *e = strchr(j + 1, '%');
				size_t len = e ? (size_t)(e - j) : strlen(j);

				put(o, j, len);
				j += len;
			}
		}
		return 1;
	}
	colon = memmem(s, n, ": ", 2);
	if (colon != NULL) {
		size_t head = (size_t)(colon - s) + 2;

		put(o, s, head);
		if (tr(s + head, n - head, o, depth + 1))
			return 1;
		rewind_to(o, mark, full);
	}
	return 0;
}

const char *
reason_tr(const char *lang, const char *text, char *out, size_t outlen,
    int *done)
{
	struct out o = { out, 0, outlen, 0 };
	size_t n;
	int ok = 0;

	if (done != NULL)
		*done = 0;
	if (outlen == 0)
		return out;
	out[0] = '\0';
	if (text == NULL)
		return out;
	n = strlen(text);
	if (lang == NULL || strcmp(lang, "ja") != 0 || n > REASON_MAX) {
		put(&o, text, n);
		return out;
	}
	pthread_once(&load_once, load);
	ok = tr(text, n, &o, 0);
	if (!ok)
		put(&o, text, n);
	if (done != NULL)
		*done = ok;
	return out;
}
