/*
 * fuzz_archive.c - libFuzzer harness for the gzip / zip layers of unpack.
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
/*
 * Replay: run every regular file named on the command line, or found
 * directly inside a directory named there, through the harness once.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
fuzz_replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	size_t n = 0, cap = 0, r;

	if (f == NULL) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			if ((p = realloc(p, cap)) == NULL)
				abort();
		}
		if ((r = fread(p + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(p, n);
	free(p);
	return 0;
}

int
main(int argc, char **argv)
{
	int i, files = 0, bad = 0;

	for (i = 1; i < argc; i++) {
		struct stat st;
		DIR *d;
		struct dirent *e;

		if (stat(argv[i], &st) < 0)
			continue;
		if (!S_ISDIR(st.st_mode)) {
			bad |= fuzz_replay_file(argv[i]) < 0;
			files++;
			continue;
		}
		if ((d = opendir(argv[i])) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			char path[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
			if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
				continue;
			bad |= fuzz_replay_file(path) < 0;
			files++;
		}
		closedir(d);
	}
	unpack_global_fini();
	printf("replayed %d file(s)\n", files);
	return bad;
}
#endif
