/* template.h — "{name}" placeholders in channel, event and payload
 * templates, shared by webhook mappings and tap rules (codec, no I/O).
 *
 * A placeholder is {name} with name of A-Z a-z 0-9 _ . - ; other braces are
 * literal, and "{{" / "}}" are literal braces. A placeholder's name is looked up
 * through a callback; an unknown name makes the whole expansion fail
 * (the caller skips that publish and logs why), so a channel is never
 * built from half a template. */
#ifndef PG_BRIDGE_TEMPLATE_H
#define PG_BRIDGE_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

/* Looks up name[0..n): returns a view valid until the expansion ends (or
 * NULL when unknown) with its length in *len. */
typedef const char *(*pg_tpl_lookup)(void *ud, const char *name, size_t n, size_t *len);

enum pg_tpl_escape { PG_TPL_RAW, PG_TPL_JSON };

/* Expands tpl. Returns a heap string, or NULL with *missing pointing at
 * a heap copy of the first unknown placeholder name (caller frees). */
char *pg_tpl_expand(const char *tpl, enum pg_tpl_escape esc, pg_tpl_lookup fn, void *ud,
                    char **missing);

/* Checks tpl's syntax (balanced braces, non-empty names). Returns NULL or
 * a static reason. */
const char *pg_tpl_check(const char *tpl);

#endif
