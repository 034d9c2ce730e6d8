/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_broker: the ZeroMQ ROUTER that clients reach, joined to the sd-event loop
 * through ZMQ_FD. It turns frames into calls on the reactor and events into
 * frames, one session per client connection. The only daemon code that
 * includes <zmq.h>.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "basic/hashmap.h"
#include "basic/list.h"
#include "proto/decoder.h"
#include "proto/writer.h"
#include "reactor/reactor.h"

typedef struct rd_session rd_session;
typedef struct rd_activation rd_activation;
typedef struct rd_curve rd_curve;

typedef struct rd_rid {
        const void *p; /* routing id bytes (borrowed) */
        size_t n;      /* their length */
} rd_rid;

typedef struct rd_broker_limits {
        size_t max_frame;        /* largest frame accepted from a client, bytes */
        size_t max_handles;      /* handles per session */
        size_t max_sessions;     /* sessions at once */
        size_t max_processes;    /* process instances per session */
        size_t max_write_buffer; /* bytes in a session's stream and stdin write buffers together */
        size_t max_batch;        /* an event frame is closed at this size, bytes */
        size_t max_backlog;      /* bytes queued for a client that does not read */
        uint64_t default_lease;  /* µs */
        uint64_t default_window; /* bytes */
        /* CURVE (curve.h), read by rd_broker_new() only; both NULL for none. Borrowed. */
        const char *curve_secret_key; /* reactord's key pair: a NAME.key file */
        const char *curve_allow;      /* directory of the allowed clients' NAME.pub files */
} rd_broker_limits;

#define RD_BROKER_LIMITS_DEFAULT                                                                   \
        {                                                                                          \
                .max_frame = 1024 * 1024, .max_handles = 16384, .max_sessions = 4096,              \
                .max_processes = 1024, .max_write_buffer = 64 * 1024 * 1024,                       \
                .max_batch = 64 * 1024, .max_backlog = 16 * 1024 * 1024,                           \
                .default_lease = 10 * USEC_PER_SEC, .default_window = 1024 * 1024,                 \
        }

typedef struct rd_broker {
        sd_event *event;               /* the loop (referenced) */
        rd_reactor *reactor;           /* owned */
        rd_activation *activation;     /* sockets the service manager passed (owned), or NULL */
        rd_curve *curve;               /* CURVE server and ZAP handler (owned), or NULL */
        void *zctx;                    /* ZeroMQ context, owned */
        void *router;                  /* the ROUTER socket */
        char *endpoint;                /* as bound */
        sd_event_source *io_source;    /* ZMQ_FD readable */
        sd_event_source *rx_source;    /* defer: input left after a bounded batch */
        sd_event_source *flush_source; /* defer: event batches to send */
        sd_event_source *retry_source; /* time: retry frames ZeroMQ refused (EAGAIN) */
        sd_event_source *reap_source;  /* defer: end sessions marked dead */
        rd_hashmap sessions;           /* routing id -> rd_session */
        rd_list dirty;                 /* sessions with an event batch or a backlog */
        rd_list dead;                  /* sessions to end outside callbacks */
        rd_decoder *decoder;           /* reused for every frame */
        rd_writer reply;               /* responses to the frame being handled */
        rd_writer discard;             /* the results of notifications, never sent */
        const char *frame_user;        /* ZAP User-Id of the frame being handled, or NULL */
        rd_broker_limits limits;       /* caps and defaults */
        uint64_t next_session_id;      /* never reused */
        uint64_t started;              /* CLOCK_MONOTONIC µs */
        uint64_t n_bad;                /* bad frames/messages seen */
        struct {
                uint64_t window_start; /* start of the current one-second window */
                uint64_t in_window;    /* lines logged in it */
                uint64_t suppressed;   /* lines not logged in it */
        } bad_log;                     /* rate limit for bad-input log lines */
        bool shutting_down;            /* no new sessions; requests get ESHUTDOWN */
        void (*on_sessions_changed)(struct rd_broker *b); /* for STATUS= updates; may be NULL */
} rd_broker;

/*
 * Bind `endpoint` and join `event`. The endpoint must already be safe to bind
 * (see endpoint.h). Returns 0 or -errno.
 */
int rd_broker_new(sd_event *event, const char *endpoint, const rd_broker_limits *limits,
                  rd_broker **ret);
/*
 * As rd_broker_new(), taking ownership of `activation` (may be NULL; freed on
 * failure too). When it holds a bus socket, ZeroMQ serves that socket
 * (ZMQ_USE_FD) instead of binding, and `endpoint` must be its address
 * (activation->bus_endpoint). Its other sockets wait for tcp.adopt and
 * unix.adopt.
 */
int rd_broker_new_activated(sd_event *event, const char *endpoint, rd_activation *activation,
                            const rd_broker_limits *limits, rd_broker **ret);
/* End every session (they are told "shutdown"), close the socket, free. Accepts NULL. */
rd_broker *rd_broker_free(rd_broker *b);

/* Tell every session it is being shut down and release their resources. */
void rd_broker_shutdown(rd_broker *b);

size_t rd_broker_n_sessions(const rd_broker *b);

/*
 * SIGHUP: read the CURVE allow directory again from `allow_dir`. Sessions
 * whose key is no longer allowed are ended ("key revoked"). Returns the
 * number of keys allowed, -ENOTCONN when the bus has no CURVE, or -errno
 * (logged; the keys in effect are kept).
 */
int rd_broker_reload_curve(rd_broker *b, const char *allow_dir);

/*
 * Handle one frame from routing id `rid` (peer: ZeroMQ's Peer-Address, or
 * NULL): decode its messages, run them, and send the replies. The ROUTER's
 * receive path calls it for each single-part message; tests/fuzz/fuzz-session.c
 * calls it directly. `data` is borrowed for the call.
 */
void rd__broker_handle_frame(rd_broker *b, const rd_rid *rid, const char *peer, const void *data,
                             size_t size);

/* ---- for sessions and method handlers ---- */

/* Send one frame to a routing id. Returns 0, -EHOSTUNREACH (peer gone) or -EAGAIN (queue full). */
int rd__broker_send(rd_broker *b, const void *rid, size_t rid_len, const void *data, size_t size);
/* Queue `s` to be ended (freed) outside the current callback. */
void rd__broker_kill_session(rd_broker *b, rd_session *s, const char *reason);
/*
 * Report an error that no response can carry (session.error {code, message,
 * msgid?, method?}): queued for session `s`, or sent at once to a bare
 * connection when `s` is NULL.
 */
void rd__broker_report(rd_broker *b, rd_session *s, const rd_rid *rid, int err, const char *message,
                       const uint64_t *msgid, const char *method);
/* Put `s` on the list of sessions with output to flush. */
void rd__broker_mark_dirty(rd_broker *b, rd_session *s);
