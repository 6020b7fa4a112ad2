/*
 * limits.h - every bound on untrusted input, in one place.  Each field is a
 * setting (see docs/configuration.md); limits_default() gives the defaults.
 * Past a limit, the input is rejected with a reason naming the limit.
 */
#ifndef DMARCSTAT_LIMITS_H
#define DMARCSTAT_LIMITS_H
#include <stdint.h>

struct limits {
	uint64_t max_input_bytes;      /* one file, message or upload as received */
	uint64_t max_expanded_bytes;   /* one document after all decompression */
	unsigned max_archive_members;  /* zip members looked at per archive */
	unsigned max_nesting;          /* gzip/zip/MIME/message layers */
	unsigned max_mime_parts;       /* leaf parts per message */
	uint64_t max_records;          /* <record>s per report */
	unsigned max_results;          /* dkim / spf / reason entries per record */
	unsigned max_text;             /* bytes of one XML text value */
	unsigned max_xml_depth;        /* element nesting */
	unsigned max_header_bytes;     /* one mail header line (unfolded) */
};

static inline void
limits_default(struct limits *l)
{
	l->max_input_bytes = 1ULL << 30;        /* 1 GiB */
	l->max_expanded_bytes = 1ULL << 30;     /* 1 GiB */
	l->max_archive_members = 256;
	l->max_nesting = 8;
	l->max_mime_parts = 256;
	l->max_records = 10000000;
	l->max_results = 100;
	l->max_text = 64 * 1024;
	l->max_xml_depth = 32;
	l->max_header_bytes = 64 * 1024;
}

#endif
