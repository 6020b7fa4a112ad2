/*
 * sniff.c - classify a blob by its first bytes (see sniff.h).
 *
 * Public: sniff(), sniff_name(), sniff_describe().  Pure functions over the
 * caller's buffer: no allocation, no state, at most `n` bytes looked at
 * (callers pass up to 4 KiB).  The order of the tests matters: binary magic
 * first (gzip, zip, OLE, compressors, other archives, then a tar header),
 * then text after an optional BOM
 * (XML, JSON, empty), then mail (mbox From_ line, RFC 5322 header block).
 * Names and declared types are never consulted.
 */
#include <string.h>
#include <strings.h>

#include "parse/sniff.h"

/* A binary signature and what to call it in messages. */
struct sniff_magic {
	const char *bytes;
	size_t len;
	enum sniff_kind kind;
	const char *what;
};

static const struct sniff_magic sniff_magics[] = {
	{ "\x1f\x8b", 2, SNIFF_GZIP, "gzip" },
	{ "PK\x03\x04", 4, SNIFF_ZIP, "zip" },
	{ "PK\x05\x06", 4, SNIFF_ZIP, "zip (empty)" },
	{ "PK\x07\x08PK\x03\x04", 8, SNIFF_ZIP, "zip (spanned marker)" },
	{ "\xd0\xcf\x11\xe0", 4, SNIFF_OLE, "OLE compound file (Outlook .msg)" },
	{ "BZh", 3, SNIFF_COMPRESSED, "bzip2" },
	{ "\xfd" "7zXZ\x00", 6, SNIFF_OTHER_ARCHIVE, "xz" },
	{ "\x28\xb5\x2f\xfd", 4, SNIFF_OTHER_ARCHIVE, "zstd" },
	{ "7z\xbc\xaf\x27\x1c", 6, SNIFF_OTHER_ARCHIVE, "7z" },
	{ "Rar!\x1a\x07", 6, SNIFF_OTHER_ARCHIVE, "rar" },
	{ "%PDF-", 5, SNIFF_OTHER_ARCHIVE, "pdf" },
	{ "\x04\x22\x4d\x18", 4, SNIFF_COMPRESSED, "lz4" },
	{ "\x1f\x9d", 2, SNIFF_COMPRESSED, "compress (.Z)" },
};

/* Header names that make a `Name: value` block look like a mail header. */
static const char *const sniff_mail_headers[] = {
	"received", "from", "return-path", "delivered-to", "mime-version",
	"content-type", "subject", "message-id", "date", "to", "cc",
	"reply-to", "sender", "dkim-signature", "authentication-results",
	"received-spf", "arc-seal", "arc-message-signature",
	"arc-authentication-results", "content-transfer-encoding",
	"content-disposition", "x-original-to", "envelope-to", "thread-topic",
	"in-reply-to", "references", "list-id", "importance",
};

static int
sniff_is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

static const struct sniff_magic *
sniff_magic_find(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < sizeof sniff_magics / sizeof sniff_magics[0]; i++) {
		const struct sniff_magic *m = &sniff_magics[i];
		if (n >= m->len && memcmp(p, m->bytes, m->len) == 0)
			return m;
	}
	return NULL;
}

/*
 * A tar header block: "ustar" at offset 257 (POSIX "ustar\0", GNU
 * "ustar  \0") and a header checksum that adds up (the unsigned sum of the
 * 512 bytes with the checksum field counted as spaces), so that text which
 * happens to hold "ustar" there is not taken for an archive.
 */
static int
sniff_tar(const unsigned char *p, size_t n)
{
	unsigned long sum = 0, want = 0;
	size_t i;

	if (n < 512 || memcmp(p + 257, "ustar", 5) != 0 ||
	    (p[262] != '\0' && p[262] != ' '))
		return 0;
	for (i = 0; i < 512; i++)
		sum += i >= 148 && i < 156 ? ' ' : p[i];
	for (i = 148; i < 156 && p[i] == ' '; i++)
		;
	if (i == 156 || p[i] < '0' || p[i] > '7')
		return 0;
	for (; i < 156 && p[i] >= '0' && p[i] <= '7'; i++)
		want = want * 8 + (unsigned long)(p[i] - '0');
	return sum == want;
}

/*
 * Text after a UTF-16 BOM (or a BOM-less "<\0" / "\0<" start): skip
 * whitespace code units and look at the first other one.
 */
static enum sniff_kind
sniff_utf16(const unsigned char *p, size_t n, int big_endian)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2) {
		unsigned c = big_endian ? ((unsigned)p[i] << 8 | p[i + 1]) :
		    ((unsigned)p[i + 1] << 8 | p[i]);
		if (c < 0x80 && sniff_is_ws((unsigned char)c))
			continue;
		if (c == '<')
			return SNIFF_XML;
		if (c == '{' || c == '[')
			return SNIFF_JSON;
		return SNIFF_UNKNOWN;
	}
	return SNIFF_EMPTY;
}

/* Length of the line starting at p (without its LF), and whether it ended. */
static size_t
sniff_line(const unsigned char *p, size_t n, int *complete)
{
	const unsigned char *nl = memchr(p, '\n', n);

	*complete = nl != NULL;
	return nl ? (size_t)(nl - p) : n;
}

/*
 * Is p[0..len) a header field "Name: value" (RFC 5322 2.2: printable ASCII
 * name without ':', obsolete whitespace before the colon tolerated)?  On
 * success *name_len is the length of the name.
 */
static int
sniff_header_line(const unsigned char *p, size_t len, size_t *name_len)
{
	size_t i = 0;

	while (i < len && p[i] > 32 && p[i] < 127 && p[i] != ':')
		i++;
	if (i == 0 || i > 76)
		return 0;
	*name_len = i;
	while (i < len && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < len && p[i] == ':';
}

static int
sniff_known_header(const unsigned char *p, size_t len)
{
	size_t i;

	if (len > 2 && (p[0] == 'X' || p[0] == 'x') && p[1] == '-')
		return 1;
	for (i = 0; i < sizeof sniff_mail_headers / sizeof sniff_mail_headers[0];
	    i++) {
		const char *h = sniff_mail_headers[i];
		if (strlen(h) == len && strncasecmp(h, (const char *)p, len) == 0)
			return 1;
	}
	return 0;
}

/*
 * A mail header block: every line up to the blank line (or to the end of
 * the window, where the last line may be cut) is a header field or a
 * folded continuation of one, and at least one name is a usual mail header.
 */
static int
sniff_header_block(const unsigned char *p, size_t n)
{
	size_t off = 0, lines = 0;
	int known = 0;

	while (off < n) {
		int complete;
		size_t len = sniff_line(p + off, n - off, &complete), name_len;
		size_t tlen = len;

		if (tlen > 0 && p[off + tlen - 1] == '\r')
			tlen--;
		if (tlen == 0 && complete)
			break;                      /* end of the header block */
		if (p[off] == ' ' || p[off] == '\t') {
			if (lines == 0)
				return 0;           /* continuation of nothing */
		} else if (sniff_header_line(p + off, tlen, &name_len)) {
			lines++;
			if (sniff_known_header(p + off, name_len))
				known = 1;
		} else if (complete || tlen >= 77) {
			return 0;
		}
		/* else: the window cut a name short; judge what we saw */
		off += len + (complete ? 1 : 0);
	}
	return lines > 0 && known;
}

static enum sniff_kind
sniff_mail(const unsigned char *p, size_t n)
{
	if (n >= 5 && memcmp(p, "From ", 5) == 0) {
		int complete;
		size_t len = sniff_line(p, n, &complete);

		/* "From_ line then a header"; a window ending in the From_ line
		 * itself is given the benefit of the doubt. */
		if (!complete)
			return SNIFF_MBOX;
		if (sniff_header_block(p + len + 1, n - len - 1))
			return SNIFF_MBOX;
		return SNIFF_UNKNOWN;
	}
	if (sniff_header_block(p, n))
		return SNIFF_MIME;
	return SNIFF_UNKNOWN;
}

enum sniff_kind
sniff(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	const struct sniff_magic *m;
	size_t i = 0;

	if (n == 0)
		return SNIFF_EMPTY;
	if ((m = sniff_magic_find(p, n)) != NULL)
		return m->kind;
	if (sniff_tar(p, n))
		return SNIFF_TAR;
	if (n >= 2 && p[0] == 0xff && p[1] == 0xfe)
		return sniff_utf16(p + 2, n - 2, 0);
	if (n >= 2 && p[0] == 0xfe && p[1] == 0xff)
		return sniff_utf16(p + 2, n - 2, 1);
	if (n >= 4 && p[0] == '<' && p[1] == 0 && p[2] != 0)
		return SNIFF_XML;               /* UTF-16LE without BOM */
	if (n >= 4 && p[0] == 0 && p[1] == '<' && p[3] != 0)
		return SNIFF_XML;               /* UTF-16BE without BOM */
	if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		i = 3;
	while (i < n && sniff_is_ws(p[i]))
		i++;
	if (i == n)
		return SNIFF_EMPTY;
	if (p[i] == '<')
		return SNIFF_XML;
	if (p[i] == '{' || p[i] == '[')
		return SNIFF_JSON;
	if (i > 0)
		return SNIFF_UNKNOWN;           /* mail never starts with a BOM or blank */
	return sniff_mail(p, n);
}

const char *
sniff_name(enum sniff_kind k)
{
	switch (k) {
	case SNIFF_EMPTY:
		return "empty";
	case SNIFF_GZIP:
		return "gzip";
	case SNIFF_ZIP:
		return "zip";
	case SNIFF_XML:
		return "xml";
	case SNIFF_JSON:
		return "json";
	case SNIFF_MBOX:
		return "mbox";
	case SNIFF_MIME:
		return "mime";
	case SNIFF_OLE:
		return "ole";
	case SNIFF_TAR:
		return "tar";
	case SNIFF_COMPRESSED:
		return "compressed";
	case SNIFF_OTHER_ARCHIVE:
		return "other-archive";
	case SNIFF_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *
sniff_describe(const void *buf, size_t n)
{
	const struct sniff_magic *m = sniff_magic_find(buf, n);

	if (m != NULL)
		return m->what;
	return sniff_name(sniff(buf, n));
}
