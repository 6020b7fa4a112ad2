/*
 * messages.h - English and Japanese texts for classification reasons,
 * advice, readiness verdicts, checklist items, next steps and CLI labels.
 * Texts are templates with {name} placeholders filled from a JSON object
 * of parameters, so the web UI gets the same sentences as the CLI.
 */
#ifndef DMARCSTAT_MESSAGES_H
#define DMARCSTAT_MESSAGES_H
#include <jansson.h>

/* The template for `key` in `lang` ("en" | "ja"; anything else is "en"),
 * or NULL when the key is unknown. */
const char *messages_get(const char *key, const char *lang);
/* Renders `key` with `params` (an object; may be NULL).  Unknown
 * placeholders become "".  Returns a malloc'd string (the key itself when
 * the key is unknown). */
char *messages_render(const char *key, const char *lang, const json_t *params);
/* {"en": "...", "ja": "..."} for `key`. */
json_t *messages_json(const char *key, const json_t *params);
/* Number of keys and key i (for the completeness test). */
size_t messages_count(void);
const char *messages_key(size_t i);

#endif
