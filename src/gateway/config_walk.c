/* The config's YAML walker: config_walk.h. */
#include "gateway/config_walk.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl__cfg_fail(struct walker *w, const yaml_node_t *node, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = 1;
    int n = snprintf(w->err, w->err_size, "%s:%zu: ", w->file,
                     node ? node->start_mark.line + 1 : (size_t)1);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < w->err_size)
        vsnprintf(w->err + n, w->err_size - (size_t)n, fmt, ap);
    va_end(ap);
    /* One line, whatever the quoted value holds (a multi-line scalar, a
     * terminal escape): control characters become spaces. */
    for (char *c = w->err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
}

yaml_node_t *sl__cfg_node_at(struct walker *w, int index)
{
    return yaml_document_get_node(&w->doc, index);
}

const char *sl__cfg_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int sl__cfg_get_string(struct walker *w, yaml_node_t *n, const char *key, char *out, size_t size)
{
    const char *s = sl__cfg_scalar(n);
    if (s == NULL) {
        sl__cfg_fail(w, n, "%s must be a string", key);
        return -1;
    }
    if (strlen(s) >= size) {
        sl__cfg_fail(w, n, "%s is too long (at most %zu characters)", key, size - 1);
        return -1;
    }
    strcpy(out, s);
    return 0;
}

int sl__cfg_get_unsigned(struct walker *w, yaml_node_t *n, const char *key, unsigned min,
                         unsigned max, unsigned *out)
{
    const char *s = sl__cfg_scalar(n);
    char *end;
    errno = 0;
    unsigned long long v = s && *s && *s != '-' ? strtoull(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *s == '-' || *end != '\0' || errno || v < min || v > max) {
        sl__cfg_fail(w, n, "%s must be a whole number from %u to %u, got '%s'", key, min, max,
                     s ? s : "(not a sl__cfg_scalar)");
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int sl__cfg_get_double(struct walker *w, yaml_node_t *n, const char *key, double min, double max,
                       double *out)
{
    const char *s = sl__cfg_scalar(n);
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || errno || !isfinite(v) || v < min || v > max) {
        sl__cfg_fail(w, n, "%s must be a number from %g to %g, got '%s'", key, min, max,
                     s ? s : "(not a sl__cfg_scalar)");
        return -1;
    }
    *out = v;
    return 0;
}

int sl__cfg_get_bool(struct walker *w, yaml_node_t *n, const char *key, int *out)
{
    const char *s = sl__cfg_scalar(n);
    if (s && (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")))
        *out = 1;
    else if (s && (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")))
        *out = 0;
    else {
        sl__cfg_fail(w, n, "%s must be true or false", key);
        return -1;
    }
    return 0;
}

/* Model patterns: a list of strings (or one string), kept comma-separated. */
void sl__cfg_get_patterns(struct walker *w, yaml_node_t *n, char *out, size_t size)
{
    sl__cfg_get_list(w, n, "models", "model names or patterns such as gpt-4o*", out, size);
}

void sl__cfg_get_list(struct walker *w, yaml_node_t *n, const char *key, const char *what,
                      char *out, size_t size)
{
    size_t len = 0, count = 1;
    yaml_node_item_t *items = NULL;
    if (n && n->type == YAML_SEQUENCE_NODE) {
        items = n->data.sequence.items.start;
        count = (size_t)(n->data.sequence.items.top - items);
    }
    out[0] = '\0';
    for (size_t i = 0; i < count && !w->failed; i++) {
        yaml_node_t *item = items ? sl__cfg_node_at(w, items[i]) : n;
        const char *s = sl__cfg_scalar(item);
        if (s == NULL || *s == '\0' || strchr(s, ',')) {
            sl__cfg_fail(w, item, "%s must be a list of %s", key, what);
            return;
        }
        int k = snprintf(out + len, size - len, "%s%s", len ? "," : "", s);
        if (k < 0 || (size_t)k >= size - len) {
            sl__cfg_fail(w, item, "%s is too long (at most %zu characters in all)", key, size - 1);
            return;
        }
        len += (size_t)k;
    }
}

/* Iterates a mapping: calls fn for each (key, value); fn returns 0 if it
 * knew the key, 1 if not (an error naming the key and where it may go). */

int sl__cfg_walk_mapping(struct walker *w, yaml_node_t *map, const char *what, sl__cfg_member_fn fn,
                         void *ctx, const char *known)
{
    if (map == NULL || map->type != YAML_MAPPING_NODE) {
        sl__cfg_fail(w, map, "%s must be a mapping (key: value lines)", what);
        return -1;
    }
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = sl__cfg_node_at(w, p->key), *v = sl__cfg_node_at(w, p->value);
        const char *key = sl__cfg_scalar(k);
        if (key == NULL) {
            sl__cfg_fail(w, k, "keys in %s must be plain names", what);
            return -1;
        }
        /* libyaml keeps both of a repeated key; which one wins would be an
         * accident of the walk, so a repeat is an error */
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = sl__cfg_node_at(w, q->key);
            const char *earlier = sl__cfg_scalar(qk);
            if (earlier && !strcmp(earlier, key)) {
                sl__cfg_fail(w, k, "duplicate key '%s' in %s (first at line %zu)", key, what,
                             qk->start_mark.line + 1);
                return -1;
            }
        }
        int rc = fn(w, key, v, ctx);
        if (rc > 0)
            sl__cfg_fail(w, k, "unknown key '%s' in %s (known: %s)", key, what, known);
        if (w->failed)
            return -1;
    }
    return 0;
}

void sl__cfg_load_list(struct walker *w, yaml_node_t *list, const char *what, size_t elem,
                       void **out, size_t *count)
{
    if (list->type != YAML_SEQUENCE_NODE) {
        sl__cfg_fail(w, list, "%s must be a list", what);
        return;
    }
    size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
    *out = calloc(n ? n : 1, elem);
    *count = n;
    if (*out == NULL)
        sl__cfg_fail(w, list, "out of memory");
}
