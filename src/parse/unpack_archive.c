/*
 * unpack_archive.c - archives and the other compressors, with libarchive:
 * every file member of a zip or tar archive, and the one stream inside
 * bzip2, lz4 or compress (.Z) data.
 *
 * Private (unpack_int.h): unpack_zip(), unpack_libarchive().
 *
 * A zip is spooled first (memory, or an unlinked temp file past
 * UNPACK_SPOOL_MEM) so that libarchive can use its seekable reader, which
 * reads the central directory and copes with archives the streaming reader
 * cannot (members with data descriptors, stored members of unknown size);
 * without a usable central directory libarchive falls back to streaming.
 * A tar or a compressed stream is read as it comes, never spooled: a tar is
 * sequential, and a compressed stream is offered through libarchive's "raw"
 * format (one member), so a compressed tar is a compressed stream holding a
 * tar, peeled by the same walk.  Only libarchive's built-in decoders and the
 * libraries it links are used; a filter that would need an external program
 * is never registered.  Nor are xz and zstd: their decoders size their
 * window from the stream's header (xz up to 1.5 GiB, zstd 128 MiB) and
 * libarchive sets no limit on it (a 30 KB xz file made 215 MiB resident
 * here, a 7 KB zstd file 144 MiB), so those inputs stay recognised and
 * refused.  bzip2 needs ~4 MiB at most,
 * lz4 its 4 MiB block, compress a fixed table.
 *
 * Each member is offered as a stream, sniffed and walked again (a member can
 * be gzip, XML, another archive).  Only regular files are members:
 * directories, links and devices are skipped; an empty member name is
 * allowed.  Limits: max_input_bytes (a spooled zip), max_archive_members
 * (entries looked at), max_expanded_bytes (one member, checked against the
 * declared size first and against the bytes produced).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

struct unpack_member {
	struct rd rd;
	struct archive *a;
	const char *what;       /* "zip member", "bzip2 data"... */
	uint64_t out, max_out;
	int failed;
};

static ssize_t
unpack_member_read(struct rd *rd, void *buf, size_t n)
{
	struct unpack_member *m = (struct unpack_member *)rd;
	la_ssize_t r;

	if (m->failed)
		return -1;
	if (n > m->max_out - m->out + 1)
		n = (size_t)(m->max_out - m->out + 1);
	r = archive_read_data(m->a, buf, n);
	if (r < 0) {
		m->failed = 1;
		snprintf(rd->err, sizeof rd->err, "%s: %s", m->what,
		    archive_error_string(m->a) ? archive_error_string(m->a) :
		    "cannot read");
		return -1;
	}
	if (m->out + (uint64_t)r > m->max_out) {
		m->failed = 1;
		snprintf(rd->err, sizeof rd->err,
		    "%s expands to more than max_expanded_bytes (%llu bytes)",
		    m->what, (unsigned long long)m->max_out);
		return -1;
	}
	m->out += (uint64_t)r;
	return (ssize_t)r;
}

static void
unpack_member_close(struct rd *rd)
{
	(void)rd;               /* lives on the caller's stack */
}

/*
 * One member: label it, bound it, walk it.  `fmt` names the archive in
 * messages ("zip", "tar"); NULL for the single stream of a compressor,
 * `filter` naming it, which keeps the enclosing label as gzip does.
 */
static int
unpack_archive_member(struct unpack_walk *w, struct archive *a,
    struct archive_entry *e, const char *fmt, const char *filter,
    unsigned idx, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	const char *name = archive_entry_pathname_utf8(e);
	char clean[UNPACK_NAME_MAX + 1], what[48];
	struct unpack_member m;
	struct unpack_meta mm;
	char *mlabel;
	int r;

	if (fmt == NULL) {
		mlabel = xstrdup(label);
		snprintf(what, sizeof what, "%s data", filter);
		clean[0] = '\0';
	} else {
		if (name == NULL)
			name = archive_entry_pathname(e);
		unpack_sanitize(clean, sizeof clean, name);
		if (clean[0] != '\0')
			mlabel = unpack_label(label, "member %s", clean);
		else
			mlabel = unpack_label(label, "member %u (no name)", idx);
		snprintf(what, sizeof what, "%s member", fmt);
	}
	if (archive_entry_is_encrypted(e)) {
		unpack_note(w, mlabel, "%s is encrypted", what);
		free(mlabel);
		return 0;
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
	    (uint64_t)archive_entry_size(e) > w->lim->max_expanded_bytes) {
		unpack_note(w, mlabel, "%s declares %lld bytes, more than "
		    "max_expanded_bytes (%llu bytes)", what,
		    (long long)archive_entry_size(e),
		    (unsigned long long)w->lim->max_expanded_bytes);
		free(mlabel);
		return 0;
	}
	memset(&m, 0, sizeof m);
	m.rd.read = unpack_member_read;
	m.rd.close = unpack_member_close;
	m.a = a;
	m.what = what;
	m.max_out = w->lim->max_expanded_bytes;
	mm = meta ? *meta : (struct unpack_meta){ 0 };
	if (fmt != NULL) {
		mm.filename = clean[0] != '\0' ? clean : NULL;
		mm.ctype = NULL;
	}
	r = unpack_stream(w, &m.rd, depth, mlabel, &mm);
	if (m.rd.err[0] != '\0')
		unpack_note(w, mlabel, "%s", m.rd.err);
	free(mlabel);
	return r;
}

/*
 * Every member of an opened archive.  `kind` is what the sniffer called
 * it: the name of a compressor's stream, and of the archive until its first
 * header says which format it is.
 */
static int
unpack_archive_walk(struct unpack_walk *w, struct archive *a,
    const char *kind, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct archive_entry *e;
	const char *fmt = NULL, *filter = NULL;
	unsigned idx = 0;           /* entries seen, this one included */
	int r = 0, raw = 0;

	for (;;) {
		int h = archive_read_next_header(a, &e);
		int ft;

		if (h == ARCHIVE_EOF)
			break;
		if (h == ARCHIVE_FATAL || h == ARCHIVE_RETRY ||
		    (h == ARCHIVE_FAILED && e == NULL)) {
			unpack_note(w, label, "%s: %s", fmt ? fmt : kind,
			    archive_error_string(a) ? archive_error_string(a) :
			    "broken archive");
			break;
		}
		if (idx == 0) {
			raw = archive_format(a) == ARCHIVE_FORMAT_RAW;
			/* raw with no filter but "none": nothing decoded it
			 * (this build's libarchive lacks the library) */
			if (raw && archive_filter_count(a) <= 1) {
				unpack_note(w, label, "%s: no decoder for this "
				    "data in this build", kind);
				break;
			}
			if (raw)
				filter = kind;
			else
				fmt = (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK)
				    == ARCHIVE_FORMAT_ZIP ? "zip" : "tar";
		}
		/* every entry counts, directories too: a central directory of
		 * a million empty entries is work as well */
		if (++idx > w->lim->max_archive_members) {
			unpack_note(w, label, "%s has more than "
			    "max_archive_members (%u) members", fmt ? fmt : kind,
			    w->lim->max_archive_members);
			break;
		}
		/* regular files only (zip members may carry no type) */
		ft = (int)archive_entry_filetype(e);
		if (ft != 0 && ft != AE_IFREG)
			continue;
		if (archive_entry_hardlink(e) != NULL)
			continue;
		{
			const char *nm = archive_entry_pathname(e);
			size_t l = nm ? strlen(nm) : 0;
			if (!raw && l > 0 && nm[l - 1] == '/')
				continue;
		}
		if (h == ARCHIVE_FAILED) {
			unpack_note(w, label, "%s: %s", fmt ? fmt : kind,
			    archive_error_string(a) ? archive_error_string(a) :
			    "unreadable member");
			continue;
		}
		r = unpack_archive_member(w, a, e, raw ? NULL : fmt, filter,
		    idx, depth + 1, label, meta);
		if (r < 0 || raw)
			break;
	}
	return r;
}

int
unpack_zip(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_spool sp;
	struct archive *a;
	char err[256];
	int r = 0;

	if (!unpack_depth_ok(w, depth, label))
		return 0;
	w->containers++;
	if (unpack_spool_fill(&sp, pre, n, rd, w->lim->max_input_bytes,
	    "max_input_bytes", err, sizeof err) < 0) {
		unpack_note(w, label, "zip: %s", err);
		return 0;
	}
	a = archive_read_new();
	archive_read_support_format_zip(a);
	/* a big archive is read from its temp file (seekable), so that only
	 * the pages libarchive needs are touched */
	if ((sp.fd >= 0 && lseek(sp.fd, 0, SEEK_SET) == 0 ?
	    archive_read_open_fd(a, sp.fd, UNPACK_BUF) :
	    archive_read_open_memory(a, sp.mem, sp.len)) != ARCHIVE_OK)
		unpack_note(w, label, "zip: %s", archive_error_string(a) ?
		    archive_error_string(a) : "cannot open");
	else
		r = unpack_archive_walk(w, a, "zip", depth, label, meta);
	archive_read_free(a);
	unpack_spool_fini(&sp);
	return r;
}

/* ---- streamed: tar and compressors ------------------------------------ */

struct unpack_source {
	const unsigned char *pre;   /* the sniffed bytes, handed out first */
	size_t n;
	int pre_done;
	struct rd *rd;
	unsigned char *buf;
};

static la_ssize_t
unpack_source_read(struct archive *a, void *ctx, const void **out)
{
	struct unpack_source *s = ctx;
	ssize_t r;

	if (!s->pre_done) {
		s->pre_done = 1;
		if (s->n > 0) {
			*out = s->pre;
			return (la_ssize_t)s->n;
		}
	}
	r = rd_read(s->rd, s->buf, UNPACK_BUF);
	if (r < 0) {
		archive_set_error(a, EIO, "%s", s->rd->err[0] ? s->rd->err :
		    "read error");
		return -1;
	}
	*out = s->buf;
	return (la_ssize_t)r;
}

int
unpack_libarchive(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_source src;
	struct archive *a;
	const char *kind = sniff_describe(pre, n);
	int r = 0;

	if (!unpack_depth_ok(w, depth, label))
		return 0;
	w->containers++;
	memset(&src, 0, sizeof src);
	src.pre = pre;
	src.n = n;
	src.rd = rd;
	src.buf = xmalloc(UNPACK_BUF);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_format_raw(a);
	/* with the library only: without it libarchive would run a program
	 * (and no xz or zstd: see the top of this file) */
	if (archive_bzlib_version() != NULL)
		archive_read_support_filter_bzip2(a);
	if (archive_liblz4_version() != NULL)
		archive_read_support_filter_lz4(a);
	archive_read_support_filter_compress(a);
	if (archive_read_open(a, &src, NULL, unpack_source_read, NULL) !=
	    ARCHIVE_OK)
		unpack_note(w, label, "%s: %s", kind, archive_error_string(a) ?
		    archive_error_string(a) : "cannot open");
	else
		r = unpack_archive_walk(w, a, kind, depth, label, meta);
	archive_read_free(a);
	free(src.buf);
	return r;
}
