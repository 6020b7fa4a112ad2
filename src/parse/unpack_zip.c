/*
 * unpack_zip.c - every file member of a zip archive, with libarchive.
 *
 * Private (unpack_int.h): unpack_zip().  The archive is spooled first
 * (memory, or an unlinked temp file past UNPACK_SPOOL_MEM) so that
 * libarchive can use its seekable zip reader, which reads the central
 * directory and copes with archives the streaming reader cannot (members
 * with data descriptors, stored members of unknown size); when there is no
 * usable central directory libarchive falls back to the streaming reader.
 *
 * Each member is offered as a stream, sniffed and walked again (a member can
 * be gzip, XML, another zip).  Directory entries are skipped; an empty
 * member name is allowed.  Limits: max_input_bytes (the archive),
 * max_archive_members (members looked at), max_expanded_bytes (one member,
 * checked against the declared size first and against the bytes produced).
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

struct unpack_member {
	struct rd rd;
	struct archive *a;
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
		snprintf(rd->err, sizeof rd->err, "zip: %s",
		    archive_error_string(m->a) ? archive_error_string(m->a) :
		    "cannot read member");
		return -1;
	}
	if (m->out + (uint64_t)r > m->max_out) {
		m->failed = 1;
		snprintf(rd->err, sizeof rd->err,
		    "zip member expands to more than max_expanded_bytes "
		    "(%llu bytes)", (unsigned long long)m->max_out);
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

/* One member: label it, bound it, walk it. */
static int
unpack_zip_member(struct unpack_walk *w, struct archive *a,
    struct archive_entry *e, unsigned idx, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	const char *name = archive_entry_pathname_utf8(e);
	char clean[UNPACK_NAME_MAX + 1];
	struct unpack_member m;
	struct unpack_meta mm;
	char *mlabel;
	int r;

	if (name == NULL)
		name = archive_entry_pathname(e);
	unpack_sanitize(clean, sizeof clean, name);
	if (clean[0] != '\0')
		mlabel = unpack_label(label, "member %s", clean);
	else
		mlabel = unpack_label(label, "member %u (no name)", idx);
	if (archive_entry_is_encrypted(e)) {
		unpack_note(w, mlabel, "zip member is encrypted");
		free(mlabel);
		return 0;
	}
	if (archive_entry_size_is_set(e) && archive_entry_size(e) >= 0 &&
	    (uint64_t)archive_entry_size(e) > w->lim->max_expanded_bytes) {
		unpack_note(w, mlabel, "zip member declares %lld bytes, more "
		    "than max_expanded_bytes (%llu bytes)",
		    (long long)archive_entry_size(e),
		    (unsigned long long)w->lim->max_expanded_bytes);
		free(mlabel);
		return 0;
	}
	memset(&m, 0, sizeof m);
	m.rd.read = unpack_member_read;
	m.rd.close = unpack_member_close;
	m.a = a;
	m.max_out = w->lim->max_expanded_bytes;
	mm = meta ? *meta : (struct unpack_meta){ 0 };
	mm.filename = clean[0] != '\0' ? clean : NULL;
	mm.ctype = NULL;
	r = unpack_stream(w, &m.rd, depth, mlabel, &mm);
	if (m.rd.err[0] != '\0')
		unpack_note(w, mlabel, "%s", m.rd.err);
	free(mlabel);
	return r;
}

int
unpack_zip(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_spool sp;
	struct archive *a;
	struct archive_entry *e;
	char err[256];
	unsigned members = 0, idx = 0;
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
	    archive_read_open_memory(a, sp.mem, sp.len)) != ARCHIVE_OK) {
		unpack_note(w, label, "zip: %s", archive_error_string(a) ?
		    archive_error_string(a) : "cannot open");
		goto done;
	}
	for (;;) {
		int h = archive_read_next_header(a, &e);

		if (h == ARCHIVE_EOF)
			break;
		if (h == ARCHIVE_FATAL || h == ARCHIVE_RETRY ||
		    (h == ARCHIVE_FAILED && e == NULL)) {
			unpack_note(w, label, "zip: %s",
			    archive_error_string(a) ? archive_error_string(a) :
			    "broken archive");
			break;
		}
		idx++;
		/* every entry counts, directories too: a central directory of
		 * a million empty entries is work as well */
		if (++members > w->lim->max_archive_members) {
			unpack_note(w, label, "zip has more than "
			    "max_archive_members (%u) members",
			    w->lim->max_archive_members);
			break;
		}
		if (archive_entry_filetype(e) == AE_IFDIR)
			continue;
		{
			const char *nm = archive_entry_pathname(e);
			size_t l = nm ? strlen(nm) : 0;
			if (l > 0 && nm[l - 1] == '/')
				continue;
		}
		if (h == ARCHIVE_FAILED) {
			unpack_note(w, label, "zip: %s",
			    archive_error_string(a) ? archive_error_string(a) :
			    "unreadable member");
			continue;
		}
		r = unpack_zip_member(w, a, e, idx, depth + 1, label, meta);
		if (r < 0)
			break;
	}
done:
	archive_read_free(a);
	unpack_spool_fini(&sp);
	return r;
}
