/*
 * reasontr.h - the user's language for the reasons and warnings the
 * parsers, unpackers and the store write in English.
 *
 * Reasons are data: the ledger, the report warnings and `parse --json`
 * keep them in English, the words the code wrote, so that they stay
 * searchable and stable.  What a person reads (the CLI's error lines and
 * tables, the dashboard) is translated on the way out by matching the
 * English text against the patterns of one catalog, web/i18n/reasons.json,
 * which the dashboard's JavaScript (web/js/reasons.js) reads too, with the
 * same rules:
 *
 *   - a pattern is the English format: %s stands for any text (shortest
 *     match first), %d for an integer; it must match the whole text; the
 *     first matching pattern in catalog order wins;
 *   - its translation puts the captures back with %1 .. %9 (%% is '%'),
 *     in any order; a %s capture is itself translated (a reason inside a
 *     reason), and so is each part of a ", " list;
 *   - text that no pattern matches whole is cut at its first ": " and the
 *     part after it translated ("part 2 > a.zip: zip: ...");
 *   - what cannot be translated stays as it is.
 */
#ifndef DMARCSTAT_REASONTR_H
#define DMARCSTAT_REASONTR_H
#include <stddef.h>

/*
 * Writes `text` in `lang` ("ja"; anything else is English) to out (always
 * NUL-terminated, cut at outlen) and returns out.  Returns 1 in *done when
 * a pattern matched somewhere, else 0 (done may be NULL).
 */
const char *reason_tr(const char *lang, const char *text, char *out,
    size_t outlen, int *done);

/* Number of catalog entries (0 when the catalog failed to load). */
size_t reason_tr_count(void);

#endif
