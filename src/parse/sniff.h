/*
 * sniff.h - what a blob of bytes is, from its content alone (never from a
 * file name or a declared MIME type).
 */
#ifndef DMARCSTAT_SNIFF_H
#define DMARCSTAT_SNIFF_H
#include <stddef.h>

enum sniff_kind {
	SNIFF_EMPTY,     /* no bytes, or only whitespace */
	SNIFF_GZIP,      /* 1f 8b */
	SNIFF_ZIP,       /* PK\3\4 (or an empty archive PK\5\6) */
	SNIFF_XML,       /* optional BOM, whitespace, then '<' */
	SNIFF_JSON,      /* optional BOM, whitespace, then '{' or '[' */
	SNIFF_MBOX,      /* "From " line then a header */
	SNIFF_MIME,      /* RFC 5322 header block */
	SNIFF_OLE,       /* Outlook .msg (CFB) - recognised, unsupported */
	SNIFF_TAR,       /* "ustar" at offset 257 (POSIX or GNU tar) */
	SNIFF_COMPRESSED, /* bzip2, lz4, compress (.Z): one stream */
	SNIFF_OTHER_ARCHIVE, /* xz, zstd, 7z, rar, pdf... recognised, unsupported */
	SNIFF_UNKNOWN,
};

/* Looks at up to the first `n` bytes (callers pass at least 4 KiB when they have it). */
enum sniff_kind sniff(const void *p, size_t n);
const char *sniff_name(enum sniff_kind k);
/*
 * A short human name for what the bytes are, finer than the kind for binary
 * formats ("bzip2", "xz", "OLE compound file (Outlook .msg)"...), else the
 * kind's name.  Static string.
 */
const char *sniff_describe(const void *p, size_t n);

#endif
