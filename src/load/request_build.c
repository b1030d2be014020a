/* Formats the load run's request; see request_build.h. */
#include "load/request_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/json_scan.h"

struct body {
    char *data;
    size_t len;
};

static int read_body(const char *file, struct body *b, char *err, size_t err_size)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL) {
        snprintf(err, err_size, "cannot read --body '%s': %s", file, strerror(errno));
        return -1;
    }
    b->data = malloc(SL_LOAD_MAX_BODY_BYTES + 1);
    size_t n = b->data ? fread(b->data, 1, SL_LOAD_MAX_BODY_BYTES + 1, f) : 0;
    int ferr = ferror(f);
    fclose(f);
    if (b->data == NULL || ferr || n > SL_LOAD_MAX_BODY_BYTES) {
        snprintf(err, err_size, "cannot read --body '%s': %s", file,
                 n > SL_LOAD_MAX_BODY_BYTES ? "larger than 16 MiB" : "read error");
        return -1;
    }
    b->len = n;
    return 0;
}

static int default_body(const struct sl_load_request_spec *spec, struct body *b)
{
    char model[512], prompt[8192];
    sl_json_escape(model, sizeof(model), spec->model ? spec->model : "gpt-4o-mini");
    sl_json_escape(prompt, sizeof(prompt),
                   spec->prompt ? spec->prompt
                                : "Explain in two sentences why the sky is blue, for a curious "
                                  "ten-year-old.");
    size_t cap = strlen(model) + strlen(prompt) + 512;
    b->data = malloc(cap);
    if (b->data == NULL)
        return -1;
    int n = snprintf(b->data, cap,
                     "{\"model\":\"%s\",\"messages\":[{\"role\":\"system\",\"content\":\"You are "
                     "a helpful assistant. Answer briefly.\"},{\"role\":\"user\",\"content\":"
                     "\"%s\"}],\"max_tokens\":128,\"temperature\":0.7%s}",
                     model, prompt, spec->stream ? ",\"stream\":true" : "");
    b->len = (size_t)n;
    return 0;
}

static int has_header(const struct sl_load_request_spec *spec, const char *name)
{
    size_t n = strlen(name);
    for (unsigned i = 0; i < spec->n_headers; i++)
        if (strncasecmp(spec->headers[i], name, n) == 0 && spec->headers[i][n] == ':')
            return 1;
    return 0;
}

int sl_load_request_build(const struct sl_load_request_spec *spec, struct sl_conn_target *target,
                          char *err, size_t err_size)
{
    const char *method = spec->method ? spec->method : "POST";
    int bodyless =
        !spec->body_file && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
                             strcmp(method, "DELETE") == 0 || strcmp(method, "OPTIONS") == 0);
    struct body b = {NULL, 0};
    char *req = NULL;
    int rc = -1;
    err[0] = '\0';
    if (spec->body_file) {
        if (read_body(spec->body_file, &b, err, err_size))
            goto out;
    } else if (!bodyless && default_body(spec, &b)) {
        goto out;
    }
    size_t head_cap = SL_LOAD_MAX_HEAD_BYTES;
    req = malloc(head_cap + b.len);
    if (req == NULL)
        goto out;
    size_t o = 0;
#define ADD(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(req + o, head_cap - o, __VA_ARGS__);                                     \
        if (k_ < 0 || (size_t)k_ >= head_cap - o)                                                  \
            goto too_big;                                                                          \
        o += (size_t)k_;                                                                           \
    } while (0)
    ADD("%s %s HTTP/1.1\r\n", method, spec->path);
    if (!has_header(spec, "Host"))
        ADD("Host: %s\r\n", spec->hostport);
    if (!has_header(spec, "User-Agent"))
        ADD("User-Agent: sluice-load/0.1.0\r\n");
    if (!has_header(spec, "Accept"))
        ADD("Accept: %s\r\n", spec->stream ? "text/event-stream" : "application/json");
    if (b.len || !bodyless) {
        if (!has_header(spec, "Content-Type"))
            ADD("Content-Type: application/json\r\n");
        ADD("Content-Length: %zu\r\n", b.len);
    }
    for (unsigned i = 0; i < spec->n_headers; i++)
        ADD("%s\r\n", spec->headers[i]);
    ADD("\r\n");
#undef ADD
    if (b.len)
        memcpy(req + o, b.data, b.len);
    target->request = req;
    target->request_len = o + b.len;
    target->head_only = strcmp(method, "HEAD") == 0;
    target->sse = spec->stream;
    req = NULL;
    rc = 0;
    goto out;
too_big:
    snprintf(err, err_size, "the request headers exceed %u bytes", SL_LOAD_MAX_HEAD_BYTES);
out:
    free(req);
    free(b.data);
    return rc;
}
