/*
 * unpack.h - peel containers off an input until documents remain.
 *
 * An input (file, mail message, upload) is sniffed by content; gzip layers
 * (also doubled, multi-member, with trailing garbage) are inflated, every
 * zip member is opened (directories skipped), MIME messages are walked part
 * by part (base64 / quoted-printable decoded, nested message/rfc822 and
 * multipart followed, wrong or missing Content-Type ignored in favour of the
 * content), and each leaf is handed to the callback as a stream whose first
 * bytes have been sniffed.  Nothing is loaded whole unless a library needs it
 * (a zip's central directory, one MIME part).
 *
 * Leaves of kind SNIFF_XML and SNIFF_JSON are candidates for reports; other
 * leaves (text parts, html, images) are passed too so that the caller can
 * say what a message held when it held no report.  `label` names the leaf
 * inside the input, e.g. "part 2 (application/zip) > google.com!x!1!2.xml",
 * or "" for the input itself.  `ctype` is the declared MIME type or NULL.
 *
 * The callback returns 0 to go on or -1 to stop.  unpack_run returns 0 when
 * the walk completed (whatever the leaves were), -1 with a one-line reason in
 * err when the container itself was broken or over a limit.
 */
#ifndef DMARCSTAT_UNPACK_H
#define DMARCSTAT_UNPACK_H
#include <stddef.h>

#include "lib/rd.h"
#include "parse/limits.h"
#include "parse/sniff.h"

struct unpack_leaf {
	const char *label;
	const char *ctype;          /* declared type, informative only */
	const char *filename;       /* declared file name, informative only */
	enum sniff_kind kind;
	const char *what;           /* finer name of the kind ("7z", "pdf"...), static */
	struct rd *rd;              /* owned by unpack; read it during the call */
	/* For a leaf inside a mail: the message's Subject/From/Message-ID. */
	const char *subject, *from, *message_id;
	int in_feedback_report;     /* leaf is (part of) a multipart/report feedback-report */
};

typedef int (*unpack_leaf_fn)(void *ctx, struct unpack_leaf *leaf);

/*
 * unpack_global_init: sets up the MIME library (g_mime_init) once; safe to
 * call from any thread, any number of times (pthread_once).  unpack_run
 * calls it itself the first time it meets a mail, so calling it is only
 * needed to pay that cost up front.  unpack_global_fini: shuts the MIME
 * library down and frees this thread's cached gzip state; call it once at
 * exit, after every unpack_run has returned (idempotent; MIME inputs fail
 * with a reason after it).
 */
void unpack_global_init(void);
void unpack_global_fini(void);

int unpack_run(struct rd *in, const struct limits *lim, unpack_leaf_fn fn,
    void *ctx, char *err, size_t errlen);
/*
 * Details of unpack_run:
 * - A problem in one branch (a corrupt gzip part, a zip member over
 *   max_expanded_bytes, a part past max_mime_parts) does not stop the walk
 *   of its siblings; the first problem is returned in err, prefixed with
 *   the label of where it happened, and the return value is -1.  Leaves
 *   delivered before or after it are still good.
 * - A decoding error met while the callback reads a leaf (truncated gzip,
 *   bomb) is both returned to the callback by rd_read and reported by
 *   unpack_run.
 * - Leaf labels: "part 2 (application/zip, name.zip) > member name.xml";
 *   parts are numbered like IMAP (1, 2, 2.1), message/rfc822 adds a level,
 *   "message N" prefixes messages 2.. of an mbox input, "base64 block N
 *   (line L)" names what the broken-header fallback found.  Declared names
 *   are sanitised (control characters replaced, at most 200 bytes).
 * - An input sniffed as mbox is split into messages (a .eml saved with a
 *   From_ line is one message).  Inside a failure report an embedded
 *   message is offered whole (kind SNIFF_MIME), not walked.
 * - The callback stopping the walk (-1) is not an error.
 */

/*
 * mbox: calls fn for each message of an mbox file, streamed (a 1 GB mbox is
 * never loaded whole).  `index` counts from 1; the message stream is only
 * valid during the call.  Returns 0, or -1 with a reason when the file could
 * not be read as an mbox at all.
 * Details: one 64 KiB buffer whatever the sizes; a From_ line separates
 * messages only at the start of the file or after an empty line (that line
 * is dropped); ">From " lines lose one '>' (mboxrd); a message longer than
 * max_input_bytes makes its stream fail with a reason naming the limit and
 * the next message is still offered.  The callback returning -1 stops the
 * walk (return value 0).
 */
typedef int (*unpack_msg_fn)(void *ctx, unsigned long index, struct rd *msg);
int unpack_mbox(struct rd *in, const struct limits *lim, unpack_msg_fn fn,
    void *ctx, char *err, size_t errlen);

#endif
