/* AWS event stream (application/vnd.amazon.eventstream): the binary
 * framing of Bedrock's ConverseStream and InvokeModelWithResponseStream.
 *
 * A message (all integers big-endian):
 *   total length u32 | headers length u32 | prelude CRC u32   (the prelude)
 *   headers (headers length bytes) | payload | message CRC u32
 * The prelude CRC covers the first 8 bytes, the message CRC everything
 * before it (prelude CRC included); both are CRC-32 (IEEE, as zlib). A
 * header is: name length u8, name, type u8, value, where the value is
 * nothing (0 true, 1 false), 1 byte (2), 2 (3 short), 4 (4 int), 8 (5 long,
 * 8 timestamp in ms), u16 length + bytes (6 bytes, 7 string), 16 (9 uuid).
 *
 * Decoder: fed the body in chunks split anywhere. A frame that arrives
 * whole inside one chunk is decoded in place; otherwise its bytes are
 * gathered in a buffer that never holds more than one frame, and a frame
 * may not pass max_frame (checked from the prelude, before its bytes are
 * buffered). Both CRCs are checked before a message is delivered, so a
 * callback only ever sees a verified message. On an error the decoder
 * stays failed (a stream cannot be resynchronised after a bad length) and
 * `error` says which check failed.
 *
 * Encoder: sl_eventstream_encode() writes one message, for tests and the
 * Bedrock mock. */
#ifndef SL_EVENTSTREAM_H
#define SL_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/str.h"

enum sl_es_type {
    SL_ES_TRUE = 0,
    SL_ES_FALSE = 1,
    SL_ES_BYTE = 2,
    SL_ES_SHORT = 3,
    SL_ES_INT = 4,
    SL_ES_LONG = 5,
    SL_ES_BYTES = 6,
    SL_ES_STRING = 7,
    SL_ES_TIMESTAMP = 8,
    SL_ES_UUID = 9,
};

/* One header. In a callback the name and bytes/string values point into
 * the message, valid only during the callback. */
struct sl_es_header {
    struct sl_str name;
    enum sl_es_type type;
    int64_t num;       /* TRUE/FALSE (1/0), BYTE, SHORT, INT, LONG, TIMESTAMP (ms) */
    struct sl_str str; /* BYTES, STRING; UUID (16 bytes) */
};

#define SL_ES_MAX_HEADERS 32

struct sl_es_message {
    const struct sl_es_header *headers;
    size_t n_headers;
    /* The headers Bedrock routes on (empty when absent; string-typed only). */
    struct sl_str message_type;   /* ":message-type": event, exception, error */
    struct sl_str event_type;     /* ":event-type": contentBlockDelta, messageStop, ... */
    struct sl_str content_type;   /* ":content-type": application/json */
    struct sl_str exception_type; /* ":exception-type": throttlingException, ... */
    const unsigned char *payload;
    size_t payload_len;
};

/* Called once per verified message; everything `msg` points to is valid
 * only during the call. Returns 0 to go on, or non-zero to stop:
 * sl_es_decoder_feed returns that value at once (use a positive one, the
 * decoder's own errors are negative) and the decoder is left failed with
 * SL_ES_E_STOPPED. The callback must not release the decoder. */
typedef int (*sl_es_message_cb)(void *arg, const struct sl_es_message *msg);

/* Errors: negative, one per failed check. */
enum sl_es_error {
    SL_ES_OK = 0,
    SL_ES_E_PRELUDE_CRC = -1,      /* prelude CRC mismatch */
    SL_ES_E_MESSAGE_CRC = -2,      /* message CRC mismatch */
    SL_ES_E_LENGTHS = -3,          /* total < 16, or headers longer than the frame */
    SL_ES_E_TOO_BIG = -4,          /* total length over max_frame */
    SL_ES_E_HEADER = -5,           /* a header runs past the headers, or an unknown type */
    SL_ES_E_TOO_MANY_HEADERS = -6, /* more than SL_ES_MAX_HEADERS */
    SL_ES_E_TRUNCATED = -7,        /* the stream ended inside a frame (sl_es_decoder_finish) */
    SL_ES_E_NOMEM = -8,
    SL_ES_E_STOPPED = -9, /* a callback asked to stop */
};

/* A one-line description of an error code ("message CRC mismatch"). */
const char *sl_es_strerror(int err);

#define SL_ES_DEFAULT_MAX_FRAME (1024 * 1024)
#define SL_ES_PRELUDE_LEN       12
#define SL_ES_MIN_FRAME         16

struct sl_es_decoder {
    sl_es_message_cb cb;
    void *arg;
    size_t max_frame;
    struct sl_buf partial; /* bytes of an unfinished frame, at most max_frame */
    unsigned long messages;
    int error;        /* 0 or the enum sl_es_error that stopped it */
    char detail[160]; /* the error with its numbers, one line */
};

/* max_frame 0 means SL_ES_DEFAULT_MAX_FRAME. */
void sl_es_decoder_init(struct sl_es_decoder *d, size_t max_frame, sl_es_message_cb cb, void *arg);
void sl_es_decoder_release(struct sl_es_decoder *d);

/* Decodes what `data` completes, calling cb once per verified message in
 * order. Returns 0, an enum sl_es_error (then d->detail says more, and
 * every later call returns it too), or a callback's non-zero value. */
int sl_es_decoder_feed(struct sl_es_decoder *d, const void *data, size_t len);

/* At the end of the body: 0, or SL_ES_E_TRUNCATED if a frame was begun. */
int sl_es_decoder_finish(struct sl_es_decoder *d);

/* Appends one encoded message. Returns 0, UV_EINVAL (a name over 255
 * bytes, a bytes/string value over 65535, a bad type), UV_ENOBUFS or
 * UV_ENOMEM. */
int sl_eventstream_encode(struct sl_buf *out, const struct sl_es_header *headers, size_t n,
                          const void *payload, size_t payload_len);

#endif
