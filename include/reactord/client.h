/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libreactord: the C client of reactord.
 *
 * A client connects a ZeroMQ DEALER to reactord, opens a session
 * (session.hello) and from then on makes calls and receives events. Handlers
 * run in the client's process, in rd_client_run() or rd_client_process(); a
 * handler that returns a negative value is logged and dispatch goes on.
 *
 * Conventions: functions that can fail return >= 0 on success and a negative
 * errno on failure. A call answered with an error response returns the errno
 * of its wire code (-EINVAL for "EINVAL", -EIO for codes without one) and keeps
 * the server's message for rd_client_last_error(). An rd_client is not
 * thread-safe; use it from one thread.
 *
 * Every function may be called from inside a handler, including
 * rd_client_free() of handles and rd_client_stop(); rd_client_free() of the
 * client itself may not.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <reactord/value.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_client rd_client;

/* ---- building request params ------------------------------------------------------------ */

typedef enum rd_kv_type {
        RD_KV_NIL,
        RD_KV_BOOL,
        RD_KV_INT,
        RD_KV_UINT,
        RD_KV_DOUBLE, /* also durations: seconds */
        RD_KV_STR,    /* NUL-terminated */
        RD_KV_BIN,    /* bytes + length */
        RD_KV_RAW,    /* one complete msgpack value, already encoded (arrays, maps) */
} rd_kv_type;

/* One named field of a request's params map. */
typedef struct rd_kv {
        const char *key;
        rd_kv_type type;
        union {
                bool b;
                int64_t i;
                uint64_t u;
                double d;
                const char *s;
                const void *p;
        };
        size_t len; /* RD_KV_BIN and RD_KV_RAW only */
} rd_kv;

#define RD_BOOL(k, x)   ((rd_kv){ .key = (k), .type = RD_KV_BOOL, .b = (x) })
#define RD_INT(k, x)    ((rd_kv){ .key = (k), .type = RD_KV_INT, .i = (x) })
#define RD_UINT(k, x)   ((rd_kv){ .key = (k), .type = RD_KV_UINT, .u = (x) })
#define RD_DOUBLE(k, x) ((rd_kv){ .key = (k), .type = RD_KV_DOUBLE, .d = (x) })
#define RD_STR(k, x)    ((rd_kv){ .key = (k), .type = RD_KV_STR, .s = (x) })
#define RD_BIN(k, x, n) ((rd_kv){ .key = (k), .type = RD_KV_BIN, .p = (x), .len = (n) })
/*
 * A field whose value is given as msgpack bytes, copied into the request as
 * they are: for the arrays and maps a params map may hold. The bytes must be
 * exactly one well-formed msgpack value; the library does not check them.
 */
#define RD_RAW(k, x, n) ((rd_kv){ .key = (k), .type = RD_KV_RAW, .p = (x), .len = (n) })

/* ---- connecting ------------------------------------------------------------------------- */

typedef struct rd_client_options {
        const char *name;       /* shown in reactor.info; NULL for none */
        double lease;           /* seconds; 0 for the server's default (10 s) */
        uint64_t window;        /* credit window in bytes; 0 for the server's default */
        double timeout;         /* seconds to wait for each synchronous reply; 0 for 30 s */
        const char *server_key; /* CURVE: reactord's public key file; NULL: $REACTORD_SERVER_KEY */
        const char *key;        /* CURVE: this client's key pair file; NULL: $REACTORD_KEY */
} rd_client_options;

/*
 * Connect to `endpoint` (NULL: $REACTORD_ENDPOINT, else the default endpoint
 * described in PROTOCOL.md) and open a session. `opts` may be NULL. On success
 * the caller owns *ret and frees it with rd_client_free().
 *
 * With a server key (a NAME.pub file, or a NAME.key file whose public key is
 * read) the connection uses CURVE, as a tcp:// reactord requires: `key` (a
 * NAME.key file from `reactorctl keygen`) is then required, -ENOKEY without
 * it. A key file that cannot be read is its -errno, one that is not a key file
 * -EINVAL. A reactord that refuses the key never answers: -ETIMEDOUT. Without
 * a server key, `key` is ignored and no CURVE is used (ipc:// needs none).
 */
RD_EXPORT int rd_client_new(const char *endpoint, const rd_client_options *opts, rd_client **ret);

/* End the session (session.bye), close the socket and free. Accepts NULL; returns NULL. */
RD_EXPORT rd_client *rd_client_free(rd_client *c);

/* The default endpoint for this user: a string the caller frees, or NULL on ENOMEM. */
RD_EXPORT char *rd_default_endpoint(void);

/*
 * CURVE keys, Z85-encoded (40 characters and a NUL): a new key pair, as
 * `reactorctl keygen` writes; and the public key of a secret one. Return 0,
 * -ENOTSUP when the ZeroMQ library has no CURVE, -EINVAL for a bad secret.
 */
RD_EXPORT int rd_client_curve_keypair(char public_key[41], char secret_key[41]);
RD_EXPORT int rd_client_curve_public(char public_key[41], const char *secret_key);

/* The session id from the hello reply. */
RD_EXPORT uint64_t rd_client_session(const rd_client *c);

/* The server's message for the last failed call, or "" (borrowed, valid until the next call). */
RD_EXPORT const char *rd_client_last_error(const rd_client *c);

/* ---- calls ------------------------------------------------------------------------------ */

/* A decoded response; owns the result value. */
typedef struct rd_reply rd_reply;

RD_EXPORT const rd_value *rd_reply_result(const rd_reply *r);
RD_EXPORT rd_reply *rd_reply_free(rd_reply *r);

/*
 * Synchronous call: send `method` with params `kv[0..n)` and wait for its reply,
 * dispatching any events that arrive meanwhile. On success returns 0 and, if
 * `ret` is non-NULL, the reply (caller frees).
 */
RD_EXPORT int rd_client_call(rd_client *c, const char *method, const rd_kv *kv, size_t n,
                             rd_reply **ret);

#define RD_KVS(...)  ((const rd_kv[]){ __VA_ARGS__ })
#define RD_NKVS(...) (sizeof(RD_KVS(__VA_ARGS__)) / sizeof(rd_kv))
/* rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 1.5)) */
#define rd_client_callv(c, method, ret, ...)                                                       \
        rd_client_call((c), (method), RD_KVS(__VA_ARGS__), RD_NKVS(__VA_ARGS__), (ret))

/*
 * Synchronous call with params and result as JSON text (see PROTOCOL.md, "JSON
 * view"). `params_json` may be NULL for no params. On success *result_json is a
 * string the caller frees.
 */
RD_EXPORT int rd_client_call_json(rd_client *c, const char *method, const char *params_json,
                                  char **result_json);

/*
 * Completion of an asynchronous call. `error` is 0 or a negative errno;
 * `result` is valid for the duration of the callback only; `message` is the
 * server's error message or NULL.
 */
typedef void (*rd_reply_fn)(rd_client *c, int error, const rd_value *result, const char *message,
                            void *userdata);

/* Send a call and return at once; `cb` (may be NULL) runs when the reply arrives. */
RD_EXPORT int rd_client_call_async(rd_client *c, const char *method, const rd_kv *kv, size_t n,
                                   rd_reply_fn cb, void *userdata);

/*
 * Send `method` as a notification: reactord runs it and sends no response, so
 * it costs one message instead of two. A notification that fails comes back
 * as a `session.error` event {code, message, method} to the rd_client_on_any()
 * handler. For calls whose failure needs no answer of its own, such as a
 * stream.write that cannot meet its high-water mark (see examples/echo-server.c).
 */
RD_EXPORT int rd_client_notify(rd_client *c, const char *method, const rd_kv *kv, size_t n);

/* ---- events ----------------------------------------------------------------------------- */

typedef struct rd_client_event {
        const char *name;        /* "timer.fired"; NUL-terminated, borrowed */
        uint64_t handle;         /* the payload's handle (listener.accepted: `listener`), or 0 */
        const rd_value *payload; /* the payload map, borrowed for the callback's duration */
} rd_client_event;

/* An event handler. A negative return is logged as a failure; dispatch goes on. */
typedef int (*rd_event_fn)(rd_client *c, const rd_client_event *ev, void *userdata);

/* Route events of `handle` to `fn` (replacing any earlier one; NULL removes). */
RD_EXPORT int rd_client_on(rd_client *c, uint64_t handle, rd_event_fn fn, void *userdata);
/* Receive every event that no per-handle handler took (session.* events included). */
RD_EXPORT int rd_client_on_any(rd_client *c, rd_event_fn fn, void *userdata);

/* ---- the loop --------------------------------------------------------------------------- */

/* A plain callback; a negative return is logged as a failure and the loop goes on. */
typedef int (*rd_callback_fn)(rd_client *c, void *userdata);

/* Run `fn` once rd_client_run() starts (at once, on the next dispatch, if it is running). */
RD_EXPORT int rd_client_call_when_running(rd_client *c, rd_callback_fn fn, void *userdata);

/*
 * Twisted's callLater: run `fn` once after `seconds`, on a reactord timer.
 * *handle (may be NULL) receives the timer's handle for rd_client_cancel().
 */
RD_EXPORT int rd_client_call_later(rd_client *c, double seconds, rd_callback_fn fn, void *userdata,
                                   uint64_t *handle);

/*
 * Twisted's LoopingCall: run `fn` every `seconds`, the first time at once when
 * `now` is true. `fn` sees missed periods through rd_client_ticks().
 */
RD_EXPORT int rd_client_call_every(rd_client *c, double seconds, bool now, rd_callback_fn fn,
                                   void *userdata, uint64_t *handle);

/* Inside a call_every callback: the periods elapsed since its last run (>= 1). */
RD_EXPORT uint64_t rd_client_ticks(const rd_client *c);

/* Cancel a call_later/call_every timer (timer.cancel) and forget its callback. */
RD_EXPORT int rd_client_cancel(rd_client *c, uint64_t handle);

/* Dispatch until rd_client_stop(); returns 0, or a negative errno if the session is lost. */
RD_EXPORT int rd_client_run(rd_client *c);
/* Make rd_client_run() return after the current callback. */
RD_EXPORT void rd_client_stop(rd_client *c);

/*
 * Embedding in another loop: poll rd_client_fd() for readability (it is
 * edge-like, as ZMQ_FD is) and call rd_client_process() when it is readable
 * and when rd_client_timeout() milliseconds (-1: none) have passed. Call
 * rd_client_process() (or at least rd_client_timeout()) again before every
 * poll: the client's own sends can consume the fd's edge while input waits.
 * rd_client_process() never blocks; it returns >= 0 or a negative errno.
 */
RD_EXPORT int rd_client_fd(rd_client *c);
RD_EXPORT int rd_client_process(rd_client *c);
RD_EXPORT int rd_client_timeout(rd_client *c);

#ifdef __cplusplus
}
#endif
