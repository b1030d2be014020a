/* The mock upstream: an OpenAI-compatible API that misbehaves on purpose.
 *
 * Endpoints: POST /v1/chat/completions (JSON, or SSE when "stream": true),
 * POST /v1/completions, POST /v1/embeddings, GET /v1/models, and for tests
 * GET /mock/stats (counters as JSON) and POST /mock/reset.
 *
 * Every API request gets a sequence number in arrival order and its own
 * random stream from (seed, sequence number): the same seed and the same
 * order of requests replay the same latencies and faults. Faults: an HTTP
 * error (429 with Retry-After, 500, 502, 503, 400, 401), a connection reset,
 * a stall (no answer until the client gives up) and a cut (the response
 * stops half way and the connection closes). Above max_concurrency
 * requests in flight it answers 429 at once.
 *
 * Each API it can speak instead (--api) is a wire table in mock/wire.h
 * (wire_<api>.c): its paths, its checks, its bodies, stream framing and
 * error shapes, on the same engine of faults and pacing. With api =
 * SL_MOCK_API_ANTHROPIC it is Anthropic's Messages API:
 * POST /v1/messages (a message, or with "stream": true message_start,
 * content_block_start, ping, content_block_delta..., content_block_stop,
 * message_delta, message_stop), which needs x-api-key (else a 401),
 * anthropic-version and max_tokens (else a 400 invalid_request_error), and Anthropic's error
 * shapes for the same faults (429 rate_limit_error, 503 as 529
 * overloaded_error, 500 api_error, ...). With SL_MOCK_API_BEDROCK it is
 * the Bedrock Runtime's Converse API with its event-stream framing and a
 * SigV4 check (wire_bedrock.c). */
#ifndef SL_MOCK_H
#define SL_MOCK_H

#include <stdint.h>
#include <uv.h>

#include "core/weighted.h"
#include "http/server.h"

enum sl_mock_fault {
    SL_MOCK_OK,
    SL_MOCK_429,
    SL_MOCK_500,
    SL_MOCK_502,
    SL_MOCK_503,
    SL_MOCK_400,
    SL_MOCK_401,
    SL_MOCK_RESET,
    SL_MOCK_STALL,
    SL_MOCK_CUT,
    SL_MOCK__COUNT
};

#define SL_MOCK_FAULTS_DEFAULT "429,500,502,503"

/* The API the mock speaks (--api): each is a wire table (wire.h). */
enum sl_mock_api {
    SL_MOCK_API_OPENAI,
    SL_MOCK_API_ANTHROPIC,
    SL_MOCK_API_AZURE,
    SL_MOCK_API_BEDROCK,
    SL_MOCK_API_GEMINI,
    SL_MOCK_API__COUNT
};

/* --api NAME. Returns 0, or -1 with err ("unknown API 'x' (use ...)"). */
int sl_mock_api_parse(const char *name, enum sl_mock_api *out, char *err, size_t err_size);

struct sl_mock_config {
    enum sl_mock_api api;
    unsigned latency_min_ms, latency_max_ms; /* before the first byte */
    unsigned token_ms;                       /* between stream chunks */
    unsigned completion_tokens;              /* when the request gives no max_tokens */
    double fail_rate;
    struct sl_weighted faults;
    unsigned max_concurrency; /* 0 = no cap */
    unsigned retry_after_s;   /* on 429 */
    uint64_t seed;
    /* Faults for the first requests, in arrival order ("429,ok,cut"), before
     * the random ones: for tests that need an exact script. */
    int sequence[64];
    unsigned sequence_len;
};

void sl_mock_config_default(struct sl_mock_config *cfg);
int sl_mock_faults_parse(struct sl_weighted *w, const char *spec, char *err, size_t err_size);
/* Parses a --sequence list into cfg->sequence. Returns 0 or -1 with err. */
int sl_mock_sequence_parse(struct sl_mock_config *cfg, const char *spec, char *err,
                           size_t err_size);
const char *sl_mock_fault_name(int fault);

struct sl_mock;

int sl_mock_new(uv_loop_t *loop, const struct sl_mock_config *cfg, struct sl_mock **out);
/* The request handler to give sl_http_server_new (data = the mock). */
void sl_mock_handle(struct sl_http_exchange *req, void *mock);

struct sl_mock_stats {
    uint64_t requests, in_flight, max_in_flight, client_gone, resets, stalls, cuts, streams;
    uint64_t status[600];
};
void sl_mock_stats(const struct sl_mock *mock, struct sl_mock_stats *out);

/* Frees the mock once its pending timers are closed. Close the server
 * first: that aborts every request the mock still holds. */
void sl_mock_free(struct sl_mock *mock);

#endif
