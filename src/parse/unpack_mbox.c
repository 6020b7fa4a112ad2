/*
 * unpack_mbox.c - split an mbox into messages, streaming.
 *
 * Public: unpack_mbox().  Private (unpack_int.h): unpack_mbox_walk(), used
 * by unpack_run for an input that starts with a From_ line (an mbox, or a
 * single .eml saved with one).
 *
 * The splitter keeps one 64 KiB buffer whatever the size of the file or of
 * a message: a message is a stream that ends before the next From_ line.
 * Rules: a From_ line is "From " at the start of a line that is the first
 * of the file or follows an empty line; that empty line is the separator
 * and not part of the message.  Body lines escaped as ">From ", ">>From "...
 * lose one '>' (mboxrd).  LF and CRLF files both work.
 *
 * Limits: a message longer than max_input_bytes fails while being read
 * (its stream returns -1 naming the limit) and the splitter skips to the
 * next message; the file as a whole is not limited.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

struct unpack_mbox {
	struct rd rd;           /* the current message */
	struct rd *in;
	unsigned char *buf;     /* UNPACK_BUF bytes; [start, end) unread */
	size_t start, end;
	int in_eof, in_failed;
	int bol;                /* buf[start] begins a line */
	int blank;              /* a blank line was withheld (maybe separator) */
	int blank_crlf;
	unsigned char pend[2];  /* withheld blank line being released */
	size_t pend_len, pend_off;
	int msg_end;
	uint64_t msg_bytes, msg_max;
	unsigned long index;
	char in_err[256];
};

/* Reads more input; returns -1 on a read error, 0 at EOF, else > 0. */
static int
unpack_mbox_fill(struct unpack_mbox *mb)
{
	ssize_t r;

	if (mb->in_eof)
		return 0;
	if (mb->start > 0) {
		memmove(mb->buf, mb->buf + mb->start, mb->end - mb->start);
		mb->end -= mb->start;
		mb->start = 0;
	}
	if (mb->end == UNPACK_BUF)
		return 1;               /* full: caller works with what it has */
	r = rd_read(mb->in, mb->buf + mb->end, UNPACK_BUF - mb->end);
	if (r < 0) {
		mb->in_failed = 1;
		snprintf(mb->in_err, sizeof mb->in_err, "%s",
		    mb->in->err[0] ? mb->in->err : "read error");
		return -1;
	}
	if (r == 0) {
		mb->in_eof = 1;
		return 0;
	}
	mb->end += (size_t)r;
	return 1;
}

/* Makes the current line visible: up to its LF, 1 KiB of it, or EOF. */
static int
unpack_mbox_see_line(struct unpack_mbox *mb)
{
	while (!mb->in_eof &&
	    memchr(mb->buf + mb->start, '\n', mb->end - mb->start) == NULL &&
	    mb->end - mb->start < 1024)
		if (unpack_mbox_fill(mb) < 0)
			return -1;
	return 0;
}

static int
unpack_mbox_is_from(const unsigned char *p, size_t n)
{
	return n >= 5 && memcmp(p, "From ", 5) == 0;
}

/* Blank line at p: returns its length (1 or 2) or 0. */
static size_t
unpack_mbox_blank(const unsigned char *p, size_t n)
{
	if (n >= 1 && p[0] == '\n')
		return 1;
	if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		return 2;
	return 0;
}

/* The withheld blank line turned out to be content: emit it next. */
static void
unpack_mbox_release_blank(struct unpack_mbox *mb)
{
	if (mb->blank_crlf) {
		mb->pend[0] = '\r';
		mb->pend[1] = '\n';
		mb->pend_len = 2;
	} else {
		mb->pend[0] = '\n';
		mb->pend_len = 1;
	}
	mb->pend_off = 0;
}

/* Message bytes without the limit: the splitter proper. */
static ssize_t
unpack_mbox_pull(struct unpack_mbox *mb, unsigned char *out, size_t n)
{
	size_t got = 0;

	while (got < n) {
		const unsigned char *p;
		size_t avail, k;

		if (mb->pend_off < mb->pend_len) {
			out[got++] = mb->pend[mb->pend_off++];
			continue;
		}
		if (mb->msg_end || mb->in_failed)
			break;
		if (mb->start == mb->end && unpack_mbox_fill(mb) < 0)
			break;
		if (!mb->bol) {
			const unsigned char *nl;

			avail = mb->end - mb->start;
			if (avail == 0) {       /* EOF inside a line */
				mb->msg_end = 1;
				break;
			}
			p = mb->buf + mb->start;
			if (avail > n - got)
				avail = n - got;
			nl = memchr(p, '\n', avail);
			if (nl != NULL) {
				avail = (size_t)(nl - p) + 1;
				mb->bol = 1;
			}
			memcpy(out + got, p, avail);
			got += avail;
			mb->start += avail;
			continue;
		}
		if (unpack_mbox_see_line(mb) < 0)
			break;
		p = mb->buf + mb->start;
		avail = mb->end - mb->start;
		if (avail == 0) {               /* EOF: a withheld blank goes */
			mb->msg_end = 1;
			break;
		}
		if ((k = unpack_mbox_blank(p, avail)) > 0) {
			if (mb->blank)          /* the earlier one was content */
				unpack_mbox_release_blank(mb);
			mb->blank = 1;
			mb->blank_crlf = k == 2;
			mb->start += k;
			continue;
		}
		if (mb->blank && unpack_mbox_is_from(p, avail)) {
			mb->msg_end = 1;        /* next message; separator dropped */
			break;
		}
		if (mb->blank) {
			unpack_mbox_release_blank(mb);
			mb->blank = 0;
			continue;               /* line judged again after it */
		}
		for (k = 0; k < avail && p[k] == '>'; k++)
			;
		if (k > 0 && unpack_mbox_is_from(p + k, avail - k))
			mb->start++;            /* >From -> From */
		mb->bol = 0;
	}
	if (got == 0 && mb->in_failed)
		return -1;
	return (ssize_t)got;
}

static ssize_t
unpack_mbox_read(struct rd *rd, void *buf, size_t n)
{
	struct unpack_mbox *mb = (struct unpack_mbox *)rd;
	ssize_t r;

	if (mb->msg_max && mb->msg_bytes >= mb->msg_max) {
		unsigned char c;
		r = unpack_mbox_pull(mb, &c, 1);
		if (r > 0)
			snprintf(rd->err, sizeof rd->err, "message %lu larger "
			    "than max_input_bytes (%llu bytes)", mb->index,
			    (unsigned long long)mb->msg_max);
		return r > 0 ? -1 : r;
	}
	if (mb->msg_max && n > mb->msg_max - mb->msg_bytes)
		n = (size_t)(mb->msg_max - mb->msg_bytes);
	r = unpack_mbox_pull(mb, buf, n);
	if (r < 0)
		snprintf(rd->err, sizeof rd->err, "%s", mb->in_err);
	else
		mb->msg_bytes += (uint64_t)r;
	return r;
}

static void
unpack_mbox_close(struct rd *rd)
{
	(void)rd;               /* owned by the splitter */
}

static struct unpack_mbox *
unpack_mbox_new(struct rd *in, const void *pre, size_t n, uint64_t msg_max)
{
	struct unpack_mbox *mb = xcalloc(1, sizeof *mb);

	mb->rd.read = unpack_mbox_read;
	mb->rd.close = unpack_mbox_close;
	mb->in = in;
	mb->buf = xmalloc(UNPACK_BUF);
	if (n > UNPACK_BUF)
		n = UNPACK_BUF;         /* callers pass at most UNPACK_PEEK */
	memcpy(mb->buf, pre, n);
	mb->end = n;
	mb->msg_max = msg_max;
	mb->bol = 1;
	return mb;
}

static void
unpack_mbox_free(struct unpack_mbox *mb)
{
	free(mb->buf);
	free(mb);
}

/*
 * Moves to the next message: skips what is left of the current one, then
 * its From_ line.  Returns 1 (a message is ready), 0 (no more), -1 (read
 * error or, before the first message, no From_ line).
 */
static int
unpack_mbox_next(struct unpack_mbox *mb)
{
	unsigned char scratch[4096];
	ssize_t r;

	if (mb->index > 0)
		while ((r = unpack_mbox_pull(mb, scratch, sizeof scratch)) > 0)
			;
	if (mb->in_failed)
		return -1;
	if (mb->index == 0) {
		/* leading blank lines are tolerated */
		for (;;) {
			size_t k;
			if (unpack_mbox_see_line(mb) < 0)
				return -1;
			k = unpack_mbox_blank(mb->buf + mb->start,
			    mb->end - mb->start);
			if (k == 0)
				break;
			mb->start += k;
		}
		if (!unpack_mbox_is_from(mb->buf + mb->start,
		    mb->end - mb->start)) {
			snprintf(mb->in_err, sizeof mb->in_err,
			    "not an mbox: no From_ line at the start");
			return -1;
		}
	} else if (mb->start == mb->end && mb->in_eof) {
		return 0;
	}
	/* skip the From_ line, however long */
	for (;;) {
		const unsigned char *nl;

		if (mb->start == mb->end && unpack_mbox_fill(mb) <= 0)
			break;
		nl = memchr(mb->buf + mb->start, '\n', mb->end - mb->start);
		if (nl != NULL) {
			mb->start = (size_t)(nl - mb->buf) + 1;
			break;
		}
		mb->start = mb->end;
	}
	if (mb->in_failed)
		return -1;
	mb->index++;
	mb->bol = 1;
	mb->blank = 0;
	mb->pend_len = mb->pend_off = 0;
	mb->msg_end = 0;
	mb->msg_bytes = 0;
	mb->rd.total = 0;
	mb->rd.limit = 0;
	mb->rd.err[0] = '\0';
	return 1;
}

int
unpack_mbox(struct rd *in, const struct limits *lim, unpack_msg_fn fn,
    void *ctx, char *err, size_t errlen)
{
	struct unpack_mbox *mb = unpack_mbox_new(in, "", 0,
	    lim->max_input_bytes);
	int r = 0, next = 0;

	while ((next = unpack_mbox_next(mb)) > 0)
		if (fn(ctx, mb->index, &mb->rd) < 0)
			break;
	if (next < 0 || mb->in_failed) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", mb->in_err);
		r = -1;
	}
	unpack_mbox_free(mb);
	return r;
}

int
unpack_mbox_walk(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label)
{
	struct unpack_mbox *mb;
	int r = 0, next = 0;

	if (!unpack_depth_ok(w, depth, label))
		return 0;
	mb = unpack_mbox_new(rd, pre, n, w->lim->max_input_bytes);
	while (r == 0 && (next = unpack_mbox_next(mb)) > 0) {
		/* the first message is labelled like a lone message, so that
		 * a .eml saved with a From_ line reads the same as without */
		char *mlabel = mb->index == 1 ? xstrdup(label) :
		    unpack_label(label, "message %lu", mb->index);

		r = unpack_stream(w, &mb->rd, depth + 1, mlabel, NULL);
		free(mlabel);
	}
	if (r == 0 && (next < 0 || mb->in_failed))
		unpack_note(w, label, "mbox: %s", mb->in_err);
	unpack_mbox_free(mb);
	return r;
}
