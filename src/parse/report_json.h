/*
 * report_json.h - streaming JSON output of parsed aggregate reports, the
 * format of `dmarcstat parse --json` (docs/json-format.md).
 *
 * The output is one JSON array.  Each aggregate report is one object whose
 * records are written one at a time as the parser delivers them (jansson
 * builds one small tree per record or header, never one for the report),
 * so memory stays flat for a report of any size.
 *
 * Use:
 *     struct report_json *j = report_json_new(stdout);
 *     for each input:
 *         report_json_input(j, "path/or/label");
 *         a = aggregate_new(&lim, &report_json_cb, j);
 *         ... aggregate_feed() ..., rc = aggregate_finish(a, &rep, err, n);
 *         report_json_report_end(j, rc == 0 ? rep : NULL, rc ? err : NULL);
 *         aggregate_free(&a);
 *     other kinds of report: report_json_object(j, obj);
 *     if (report_json_free(&j) < 0) -> write error
 *
 * Strings in the output are exactly the model's (UTF-8); nothing is
 * escaped for HTML.  Functions never fail except through the FILE*: a
 * write error makes the callbacks return non-zero (stopping the parser) and
 * report_json_free() return -1.
 */
#ifndef DMARCSTAT_REPORT_JSON_H
#define DMARCSTAT_REPORT_JSON_H
#include <stdio.h>

#include <jansson.h>

#include "parse/aggregate.h"
#include "parse/report.h"

struct report_json;

/* Starts the array on fp (not owned; not closed by report_json_free). */
struct report_json *report_json_new(FILE *fp);
/*
 * Ends the array and frees j (accepts NULL; nulls the pointer).  A report
 * still open is closed first.  Returns 0, or -1 when writing to fp failed.
 */
int report_json_free(struct report_json **j);

/* Label written as "input" into the next object (copied; NULL = none). */
void report_json_input(struct report_json *j, const char *input);

/*
 * aggregate_cb-compatible callbacks (ctx = the struct report_json *).
 * on_header opens the report object and writes the header fields as they
 * are at that moment; on_record appends one record.  Both return 0, or 1
 * after a write error.
 */
int report_json_on_header(void *ctx, const struct report *hdr);
int report_json_on_record(void *ctx, const struct report *r,
    const struct report_record *rec);
/* { report_json_on_header, report_json_on_record } */
extern const struct aggregate_cb report_json_cb;

/*
 * Ends the current input.  If a report object is open: closes "records"
 * and writes "record_count", "message_total" and "warnings" from `final`
 * (or from what was written when final is NULL), and "error" when error is
 * not NULL (a report that failed half-way).  If no report was opened,
 * writes {"kind":"aggregate","input":...,"error":error} when error is not
 * NULL, and nothing otherwise.
 */
void report_json_report_end(struct report_json *j, const struct report *final,
    const char *error);

/* Writes any other object (failure or TLS report) as one array element;
 * takes over the reference to obj. */
void report_json_object(struct report_json *j, json_t *obj);

/*
 * The objects themselves, for other writers of the same shape (web API).
 * New references; header objects have no "records" member.
 */
json_t *report_json_header(const char *input, const struct report *r);
json_t *report_json_record(const struct report_record *rec);
/* "pass" if either policy_evaluated verdict passed, "fail" if both
 * failed, else "unknown". */
const char *report_json_dmarc(const struct report_record *rec);

#endif
