/*
 * unpack_mime.c - walk a mail message with GMime 3 and offer every leaf.
 *
 * Private (unpack_int.h): unpack_mime(), unpack_mime_global_init/fini().
 * The message is spooled (memory, or an unlinked temp file for big ones so
 * that GMime keeps only offsets into it), parsed once, then walked:
 * multipart children in order, message/rfc822 parts recursed into (a
 * forwarded report), every other part decoded (base64, quoted-printable,
 * uuencode) as a stream, sniffed and walked again (gzip, zip, inline XML).
 * The declared Content-Type only labels a leaf; the content decides.
 *
 * Failure reports: leaves under multipart/report; report-type=
 * feedback-report, and message/feedback-report parts, carry
 * in_feedback_report; inside such a report an embedded message (message/
 * rfc822, text/rfc822-headers) is offered whole, not walked.
 *
 * Fallback (broken headers such as "ContentType:" hide the attachment):
 * when the walk found neither an XML/JSON leaf nor a gzip/zip container,
 * the raw message is scanned for base64 blocks whose decoded bytes are
 * gzip, zip or XML, and those are walked.
 *
 * Limits: max_input_bytes (the message), max_mime_parts (leaf parts of one
 * message), max_nesting (multipart and message layers count).
 */
#include <gmime/gmime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "parse/unpack_int.h"

void unpack_mime_global_init(void);
void unpack_mime_global_fini(void);

static int unpack_mime_started, unpack_mime_stopped;

void
unpack_mime_global_init(void)
{
	g_mime_init();
	unpack_mime_started = 1;
}

void
unpack_mime_global_fini(void)
{
	if (unpack_mime_started && !unpack_mime_stopped) {
		g_mime_shutdown();
		unpack_mime_stopped = 1;
	}
}

/*
 * A struct rd reading a GMimeStream (not owned) through an optional
 * decoding GMimeFilter (owned).  GMime's own filter stream is not used:
 * over a file-backed substream GMime reports the end of the bounds as an
 * error (-1) rather than as the end, and its filter stream then drops the
 * decoder's last bytes.  Here the end of the bounds is the end, and the
 * decoder is completed.
 */
struct unpack_gstream {
	struct rd rd;
	GMimeStream *s;
	GMimeFilter *filter;
	char in[8192];
	char *pend;             /* decoded bytes not yet returned */
	size_t npend;
	int done;
};

static int
unpack_gstream_at_end(GMimeStream *s)
{
	return g_mime_stream_eos(s) ||
	    (s->bound_end != -1 && s->position >= s->bound_end);
}

static ssize_t
unpack_gstream_read(struct rd *rd, void *buf, size_t n)
{
	struct unpack_gstream *g = (struct unpack_gstream *)rd;

	while (g->npend == 0 && !g->done) {
		ssize_t r = g_mime_stream_read(g->s, g->in, sizeof g->in);
		size_t outlen = 0, outpre;
		char *out = NULL;

		if (r < 0 && !unpack_gstream_at_end(g->s)) {
			snprintf(rd->err, sizeof rd->err,
			    "MIME: cannot read part");
			return -1;
		}
		if (r <= 0) {
			g->done = 1;
			if (g->filter != NULL)
				g_mime_filter_complete(g->filter, g->in, 0, 0,
				    &out, &outlen, &outpre);
		} else if (g->filter != NULL) {
			g_mime_filter_filter(g->filter, g->in, (size_t)r, 0,
			    &out, &outlen, &outpre);
		} else {
			out = g->in;
			outlen = (size_t)r;
		}
		g->pend = out;
		g->npend = outlen;
	}
	if (n > g->npend)
		n = g->npend;
	if (n == 0)
		return 0;
	memcpy(buf, g->pend, n);
	g->pend += n;
	g->npend -= n;
	return (ssize_t)n;
}

static void
unpack_gstream_close(struct rd *rd)
{
	(void)rd;               /* lives on the caller's stack */
}

static void
unpack_gstream_init(struct unpack_gstream *g, GMimeStream *s,
    GMimeFilter *filter)
{
	memset(g, 0, sizeof *g);
	g->rd.read = unpack_gstream_read;
	g->rd.close = unpack_gstream_close;
	g->s = s;
	g->filter = filter;
}

/* State of one message walk. */
struct unpack_mime_walk {
	struct unpack_walk *w;
	unsigned parts;         /* leaf parts so far, for max_mime_parts */
	int over;               /* max_mime_parts hit: stop this message */
};

static int unpack_mime_message(struct unpack_mime_walk *mw, GMimeMessage *msg,
    unsigned depth, const char *label, const struct unpack_meta *outer);

static int
unpack_mime_count_part(struct unpack_mime_walk *mw, const char *label)
{
	if (mw->over)
		return 0;
	if (++mw->parts > mw->w->lim->max_mime_parts) {
		unpack_note(mw->w, label, "message has more than max_mime_parts "
		    "(%u) parts", mw->w->lim->max_mime_parts);
		mw->over = 1;
		return 0;
	}
	return 1;
}

/*
 * Offers a GMimeStream (positioned at its start), decoded by `filter`
 * (owned, may be NULL), to the walk.
 */
static int
unpack_mime_offer(struct unpack_mime_walk *mw, GMimeStream *s,
    GMimeFilter *filter, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_gstream *g = xmalloc(sizeof *g);
	int r;

	unpack_gstream_init(g, s, filter);
	r = unpack_stream(mw->w, &g->rd, depth, label, meta);
	if (g->rd.err[0] != '\0')
		unpack_note(mw->w, label, "%s", g->rd.err);
	if (filter != NULL)
		g_object_unref(filter);
	free(g);
	return r;
}

/* A leaf part: decode its content as a stream and walk it. */
static int
unpack_mime_part(struct unpack_mime_walk *mw, GMimePart *part,
    unsigned depth, const char *label, const struct unpack_meta *meta)
{
	GMimeDataWrapper *dw = g_mime_part_get_content(part);
	GMimeFilter *dec = NULL;
	GMimeStream *raw;
	GMimeContentEncoding enc;
	int r;

	if (dw == NULL || (raw = g_mime_data_wrapper_get_stream(dw)) == NULL) {
		GMimeStream *empty = g_mime_stream_mem_new();
		r = unpack_mime_offer(mw, empty, NULL, depth, label, meta);
		g_object_unref(empty);
		return r;
	}
	g_mime_stream_reset(raw);
	enc = g_mime_data_wrapper_get_encoding(dw);
	if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
	    enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
	    enc == GMIME_CONTENT_ENCODING_UUENCODE)
		dec = g_mime_filter_basic_new(enc, FALSE);
	r = unpack_mime_offer(mw, raw, dec, depth, label, meta);
	g_mime_stream_reset(raw);
	return r;
}

static int
unpack_mime_is_feedback(GMimeContentType *ct)
{
	const char *rt;

	if (ct == NULL)
		return 0;
	if (g_mime_content_type_is_type(ct, "message", "feedback-report"))
		return 1;
	if (!g_mime_content_type_is_type(ct, "multipart", "report"))
		return 0;
	rt = g_mime_content_type_get_parameter(ct, "report-type");
	return rt != NULL && strcasecmp(rt, "feedback-report") == 0;
}

static int
unpack_mime_object(struct unpack_mime_walk *mw, GMimeObject *obj,
    unsigned depth, const char *label, const char *partno,
    const struct unpack_meta *meta)
{
	GMimeContentType *ct = g_mime_object_get_content_type(obj);
	char *mime = ct ? g_mime_content_type_get_mime_type(ct) : NULL;
	char cmime[UNPACK_NAME_MAX + 1], cname[UNPACK_NAME_MAX + 1];
	struct unpack_meta pm = *meta;
	char *plabel = NULL;
	int r = 0;

	unpack_sanitize(cmime, sizeof cmime, mime ? mime : "text/plain");
	if (unpack_mime_is_feedback(ct))
		pm.in_feedback_report = 1;
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int i, count = g_mime_multipart_get_count(mp);

		if (!unpack_depth_ok(mw->w, depth, label))
			goto done;
		/* A message/feedback-report child makes the whole multipart a
		 * failure report, whatever its declared type (Netease sends
		 * multipart/mixed). */
		for (i = 0; i < count && !pm.in_feedback_report; i++) {
			GMimeObject *c = g_mime_multipart_get_part(mp, i);
			GMimeContentType *cct = g_mime_object_get_content_type(c);
			if (cct != NULL && g_mime_content_type_is_type(cct,
			    "message", "feedback-report"))
				pm.in_feedback_report = 1;
		}
		for (i = 0; i < count && r == 0 && !mw->over; i++) {
			char no[256];

			if (partno[0] != '\0')
				snprintf(no, sizeof no, "%s.%d", partno, i + 1);
			else
				snprintf(no, sizeof no, "%d", i + 1);
			r = unpack_mime_object(mw, g_mime_multipart_get_part(mp,
			    i), depth + 1, label, no, &pm);
		}
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *inner = g_mime_message_part_get_message(
		    GMIME_MESSAGE_PART(obj));

		plabel = unpack_label(label, "part %s (%s)", partno, cmime);
		if (inner == NULL)
			goto done;
		if (pm.in_feedback_report) {
			/* the reported message: offer it whole */
			GMimeStream *s;

			if (!unpack_mime_count_part(mw, plabel))
				goto done;
			s = g_mime_stream_mem_new();
			g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, s);
			g_mime_stream_reset(s);
			pm.ctype = cmime;
			pm.filename = NULL;
			r = unpack_mime_offer(mw, s, NULL, depth, plabel, &pm);
			g_object_unref(s);
		} else if (unpack_depth_ok(mw->w, depth, plabel)) {
			r = unpack_mime_message(mw, inner, depth + 1, plabel, &pm);
		}
	} else if (GMIME_IS_PART(obj)) {
		const char *fn = g_mime_part_get_filename(GMIME_PART(obj));

		if (fn != NULL) {
			unpack_sanitize(cname, sizeof cname, fn);
			plabel = unpack_label(label, "part %s (%s, %s)", partno,
			    cmime, cname);
		} else {
			plabel = unpack_label(label, "part %s (%s)", partno,
			    cmime);
		}
		if (!unpack_mime_count_part(mw, plabel))
			goto done;
		pm.ctype = cmime;
		pm.filename = fn ? cname : NULL;
		r = unpack_mime_part(mw, GMIME_PART(obj), depth, plabel, &pm);
	}
	/* message/partial and unknown objects: nothing to offer */
done:
	free(plabel);
	g_free(mime);
	return r;
}

static int
unpack_mime_message(struct unpack_mime_walk *mw, GMimeMessage *msg,
    unsigned depth, const char *label, const struct unpack_meta *outer)
{
	InternetAddressList *from = g_mime_message_get_from(msg);
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	struct unpack_meta meta = { 0 };
	char *fromstr = NULL;
	int r = 0;

	if (outer != NULL)
		meta.in_feedback_report = outer->in_feedback_report;
	meta.subject = g_mime_message_get_subject(msg);
	meta.message_id = g_mime_message_get_message_id(msg);
	if (from != NULL && internet_address_list_length(from) > 0)
		fromstr = internet_address_list_to_string(from, NULL, FALSE);
	meta.from = fromstr;
	if (body != NULL)
		r = unpack_mime_object(mw, body, depth, label,
		    GMIME_IS_MULTIPART(body) ? "" : "1", &meta);
	g_free(fromstr);
	return r;
}

static int
unpack_b64_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Length of a base64 line at p (CR/LF/trailing blanks excluded), or 0. */
static size_t
unpack_b64_line(const unsigned char *p, size_t len)
{
	size_t i = 0, pad = 0;

	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == ' ' ||
	    p[len - 1] == '\t'))
		len--;
	while (i < len && unpack_b64_char(p[i]))
		i++;
	while (i < len && p[i] == '=' && pad < 2) {
		i++;
		pad++;
	}
	return i == len ? len : 0;
}

/*
 * Quirk 35: scan raw text for base64 blocks (a first line of at least 40
 * characters, then lines no longer than it, the first shorter one ending
 * the block) and walk those that decode to gzip, zip or XML.
 */
static int
unpack_mime_fallback(struct unpack_mime_walk *mw, const unsigned char *p,
    size_t len, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	size_t off = 0, lineno = 0;
	unsigned blocks = 0;
	int r = 0;

	while (off < len && r == 0) {
		const unsigned char *nl = memchr(p + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - (p + off)) : len - off;
		size_t first = unpack_b64_line(p + off, ll);
		size_t start = off, end, line0 = ++lineno;

		off += ll + (nl ? 1 : 0);
		if (first < 40)
			continue;
		end = off;
		if (first % 4 == 0 && p[start + first - 1] != '=') {
			while (off < len) {
				nl = memchr(p + off, '\n', len - off);
				ll = nl ? (size_t)(nl - (p + off)) : len - off;
				size_t bl = unpack_b64_line(p + off, ll);
				if (bl == 0 || bl > first)
					break;
				off += ll + (nl ? 1 : 0);
				end = off;
				lineno++;
				if (bl < first)
					break;
			}
		}
		{
			size_t cap = (end - start) / 4 * 3 + 3;
			unsigned char *dec = xmalloc(cap);
			gint state = 0;
			guint save = 0;
			gsize dn = g_base64_decode_step((const gchar *)p + start,
			    end - start, dec, &state, &save);
			enum sniff_kind k = sniff(dec, dn < UNPACK_PEEK ? dn :
			    UNPACK_PEEK);

			if (k == SNIFF_GZIP || k == SNIFF_ZIP || k == SNIFF_XML ||
			    k == SNIFF_TAR || k == SNIFF_COMPRESSED) {
				struct rd *m = rd_mem_new(dec, dn);
				char *blabel = unpack_label(label,
				    "base64 block %u (line %zu)", ++blocks, line0);

				if (unpack_mime_count_part(mw, blabel))
					r = unpack_stream(mw->w, m, depth, blabel,
					    meta);
				free(blabel);
				rd_close(&m);
			}
			free(dec);
		}
	}
	return r;
}

int
unpack_mime(struct unpack_walk *w, const unsigned char *pre, size_t n,
    struct rd *rd, unsigned depth, const char *label,
    const struct unpack_meta *meta)
{
	struct unpack_mime_walk mw = { .w = w };
	struct unpack_spool sp;
	unsigned long reports = w->reports, containers = w->containers;
	GMimeStream *stream;
	GMimeParser *parser;
	GMimeMessage *msg;
	struct unpack_meta fm = { 0 };
	char *fromstr = NULL;
	char err[256];
	int r = 0;

	if (!unpack_depth_ok(w, depth, label))
		return 0;
	unpack_mime_init_once();
	if (unpack_mime_stopped) {
		unpack_note(w, label, "MIME: support already shut down");
		return 0;
	}
	if (unpack_spool_fill(&sp, pre, n, rd, w->lim->max_input_bytes,
	    "max_input_bytes", err, sizeof err) < 0) {
		unpack_note(w, label, "message: %s", err);
		return 0;
	}
	if (sp.fd >= 0) {
		/* the stream starts where the descriptor is: at the start */
		int fd = dup(sp.fd);
		stream = fd >= 0 ? g_mime_stream_fs_new_with_bounds(fd, 0, -1) :
		    NULL;
	} else {
		/* GMime copies the bytes; keep only its copy */
		stream = g_mime_stream_mem_new_with_buffer((const char *)sp.mem,
		    sp.len);
		unpack_spool_fini(&sp);
	}
	if (stream == NULL) {
		unpack_note(w, label, "message: cannot open a stream");
		unpack_spool_fini(&sp);
		return 0;
	}
	parser = g_mime_parser_new_with_stream(stream);
	g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg == NULL) {
		unpack_note(w, label, "MIME: cannot parse the message");
	} else {
		InternetAddressList *from = g_mime_message_get_from(msg);

		r = unpack_mime_message(&mw, msg, depth + 1, label, meta);
		fm.subject = g_mime_message_get_subject(msg);
		fm.message_id = g_mime_message_get_message_id(msg);
		if (from != NULL && internet_address_list_length(from) > 0)
			fromstr = internet_address_list_to_string(from, NULL,
			    FALSE);
		fm.from = fromstr;
	}
	if (r == 0 && !mw.over && w->reports == reports &&
	    w->containers == containers) {
		const unsigned char *raw = sp.mem;
		size_t rawlen = sp.len;

		if (sp.fd < 0) {
			GByteArray *ba = g_mime_stream_mem_get_byte_array(
			    GMIME_STREAM_MEM(stream));
			raw = ba->data;
			rawlen = ba->len;
		}
		r = unpack_mime_fallback(&mw, raw, rawlen, depth + 1, label,
		    &fm);
	}
	g_free(fromstr);
	if (msg != NULL)
		g_object_unref(msg);
	g_object_unref(parser);
	g_object_unref(stream);
	unpack_spool_fini(&sp);
	return r;
}
