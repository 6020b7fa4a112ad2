/*
 * utf8.h - UTF-8 validation shared by the writers of JSON and text for
 * people (report_json.c, query_dash.c, store_sqlite.c's records.detail).
 * The parser's byte filter (aggregate_filter.c) has its own decoder: it
 * must tell a cut sequence from a bad one and wants the code point.
 */
#ifndef DMARCSTAT_UTF8_H
#define DMARCSTAT_UTF8_H
#include <stddef.h>

/*
 * Length (1-4) of the valid UTF-8 sequence at s[0..n), n > 0; 0 when it is
 * not one (bad lead or continuation byte, overlong form, surrogate, above
 * U+10FFFF, or cut by n).
 */
size_t utf8_len(const unsigned char *s, size_t n);

/* 1 when all of s[0..n) is valid UTF-8. */
int utf8_valid(const unsigned char *s, size_t n);

#endif
