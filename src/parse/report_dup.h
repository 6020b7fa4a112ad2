/*
 * report_dup.h - deep copies of the report model in one allocation each,
 * so a parsed header or record can outlive the parser's callback (the
 * import pipeline hands them from the parsing thread to the storing one).
 * Free the result with free().
 */
#ifndef DMARCSTAT_REPORT_DUP_H
#define DMARCSTAT_REPORT_DUP_H
#include "parse/report.h"

struct report *report_dup(const struct report *r);
struct report_record *report_record_dup(const struct report_record *rec);

#endif
