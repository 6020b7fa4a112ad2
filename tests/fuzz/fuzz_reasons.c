/*
 * fuzz_reasons.c - libFuzzer harness for the translation of reasons and
 * warnings (src/lib/reasontr.c), which sees text from hostile reports
 * (element names, values, file names inside reasons).
 *
 * The input becomes one text (at most 4 KiB, NUL-terminated); it is
 * translated into buffers of several sizes.  Every result must be
 * NUL-terminated inside its buffer, a prefix-consistent cut of the full
 * translation, and valid UTF-8 whenever the input was; English must come
 * back unchanged.  Built with -DFUZZ_REPLAY_MAIN it replays files
 * (tests/fuzz/replay.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/reasontr.h"
#include "lib/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_utf8_ok(const unsigned char *s, size_t n)
{
	return utf8_valid(s, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 1, 2, 7, 64, 300, 8192 };
	char text[4097], full[8192], out[8192], en[8192];
	int done;

	if (size > sizeof(text) - 1)
		size = sizeof(text) - 1;
	memcpy(text, data, size);
	text[size] = '\0';
	reason_tr("ja", text, full, sizeof(full), &done);
	if (done != 0 && done != 1)
		abort();
	if (fuzz_utf8_ok((const unsigned char *)text, strlen(text)) &&
	    !fuzz_utf8_ok((const unsigned char *)full, strlen(full)))
		abort();
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		memset(out, 'x', sizeof(out));
		reason_tr("ja", text, out, n, NULL);
		if (memchr(out, '\0', n) == NULL)
			abort();
		/* a cut of the same translation, at a character boundary */
		if (strncmp(out, full, strlen(out)) != 0)
			abort();
		if (fuzz_utf8_ok((const unsigned char *)full, strlen(full)) &&
		    !fuzz_utf8_ok((const unsigned char *)out, strlen(out)))
			abort();
	}
	reason_tr("en", text, en, sizeof(en), &done);
	if (done != 0 || strcmp(en, text) != 0)
		abort();
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay_main.h"
#endif
