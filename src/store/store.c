/*
 * store.c - the public store_* functions: pick a backend by URI and
 * dispatch through its struct store_ops (store_impl.h).  Also the rules all
 * backends share: dedup key and per-day spreading.
 *
 * Nothing here touches a database.  Memory: the backend owns its handle;
 * store_close frees it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "store/store_impl.h"

int
store_seterr(struct store *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	return -1;
}

struct store *
store_open(const char *uri, int readonly, char *err, size_t errlen)
{
	if (uri == NULL || *uri == '\0') {
		snprintf(err, errlen, "no database path given");
		return NULL;
	}
	if (strncasecmp(uri, "postgres://", 11) == 0 ||
	    strncasecmp(uri, "postgresql://", 13) == 0) {
		snprintf(err, errlen, "%s: PostgreSQL backend not available in "
		    "this build", uri);
		return NULL;
	}
	if (strncmp(uri, "sqlite:", 7) == 0)
		uri += 7;
	return store_sqlite_open(uri, readonly, err, errlen);
}

void
store_close(struct store **st)
{
	if (st == NULL || *st == NULL)
		return;
	(*st)->ops->close(*st);
	*st = NULL;
}

const char *
store_errmsg(struct store *st)
{
	return st ? st->err : "no store";
}

int
store_set_busy_timeout(struct store *st, int ms)
{
	return st->ops->set_busy_timeout(st, ms);
}

int
store_begin(struct store *st)
{
	return st->ops->begin(st);
}

int
store_commit(struct store *st)
{
	return st->ops->commit(st);
}

int
store_rollback(struct store *st)
{
	return st->ops->rollback(st);
}

int
store_raw_put(struct store *st, const uint8_t sha256[32], const void *data,
    size_t len, int64_t *raw_id_out)
{
	return st->ops->raw_put(st, sha256, data, len, raw_id_out);
}

int
store_raw_put_fd(struct store *st, const uint8_t sha256[32], int fd,
    uint64_t len, int64_t *raw_id_out)
{
	return st->ops->raw_put_fd(st, sha256, fd, len, raw_id_out);
}

int
store_raw_get(struct store *st, int64_t raw_id, void **data_out, size_t *len_out)
{
	return st->ops->raw_get(st, raw_id, data_out, len_out);
}

struct rd *
store_raw_open(struct store *st, int64_t raw_id)
{
	return st->ops->raw_open(st, raw_id);
}

int
store_ledger_add(struct store *st, const struct ledger_entry *e, int64_t *id_out)
{
	return st->ops->ledger_add(st, e, id_out);
}

int
store_report_begin(struct store *st, const struct report *hdr,
    int64_t raw_id, int64_t *report_out, int64_t *dup_out)
{
	return st->ops->report_begin(st, hdr, raw_id, report_out, dup_out);
}

int
store_report_record(struct store *st, int64_t report,
    const struct report *hdr, const struct report_record *rec)
{
	return st->ops->report_record(st, report, hdr, rec);
}

int
store_report_end(struct store *st, int64_t report, const struct report *final,
    const uint8_t content_hash[32], int64_t *dup_out)
{
	return st->ops->report_end(st, report, final, content_hash, dup_out);
}

int
store_report_abort(struct store *st, int64_t report)
{
	return st->ops->report_abort(st, report);
}

int
store_report_delete(struct store *st, int64_t report)
{
	return st->ops->report_delete(st, report);
}

struct sqlite3 *
store_sqlite_handle(struct store *st)
{
	return st->ops->sqlite_handle ? st->ops->sqlite_handle(st) : NULL;
}

/* floor division: day start of t, also for t < 0 */
static int64_t
store_day_of(int64_t t)
{
	int64_t d = t / STORE_DAY;

	if (t % STORE_DAY < 0)
		d--;
	return d * STORE_DAY;
}

/*
 * Largest-remainder split of count over the overlap of [begin, end) with
 * each UTC day.  At most 62 days, so two passes over fixed arrays; the
 * products count * overlap fit in 128 bits.
 */
size_t
store_spread(int64_t begin, int64_t end, uint64_t count,
    int64_t days_out[STORE_SPREAD_MAX_DAYS],
    uint64_t parts_out[STORE_SPREAD_MAX_DAYS], int *capped_out)
{
	uint64_t rem[STORE_SPREAD_MAX_DAYS];
	int64_t first, last, span;
	uint64_t given = 0;
	size_t n, i, j, out;

	*capped_out = 0;
	if (begin < 0)
		begin = end < 0 ? 0 : end;
	if (count == 0)
		return 0;
	if (end <= begin) {
		days_out[0] = store_day_of(begin);
		parts_out[0] = count;
		return 1;
	}
	first = store_day_of(begin);
	last = store_day_of(end - 1);
	n = (size_t)((last - first) / STORE_DAY) + 1;
	if (n == 1) {
		days_out[0] = first;
		parts_out[0] = count;
		return 1;
	}
	if (n > STORE_SPREAD_MAX_DAYS) {
		*capped_out = 1;
		days_out[0] = first;
		parts_out[0] = count;
		return 1;
	}
	span = end - begin;
	for (i = 0; i < n; i++) {
		int64_t d = first + (int64_t)i * STORE_DAY;
		int64_t lo = begin > d ? begin : d;
		int64_t hi = end < d + STORE_DAY ? end : d + STORE_DAY;
		unsigned __int128 p = (unsigned __int128)count * (uint64_t)(hi - lo);

		days_out[i] = d;
		parts_out[i] = (uint64_t)(p / (uint64_t)span);
		rem[i] = (uint64_t)(p % (uint64_t)span);
		given += parts_out[i];
	}
	/* hand out the leftover (< n) one each to the largest remainders */
	while (given < count) {
		size_t best = 0;
		for (j = 1; j < n; j++)
			if (rem[j] > rem[best])
				best = j;
		parts_out[best]++;
		rem[best] = 0;
		given++;
	}
	/* drop zero parts, keep order */
	for (i = 0, out = 0; i < n; i++) {
		if (parts_out[i] == 0)
			continue;
		days_out[out] = days_out[i];
		parts_out[out] = parts_out[i];
		out++;
	}
	return out;
}

static size_t
store_put_lower(char *buf, size_t buflen, size_t at, const char *s)
{
	for (; s && *s; s++, at++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (at + 1 < buflen)
			buf[at] = c;
	}
	return at;
}

size_t
store_dedup_key(char *buf, size_t buflen, const char *org,
    const char *report_id, const char *domain, int64_t begin, int64_t end)
{
	char tail[64];
	size_t at = 0;
	int n;

	at = store_put_lower(buf, buflen, at, org);
	at = store_put_lower(buf, buflen, at, "|");
	at = store_put_lower(buf, buflen, at, report_id);
	at = store_put_lower(buf, buflen, at, "|");
	/* the domain is lower case already; folding again is harmless */
	at = store_put_lower(buf, buflen, at, domain);
	n = snprintf(tail, sizeof tail, "|%lld|%lld", (long long)begin,
	    (long long)end);
	if (n > 0)
		at = store_put_lower(buf, buflen, at, tail);
	if (buflen > 0)
		buf[at < buflen ? at : buflen - 1] = '\0';
	return at;
}
