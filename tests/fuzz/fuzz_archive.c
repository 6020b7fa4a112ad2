/*
 * fuzz_archive.c - libFuzzer harness for the gzip / zip / tar / bzip2-lz4
 * layers of unpack.
 *
 * The input goes through unpack_run (it may of course sniff as anything)
 * with small limits, and every leaf is read to its end.  Built with
 * -DFUZZ_REPLAY_MAIN it becomes a plain program that replays the files and
 * directories named on its command line (tests/fuzz/replay.sh).
 */
#include <stddef.h>
#include <stdint.h>

#include "lib/rd.h"
#include "parse/unpack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_archive_leaf(void *ctx, struct unpack_leaf *leaf)
{
	char buf[8192];

	(void)ctx;
	while (rd_read(leaf->rd, buf, sizeof buf) > 0)
		;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct limits lim;
	struct rd *in = rd_mem_new(data, size);
	char err[512];

	limits_default(&lim);
	lim.max_input_bytes = 1u << 20;
	lim.max_expanded_bytes = 4u << 20;
	lim.max_archive_members = 16;
	unpack_run(in, &lim, fuzz_archive_leaf, NULL, err, sizeof err);
	rd_close(&in);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay_main.h"
#endif
