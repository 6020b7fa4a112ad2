/*
 * walk.h - turn command-line paths into inputs: a file is one input, a
 * directory is walked recursively in name order (hidden entries skipped), a
 * Maildir (a directory with cur/ or new/) yields one input per message file
 * in cur/ and new/ (tmp/ is ignored), an mbox yields one input per message,
 * "-" is standard input.  Nothing is decided by file name: an mbox is
 * recognised by its content.
 *
 * The callback gets each input as a stream it must read during the call;
 * `source` is file | stdin | mbox | maildir, `name` the path, `member`
 * "message N" inside an mbox or NULL.  It returns 0 to go on, -1 to stop
 * the walk (a temporary failure such as a locked database).
 *
 * walk_path returns 0, or -1 when the callback stopped it.  Paths that cannot
 * be opened are reported through `on_error` (one line each) and skipped.
 */
#ifndef DMARCSTAT_WALK_H
#define DMARCSTAT_WALK_H
#include "lib/rd.h"
#include "parse/limits.h"

struct walk_cb {
	int (*on_input)(void *ctx, const char *source, const char *name,
	    const char *member, struct rd *rd);
	void (*on_error)(void *ctx, const char *name, const char *reason);
	void *ctx;
};

int walk_path(const char *path, const struct limits *lim, const struct walk_cb *cb);

#endif
