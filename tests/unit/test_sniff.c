/*
 * test_sniff.c - table-driven tests of parse/sniff: content decides, from
 * the first bytes alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "parse/sniff.h"

struct sniff_case {
	const char *name;
	const char *bytes;
	size_t len;             /* 0: strlen(bytes) */
	enum sniff_kind want;
};

#define B(s) s, sizeof(s) - 1

static const struct sniff_case cases[] = {
	{ "nothing", B(""), SNIFF_EMPTY },
	{ "blanks", B(" \r\n\t \n"), SNIFF_EMPTY },
	{ "bom and blanks", B("\xef\xbb\xbf  \n"), SNIFF_EMPTY },
	{ "gzip", B("\x1f\x8b\x08\x00\x00\x00"), SNIFF_GZIP },
	{ "gzip magic only", B("\x1f\x8b"), SNIFF_GZIP },
	{ "zip", B("PK\x03\x04\x14\x00"), SNIFF_ZIP },
	{ "empty zip", B("PK\x05\x06\0\0\0\0"), SNIFF_ZIP },
	{ "xml decl", B("<?xml version=\"1.0\"?><feedback/>"), SNIFF_XML },
	{ "xml no decl", B("<feedback>"), SNIFF_XML },
	{ "xml after blanks", B("\r\n  \t<feedback>"), SNIFF_XML },
	{ "xml utf-8 bom", B("\xef\xbb\xbf<?xml version=\"1.0\"?>"), SNIFF_XML },
	{ "xml utf-8 bom blanks", B("\xef\xbb\xbf\n <feedback>"), SNIFF_XML },
	{ "xml utf-16le bom", B("\xff\xfe<\0?\0x\0m\0l\0"), SNIFF_XML },
	{ "xml utf-16le bom blanks", B("\xff\xfe \0\n\0<\0f\0"), SNIFF_XML },
	{ "xml utf-16be bom", B("\xfe\xff\0<\0?\0x\0m\0l"), SNIFF_XML },
	{ "xml utf-16le no bom", B("<\0?\0x\0m\0l\0"), SNIFF_XML },
	{ "json utf-16le bom", B("\xff\xfe{\0\"\0"), SNIFF_JSON },
	{ "xml comment first", B("<!-- junk --><feedback>"), SNIFF_XML },
	{ "json object", B("{\"organization-name\":\"x\"}"), SNIFF_JSON },
	{ "json array", B("  [1,2]"), SNIFF_JSON },
	{ "json bom", B("\xef\xbb\xbf{}"), SNIFF_JSON },
	{ "mbox", B("From MAILER-DAEMON Tue Nov 14 22:13:20 2023\n"
	    "Return-Path: <a@b>\nSubject: x\n\nbody\n"), SNIFF_MBOX },
	{ "mbox crlf", B("From a@b Mon Jan 1 00:00:00 2024\r\n"
	    "Received: from x\r\n\tby y\r\n"), SNIFF_MBOX },
	{ "mbox cut in from line", B("From a@b Mon Jan 1"), SNIFF_MBOX },
	{ "from-prose", B("From here on, all is text.\nReally.\n"),
	    SNIFF_UNKNOWN },
	{ "mime", B("Received: from a by b;\n\tTue, 14 Nov 2023\n"
	    "From: x@y\nSubject: hi\n\nbody"), SNIFF_MIME },
	{ "mime crlf", B("Return-Path: <a@b>\r\nDelivered-To: c@d\r\n"
	    "MIME-Version: 1.0\r\n\r\n"), SNIFF_MIME },
	{ "mime x-header", B("X-Mailer: foo\nX-Other: bar\n\n"), SNIFF_MIME },
	{ "mime broken content type", B("ContentType: multipart/mixed\n"
	    "Subject: r\n\n"), SNIFF_MIME },
	{ "mime cut mid-header", B("Subject: report\nDKIM-Signature: v=1; a=rsa"),
	    SNIFF_MIME },
	{ "mime obs ws before colon", B("Subject : old style\n\n"), SNIFF_MIME },
	{ "only unknown headers", B("Feedback-Type: abuse\nVersion: 1\n"),
	    SNIFF_UNKNOWN },
	{ "header then prose", B("Subject: x\nthis is not a header\n"),
	    SNIFF_UNKNOWN },
	{ "continuation first", B(" folded: no\nSubject: x\n"), SNIFF_UNKNOWN },
	{ "ole", B("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"), SNIFF_OLE },
	{ "bzip2", B("BZh91AY&SY"), SNIFF_COMPRESSED },
	{ "xz", B("\xfd" "7zXZ\0\0"), SNIFF_OTHER_ARCHIVE },
	{ "zstd", B("\x28\xb5\x2f\xfd\0"), SNIFF_OTHER_ARCHIVE },
	{ "lz4", B("\x04\x22\x4d\x18\x64"), SNIFF_COMPRESSED },
	{ "compress", B("\x1f\x9d\x90"), SNIFF_COMPRESSED },
	{ "7z", B("7z\xbc\xaf\x27\x1c\0"), SNIFF_OTHER_ARCHIVE },
	{ "rar", B("Rar!\x1a\x07\x01\x00"), SNIFF_OTHER_ARCHIVE },
	{ "pdf", B("%PDF-1.7\n"), SNIFF_OTHER_ARCHIVE },
	{ "unused", B("unused\n"), SNIFF_UNKNOWN },
	{ "binary", B("\0\1\2\3"), SNIFF_UNKNOWN },
	{ "html is xml-ish", B("<html><body>"), SNIFF_XML },
};

static void
test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct sniff_case *c = &cases[i];
		enum sniff_kind got = sniff(c->bytes, c->len);

		if (got != c->want)
			fail_msg("%s: got %s, want %s", c->name, sniff_name(got),
			    sniff_name(c->want));
	}
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(sniff_name(SNIFF_GZIP), "gzip");
	assert_string_equal(sniff_name(SNIFF_XML), "xml");
	assert_string_equal(sniff_name(SNIFF_UNKNOWN), "unknown");
	assert_string_equal(sniff_describe("BZh9", 4), "bzip2");
	assert_string_equal(sniff_describe("\xd0\xcf\x11\xe0", 4),
	    "OLE compound file (Outlook .msg)");
	assert_string_equal(sniff_describe("<a/>", 4), "xml");
}

/* A tar header block for `name`, its checksum right unless `bad_sum`. */
static void
tar_header(unsigned char *h, const char *name, const char *magic, int bad_sum)
{
	unsigned sum = 0;
	size_t i;

	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	memcpy(h + 100, "0000644", 7);
	memcpy(h + 124, "00000000012", 11);
	h[156] = '0';
	memcpy(h + 257, magic, 8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum + (bad_sum ? 1u : 0u));
}

static void
test_tar(void **state)
{
	unsigned char h[512];

	(void)state;
	tar_header(h, "report.xml", "ustar\0" "00", 0);
	assert_int_equal(sniff(h, sizeof h), SNIFF_TAR);
	assert_string_equal(sniff_describe(h, sizeof h), "tar");
	tar_header(h, "report.xml", "ustar  \0", 0);          /* GNU */
	assert_int_equal(sniff(h, sizeof h), SNIFF_TAR);
	/* less than a block, or a checksum that does not add up: not tar */
	assert_int_not_equal(sniff(h, 511), SNIFF_TAR);
	tar_header(h, "report.xml", "ustar\0" "00", 1);
	assert_int_not_equal(sniff(h, sizeof h), SNIFF_TAR);
	/* text that holds "ustar" at offset 257 stays text */
	memset(h, ' ', sizeof h);
	h[0] = '<';
	memcpy(h + 257, "ustar ", 6);
	assert_int_equal(sniff(h, sizeof h), SNIFF_XML);
	memcpy(h, "Subject: x\n\n", 12);
	assert_int_not_equal(sniff(h, sizeof h), SNIFF_TAR);
}

/* Every prefix of every case: never reads past n, never crashes. */
static void
test_prefixes(void **state)
{
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (n = 0; n <= cases[i].len; n++) {
			char buf[256];
			enum sniff_kind k;
			assert_true(n <= sizeof buf);
			memcpy(buf, cases[i].bytes, n);
			k = sniff(buf, n);
			assert_true(k >= SNIFF_EMPTY && k <= SNIFF_UNKNOWN);
		}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_tar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
