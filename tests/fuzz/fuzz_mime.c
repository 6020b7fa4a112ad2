/*
 * fuzz_mime.c - libFuzzer harness for the MIME and mbox layers of unpack.
 *
 * The input is walked twice: by unpack_run (mail, mbox, whatever it sniffs
 * as) and by unpack_mbox with unpack_run on each message; every leaf is read
 * to its end.  Built with -DFUZZ_REPLAY_MAIN it becomes a plain program that
 * replays the files and directories named on its command line
 * (tests/fuzz/replay.sh).
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/rd.h"
#include "parse/unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_mime_leaf(void *ctx, struct unpack_leaf *leaf)
{
	char buf[8192];

	(void)ctx;
	while (rd_read(leaf->rd, buf, sizeof buf) > 0)
		;
	return 0;
}

static int
fuzz_mime_msg(void *ctx, unsigned long index, struct rd *msg)
{
	const struct limits *lim = ctx;
	char err[512];

	(void)index;
	unpack_run(msg, lim, fuzz_mime_leaf, NULL, err, sizeof err);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct limits lim;
	struct rd *in;
	char err[512];

	limits_default(&lim);
	lim.max_input_bytes = 1u << 20;
	lim.max_expanded_bytes = 4u << 20;
	lim.max_mime_parts = 64;
	in = rd_mem_new(data, size);
	unpack_run(in, &lim, fuzz_mime_leaf, NULL, err, sizeof err);
	rd_close(&in);
	in = rd_mem_new(data, size);
	unpack_mbox(in, &lim, fuzz_mime_msg, &lim, err, sizeof err);
	rd_close(&in);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay_main.h"
#endif
