/* Internal to the mock: the engine (mock.c: faults, latency, the stream's
 * pacing, counters) and the wire tables that give it each API's shapes
 * (wire_openai.c, wire_anthropic.c, ...). The engine decides WHAT happens
 * to a request (a fault, how many tokens, when); a wire decides how it
 * looks on the wire (paths, checks, bodies, stream framing, error shapes).
 * A wire never keeps state of its own: what it needs is in mock_req. */
#ifndef SL_MOCK_WIRE_H
#define SL_MOCK_WIRE_H

#include <stdint.h>
#include <uv.h>

#include "core/rng.h"
#include "core/str.h"
#include "http/openai.h"
#include "http/server.h"
#include "mock/mock.h"

struct sl_mock {
    uv_loop_t *loop;
    struct sl_mock_config cfg;
    const struct sl_mock_wire *wire;
    struct sl_mock_stats stats;
    uint64_t seq;
    size_t live;
    int freeing;
    /* the rate-limit headers' minute: requests and tokens answered in it */
    uint64_t window_start_ms;
    uint64_t window_requests, window_tokens;
    char scratch[96 * 1024]; /* response bodies are formatted here */
};

/* The nominal limits a mock reports in its rate-limit headers (OpenAI's
 * tier-5 figures for a small model) and what this minute has used of
 * them: the mock's own traffic, counted; the limits are not enforced
 * (--max-concurrency and the faults are how a mock says 429). */
#define SL_MOCK_RPM 30000
#define SL_MOCK_TPM 150000000
struct sl_mock_limits {
    uint64_t requests_limit, requests_remaining;
    uint64_t tokens_limit, tokens_remaining;
    uint64_t reset_ms;   /* until the minute ends */
    int64_t reset_at_ms; /* when it ends, Unix time in ms */
};

struct mock_req {
    uv_timer_t timer;
    struct sl_mock *m;
    struct sl_http_exchange *req;
    struct sl_rng rng;
    enum sl_mock_fault fault;
    enum sl_openai_endpoint ep;
    int stream, heap, finished, streaming;
    int include_usage; /* the stream asked for its usage chunk */
    unsigned prompt_tokens, tokens_total, tokens_sent;
    uint64_t seq;
    int64_t created;
    char model[128];
    char tool[64];     /* bedrock, openai: the tool the answer calls, "" for text */
    int responses;     /* openai, azure: a Responses API request (wire_responses.c) */
    char previous[64]; /* its previous_response_id, echoed */
};

/* One API's shapes. Every hook but route and parse gets a request that
 * passed both. The size_t hooks write into out (size bytes) and return the
 * length written, always < size (0 when it does not fit). */
struct sl_mock_wire {
    const char *name; /* --api NAME */
    /* An API request of this wire? Sets mr->ep and what the path says
     * (gemini and bedrock put the model and the streaming in the path).
     * Returns 0, or -1: not an API path (the mock's own endpoints, 404). */
    int (*route)(struct mock_req *mr, const struct sl_http_head *h);
    /* Checks the request as the real provider would and fills mr->model,
     * mr->stream, mr->prompt_tokens and, when the request bounds its
     * answer, mr->tokens_total (engine-clamped). Returns 0, or the HTTP
     * status of the refusal with *code (NULL: the wire's default for the
     * status) and why (a one-line message). */
    int (*parse)(struct mock_req *mr, const struct sl_http_head *h, struct sl_str body,
                 const char **code, char *why, size_t why_size);
    /* Answers an error in the API's shape with sl__mock_reply: status is
     * the mock's (429, 500, 502, 503, 400, 401, 405, 404...): the wire may
     * show it as its provider does (Anthropic's 503 is 529); code as in
     * parse (NULL: the default for the status). */
    void (*error)(struct mock_req *mr, int status, const char *code, const char *message);
    /* A 200 JSON answer whose content is text (mr->tokens_total words). */
    size_t (*body)(struct mock_req *mr, const char *text, char *out, size_t size);
    /* A stream: its content type, what opens it, the event of token i
     * (its text), and what closes it after the last token (end markers). */
    const char *stream_type;
    size_t (*stream_head)(struct mock_req *mr, char *out, size_t size);
    size_t (*stream_token)(struct mock_req *mr, unsigned i, const char *text, char *out,
                           size_t size);
    size_t (*stream_tail)(struct mock_req *mr, char *out, size_t size);
    /* The provider's own headers on every answer (its request id, its
     * rate-limit headers from `lim`), at most `room` into out, their values
     * written in buf (size bytes). NULL: none. Returns how many. */
    size_t (*headers)(struct mock_req *mr, const struct sl_mock_limits *lim,
                      struct sl_http_header *out, size_t room, char *buf, size_t size);
};

extern const struct sl_mock_wire sl_mock_wire_openai;
extern const struct sl_mock_wire sl_mock_wire_anthropic;
extern const struct sl_mock_wire sl_mock_wire_azure;
extern const struct sl_mock_wire sl_mock_wire_bedrock;
extern const struct sl_mock_wire sl_mock_wire_gemini;

/* The one way a non-streamed answer leaves (errors included): counted,
 * Retry-After added to a 429, the request finished. */
void sl__mock_reply(struct mock_req *mr, int status, const struct sl_http_header *headers, size_t n,
                    const char *body, size_t len);

/* For the headers hook: appends header `name` with a printf-formatted
 * value written at buf + *used (size bytes in all), when both fit. */
void sl__mock_header(struct sl_http_header *out, size_t room, size_t *n, char *buf, size_t size,
                     size_t *used, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

/* snprintf's length when it fitted, else 0 (for the wires' size_t hooks). */
size_t sl__mock_fitted(int n, size_t size);

/* The answer's words from..from+count (what the tokens said), into out. */
size_t sl__mock_words(char *out, size_t size, unsigned from, unsigned count);

/* wire_responses.c: the Responses API on the openai and azure wires, as
 * the wire hooks (mr->responses set by their route). */
int sl__mock_responses_parse(struct mock_req *mr, struct sl_str body, const char **code, char *why,
                             size_t why_size);
size_t sl__mock_responses_body(struct mock_req *mr, const char *text, char *out, size_t size);
size_t sl__mock_responses_head(struct mock_req *mr, char *out, size_t size);
size_t sl__mock_responses_token(struct mock_req *mr, unsigned i, const char *text, char *out,
                                size_t size);
size_t sl__mock_responses_tail(struct mock_req *mr, char *out, size_t size);

#endif
