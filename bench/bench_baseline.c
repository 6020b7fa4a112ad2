/*
 * bench_baseline.c - the floor the importer's throughput is measured
 * against: walk the given files and directories, read each file, gunzip it
 * with zlib if it starts with the gzip magic (multi-member streams too),
 * and feed the bytes to one reused expat parser whose element and text
 * handlers do nothing.  Single-threaded, streaming (64 KiB chunks), so it
 * also works on a 200 MB report.  Files that are neither gzip nor XML
 * (zip, mail) are counted as skipped.
 *
 * Output, one line on stdout (best of --repeat runs, by wall time):
 *   baseline: files=N skipped=N errors=N in_bytes=N xml_bytes=N seconds=S
 *             files_per_s=N in_MB_per_s=X xml_MB_per_s=X
 * MB = 10^6 bytes.  Exit 1 when a file could not be read or parsed.
 */
#include <dirent.h>
#include <errno.h>
#include <expat.h>
#include <fcntl.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (64 * 1024)

struct run {
	XML_Parser xp;
	z_stream z;
	int handlers;
	unsigned char in[CHUNK];
	unsigned char out[CHUNK];
	uint64_t files, skipped, errors, in_bytes, xml_bytes;
};

static void XMLCALL
on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
}

static void XMLCALL
on_end(void *ud, const XML_Char *name)
{
}

static void XMLCALL
on_text(void *ud, const XML_Char *s, int len)
{
}

static int
xml_feed(struct run *r, const void *p, size_t n, int final)
{
	r->xml_bytes += n;
	return XML_Parse(r->xp, p, (int)n, final) == XML_STATUS_OK ? 0 : -1;
}

/* Inflates `n` input bytes (gzip, possibly several members) into expat. */
static int
gz_feed(struct run *r, const unsigned char *p, size_t n, int *ended)
{
	int rc;

	r->z.next_in = (Bytef *)(uintptr_t)p;
	r->z.avail_in = (uInt)n;
	while (r->z.avail_in > 0) {
		if (*ended) {
			/* a further member, or trailing garbage (ignored) */
			if (r->z.avail_in < 2 || r->z.next_in[0] != 0x1f || r->z.next_in[1] != 0x8b)
				return 0;
			inflateReset(&r->z);
			*ended = 0;
		}
		r->z.next_out = r->out;
		r->z.avail_out = CHUNK;
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return -1;
		if (xml_feed(r, r->out, CHUNK - r->z.avail_out, 0) != 0)
			return -1;
		if (rc == Z_STREAM_END)
			*ended = 1;
		else if (rc == Z_BUF_ERROR && r->z.avail_out == CHUNK)
			return -1;
	}
	/* drain what inflate still holds */
	while (!*ended) {
		r->z.next_out = r->out;
		r->z.avail_out = CHUNK;
		rc = inflate(&r->z, Z_NO_FLUSH);
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return -1;
		if (xml_feed(r, r->out, CHUNK - r->z.avail_out, 0) != 0)
			return -1;
		if (rc == Z_STREAM_END)
			*ended = 1;
		if (r->z.avail_out != 0)
			break;
	}
	return 0;
}

static void
do_file(struct run *r, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), gz = -1, ended = 0, bad = 0;
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "bench_baseline: %s: %s\n", path, strerror(errno));
		r->errors++;
		return;
	}
	XML_ParserReset(r->xp, NULL);
	if (r->handlers) {
		XML_SetElementHandler(r->xp, on_start, on_end);
		XML_SetCharacterDataHandler(r->xp, on_text);
	}
	while ((n = read(fd, r->in, CHUNK)) > 0) {
		r->in_bytes += (uint64_t)n;
		if (gz < 0) {
			if (n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b) {
				gz = 1;
				inflateReset(&r->z);
			} else if (r->in[0] == '<' || (n >= 3 && r->in[0] == 0xef && r->in[1] == 0xbb)) {
				gz = 0;
			} else {
				r->skipped++;
				close(fd);
				return;
			}
		}
		if (gz ? gz_feed(r, r->in, (size_t)n, &ended) : xml_feed(r, r->in, (size_t)n, 0))
			bad = 1;
		if (bad)
			break;
	}
	if (n < 0)
		bad = 1;
	if (!bad && gz >= 0 && xml_feed(r, NULL, 0, 1) != 0)
		bad = 1;
	if (bad) {
		fprintf(stderr, "bench_baseline: %s: %s\n", path, n < 0 ? strerror(errno) :
		    XML_ErrorString(XML_GetErrorCode(r->xp)));
		r->errors++;
	} else if (gz >= 0) {
		r->files++;
	}
	close(fd);
}

static void
walk(struct run *r, const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[4096];

	if (stat(path, &st) != 0) {
		fprintf(stderr, "bench_baseline: %s: %s\n", path, strerror(errno));
		r->errors++;
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		do_file(r, path);
		return;
	}
	d = opendir(path);
	if (d == NULL) {
		fprintf(stderr, "bench_baseline: %s: %s\n", path, strerror(errno));
		r->errors++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub) {
			r->errors++;
			continue;
		}
		walk(r, sub);
	}
	closedir(d);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(FILE *f)
{
	fputs("usage: bench_baseline [--repeat N] [--no-handlers] PATH...\n"
	    "Gunzip + expat parse (empty handlers) over every file under PATH;\n"
	    "prints files/s and MB/s of the best of N runs (default 1).\n", f);
}

int
main(int argc, char **argv)
{
	struct run *r, best;
	unsigned long repeat = 1, k;
	double t0, secs, best_secs = -1;
	int i, handlers = 1, first = 0;
	char *end;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
			repeat = strtoul(argv[++i], &end, 10);
			if (*end || repeat < 1 || repeat > 100) {
				usage(stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--no-handlers") == 0) {
			handlers = 0;
		} else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			usage(stderr);
			return 2;
		} else {
			first = i;
			break;
		}
	}
	if (first == 0) {
		usage(stderr);
		return 2;
	}
	r = calloc(1, sizeof *r);
	if (r == NULL)
		return 70;
	memset(&best, 0, sizeof best);
	for (k = 0; k < repeat; k++) {
		r->files = r->skipped = r->errors = r->in_bytes = r->xml_bytes = 0;
		r->handlers = handlers;
		t0 = now();
		r->xp = XML_ParserCreate(NULL);
		if (r->xp == NULL || inflateInit2(&r->z, 15 + 32) != Z_OK) {
			fprintf(stderr, "bench_baseline: cannot set up expat/zlib\n");
			return 70;
		}
		for (i = first; i < argc; i++)
			walk(r, argv[i]);
		XML_ParserFree(r->xp);
		inflateEnd(&r->z);
		secs = now() - t0;
		if (best_secs < 0 || secs < best_secs) {
			best_secs = secs;
			best.files = r->files;
			best.skipped = r->skipped;
			best.errors = r->errors;
			best.in_bytes = r->in_bytes;
			best.xml_bytes = r->xml_bytes;
		}
	}
	if (best_secs <= 0)
		best_secs = 1e-9;
	printf("baseline: files=%" PRIu64 " skipped=%" PRIu64 " errors=%" PRIu64
	    " in_bytes=%" PRIu64 " xml_bytes=%" PRIu64 " seconds=%.3f files_per_s=%.0f"
	    " in_MB_per_s=%.1f xml_MB_per_s=%.1f\n", best.files, best.skipped, best.errors,
	    best.in_bytes, best.xml_bytes, best_secs, (double)best.files / best_secs,
	    (double)best.in_bytes / 1e6 / best_secs, (double)best.xml_bytes / 1e6 / best_secs);
	free(r);
	return best.errors ? 1 : 0;
}
