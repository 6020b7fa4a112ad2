/*
 * replay_main.h - the main() of a fuzz harness built without libFuzzer
 * (-DFUZZ_REPLAY_MAIN): every regular file named on the command line, or
 * found directly inside a directory named there, goes through
 * LLVMFuzzerTestOneInput once.  tests/fuzz/replay.sh builds each harness
 * this way and replays its seeds and crash regressions under ctest.
 * Include it at the end of the harness, inside #ifdef FUZZ_REPLAY_MAIN.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parse/unpack.h"

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
