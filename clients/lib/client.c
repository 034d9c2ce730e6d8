/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "basic/curve-key.h"
#include "basic/endpoint.h"
#include "basic/hashmap.h"
#include "basic/list.h"
#include "basic/log.h"
#include "proto/decoder.h"
#include "proto/error.h"
#include "proto/json.h"
#include "proto/writer.h"
#include "reactord/client.h"
#include "reply.h"

/*
 * How the client receives. Every frame is dispatched through a `frame` slot
 * (a zmq_msg_t and a reused rd_decoder), one slot per callback nesting depth:
 * values handed to a callback point into its slot, so a callback that makes a
 * synchronous call (and so receives more frames) does not pull the ground from
 * under its caller. While a callback runs, event frames that arrive are only
 * queued (`backlog`), and dispatched in order once the outer frame is done:
 * events are never delivered out of order, only responses are dispatched at
 * any depth (a nested synchronous call needs them).
 */

#define DEFAULT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define LINGER_MSEC          100
#define EVENT_NAME_MAX       128

typedef enum handler_kind {
        HANDLER_EVENT, /* rd_client_on() */
        HANDLER_LATER, /* rd_client_call_later(): dropped when it fires */
        HANDLER_EVERY, /* rd_client_call_every() */
} handler_kind;

/* What runs for the events of one handle. Stored in rd_client.handlers by handle. */
typedef struct handler {
        uint64_t handle;         /* the key */
        handler_kind kind;       /* which of the two functions is set */
        rd_event_fn event_fn;    /* HANDLER_EVENT */
        rd_callback_fn callback; /* HANDLER_LATER, HANDLER_EVERY */
        void *userdata;          /* passed to either function */
} handler;

/* A call waiting for its response. Stored in rd_client.pending by msgid. */
typedef struct pending {
        uint64_t msgid;  /* the key */
        bool sync;       /* a synchronous call waits on this (it lives on its stack) */
        rd_reply_fn fn;  /* async: completion, may be NULL */
        void *userdata;  /* async: for fn */
        bool done;       /* sync: the response (or session loss) arrived */
        int error;       /* sync: 0 or a negative errno */
        bool want_reply; /* sync: keep a copy of the response in `reply` */
        rd_reply *reply; /* sync: the copied response, owned until handed out */
} pending;

/* A frame being dispatched at one nesting depth. */
typedef struct frame {
        zmq_msg_t msg;       /* the frame; open while `active` */
        rd_decoder *decoder; /* reused for every frame of this depth */
        bool active;         /* `msg` holds a frame not yet fully dispatched */
        bool events;         /* the frame holds events: ack its size when done */
} frame;

/* An event frame received inside a callback, dispatched once the callback returns. */
typedef struct queued_frame {
        rd_list link;  /* in rd_client.backlog */
        zmq_msg_t msg; /* the frame */
} queued_frame;

/* A callback waiting for rd_client_run(). */
typedef struct deferred {
        rd_list link;      /* in rd_client.when_running */
        rd_callback_fn fn; /* the callback */
        void *userdata;    /* for fn */
} deferred;

struct rd_client {
        void *context;         /* the ZeroMQ context, owned */
        void *socket;          /* the DEALER, owned */
        rd_writer out;         /* reused for every message sent */
        rd_writer batch;       /* messages waiting to go out as one frame */
        unsigned defer;        /* > 0 while a frame is dispatched: batch, send after */
        uint64_t next_msgid;   /* msgid of the next request */
        uint64_t session;      /* session id from the hello reply */
        uint64_t lease_usec;   /* lease applied by the server */
        uint64_t window;       /* credit window applied by the server */
        uint64_t timeout_usec; /* how long a synchronous call waits */
        uint64_t last_send;    /* CLOCK_MONOTONIC usec of the last message sent */
        uint64_t unacked;      /* event bytes dispatched but not yet acked */
        rd_hashmap handlers;   /* handle -> handler */
        rd_hashmap pending;    /* msgid -> pending */
        rd_event_fn any_fn;    /* catch-all handler, or NULL */
        void *any_userdata;    /* for any_fn */
        rd_list backlog;       /* queued_frame: event frames waiting for depth 0 */
        rd_list when_running;  /* deferred: callbacks for rd_client_run() */
        frame **frames;        /* one slot per depth, allocated on first use */
        size_t n_frames;       /* slots allocated */
        unsigned depth;        /* callbacks currently on the stack */
        uint64_t ticks;        /* ticks of the timer.fired being dispatched */
        bool running;          /* inside rd_client_run() */
        bool stop;             /* rd_client_stop() was called */
        bool lost;             /* session.closed arrived: the session is gone */
        char *last_error;      /* message of the last failed call, or NULL */
};

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t now_usec(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

static uint64_t seconds_to_usec(double s)
{
        if (!(s > 0))
                return 0;
        if (s >= (double)(UINT64_MAX / USEC_PER_SEC))
                return USEC_INFINITY;
        return (uint64_t)(s * 1e6);
}

/* A zmq failure as a -errno (the seam where zmq errors are translated). */
static int zmq_errno_neg(void)
{
        int e = zmq_errno();

        switch (e) {
        case 0:
                return -EIO;
        case ETERM:
                return -ESHUTDOWN;
        default:
                return -e;
        }
}

static void set_last_error(rd_client *c, const char *msg, size_t len)
{
        free(c->last_error);
        c->last_error = msg ? strndup(msg, len) : NULL;
}

/* A callback's failure, reported the way Twisted reports an unhandled error: loudly, then on. */
static void log_failure(const char *what, const char *name, uint64_t handle, int r)
{
        if (r == -1)
                log_error("reactord client: %s for %s on handle %" PRIu64 " failed", what, name,
                          handle);
        else
                log_error("reactord client: %s for %s on handle %" PRIu64 " failed: %s", what, name,
                          handle, strerror(ERRNO_ABS(r)));
}

/* ---- sending ------------------------------------------------------------------------------ */

/* Send every batched message as one frame. */
static int flush_batch(rd_client *c)
{
        if (c->batch.size == 0)
                return 0;
        if (rd_writer_failed(&c->batch)) {
                rd_writer_reset(&c->batch);
                return -ENOMEM;
        }
        if (zmq_send(c->socket, c->batch.data, c->batch.size, 0) < 0) {
                int r = zmq_errno_neg();
                rd_writer_reset(&c->batch);
                return r == -EAGAIN ? -ETIMEDOUT : r;
        }
        rd_writer_reset(&c->batch);
        c->last_send = now_usec();
        return 0;
}

/*
 * Queue the message in c->out. While a frame of events is being dispatched
 * the messages its handlers cause are batched (one frame for all of them, as
 * reactord batches its events); otherwise, and once the batch is large, it
 * goes out at once.
 */
static int send_out(rd_client *c)
{
        if (rd_writer_failed(&c->out))
                return -ENOMEM;
        rd_write_raw(&c->batch, c->out.data, c->out.size);
        if (c->defer > 0 && c->batch.size < 64 * 1024)
                return 0;
        return flush_batch(c);
}

/* A notification with no params: `[2, name, []]`. */
static int send_notification_empty(rd_client *c, const char *name)
{
        rd_writer_reset(&c->out);
        rd_write_array(&c->out, 3);
        rd_write_uint(&c->out, RD_MSG_NOTIFICATION);
        rd_write_str(&c->out, name);
        rd_write_array(&c->out, 0);
        return send_out(c);
}

/* Return credit for every event dispatched so far. */
static int ack_flush(rd_client *c)
{
        int r;

        if (c->unacked == 0 || c->lost)
                return 0;
        rd_writer_reset(&c->out);
        rd_write_notification(&c->out, "session.ack", 1);
        rd_write_kv_uint(&c->out, "bytes", c->unacked);
        r = send_out(c);
        if (r >= 0)
                c->unacked = 0;
        return r;
}

/* When is the next reactor.ping due (CLOCK_MONOTONIC usec), or USEC_INFINITY. */
static uint64_t keepalive_due(const rd_client *c)
{
        if (c->lease_usec == 0 || c->lost)
                return USEC_INFINITY;
        return c->last_send + c->lease_usec / 3;
}

static int keepalive(rd_client *c)
{
        if (now_usec() < keepalive_due(c))
                return 0;
        return send_notification_empty(c, "reactor.ping");
}

static int write_kv(rd_writer *w, const rd_kv *kv)
{
        assert_return(kv->key, -EINVAL);
        rd_write_str(w, kv->key);
        switch (kv->type) {
        case RD_KV_NIL:
                rd_write_nil(w);
                break;
        case RD_KV_BOOL:
                rd_write_bool(w, kv->b);
                break;
        case RD_KV_INT:
                rd_write_int(w, kv->i);
                break;
        case RD_KV_UINT:
                rd_write_uint(w, kv->u);
                break;
        case RD_KV_DOUBLE:
                rd_write_double(w, kv->d);
                break;
        case RD_KV_STR:
                rd_write_str(w, kv->s);
                break;
        case RD_KV_BIN:
                assert_return(kv->p || kv->len == 0, -EINVAL);
                rd_write_bin(w, kv->p ? kv->p : "", kv->len);
                break;
        case RD_KV_RAW:
                assert_return(kv->p && kv->len > 0, -EINVAL);
                rd_write_raw(w, kv->p, kv->len);
                break;
        default:
                return -EINVAL;
        }
        return 0;
}

/* Encode `[0, msgid, method, [{kv...}]]` (or `[]` for no params) into c->out. */
static int write_request(rd_client *c, uint64_t msgid, const char *method, const rd_kv *kv,
                         size_t n)
{
        int r;

        assert_return(n <= UINT32_MAX, -E2BIG);
        rd_writer_reset(&c->out);
        if (n == 0) {
                rd_write_array(&c->out, 4);
                rd_write_uint(&c->out, RD_MSG_REQUEST);
                rd_write_uint(&c->out, msgid);
                rd_write_str(&c->out, method);
                rd_write_array(&c->out, 0);
                return 0;
        }
        rd_write_request(&c->out, msgid, method, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                r = write_kv(&c->out, &kv[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- receiving ---------------------------------------------------------------------------- */

static frame *frame_slot(rd_client *c, unsigned depth)
{
        if (depth >= c->n_frames) {
                size_t n = depth + 1;
                frame **a = realloc(c->frames, n * sizeof(*a));
                if (!a)
                        return NULL;
                c->frames = a;
                for (size_t i = c->n_frames; i < n; i++)
                        a[i] = NULL;
                c->n_frames = n;
        }
        if (!c->frames[depth]) {
                frame *f = calloc(1, sizeof(*f));
                if (!f)
                        return NULL;
                if (rd_decoder_new(&f->decoder) < 0) {
                        free(f);
                        return NULL;
                }
                zmq_msg_init(&f->msg);
                c->frames[depth] = f;
        }
        return c->frames[depth];
}

static void frame_free(frame *f)
{
        if (!f)
                return;
        zmq_msg_close(&f->msg);
        rd_decoder_free(f->decoder);
        free(f);
}

/* Event frames start with a notification: fixarray(3), then type 2. */
static bool frame_holds_events(zmq_msg_t *m)
{
        const uint8_t *p = zmq_msg_data(m);
        return zmq_msg_size(m) >= 2 && p[0] == 0x93 && p[1] == RD_MSG_NOTIFICATION;
}

static bool msg_is(const rd_msg *msg, const char *name)
{
        return rd_msg_name_is(msg, name, strlen(name));
}

/* The session is gone: nothing more will answer. Fail every call still waiting. */
static void session_lost(rd_client *c)
{
        pending *p;
        size_t i;

        if (c->lost)
                return;
        c->lost = true;
        /* Callbacks may add or remove entries: take one at a time. */
        for (;;) {
                i = 0;
                p = rd_hashmap_next(&c->pending, &i);
                if (!p)
                        break;
                rd_hashmap_remove(&c->pending, p->msgid, NULL, NULL);
                if (p->sync) {
                        p->done = true;
                        p->error = -ECONNRESET;
                        continue;
                }
                if (p->fn) {
                        c->depth++;
                        p->fn(c, -ECONNRESET, NULL, "session closed", p->userdata);
                        c->depth--;
                }
                free(p);
        }
}

static void response_dispatch(rd_client *c, const rd_msg *msg, const void *bytes)
{
        const char *message = NULL;
        size_t message_len = 0;
        pending *p;
        int error = 0;

        p = rd_hashmap_remove(&c->pending, msg->msgid, NULL, NULL);
        if (!p) {
                log_debug("reactord client: response to unknown msgid %" PRIu64, msg->msgid);
                return;
        }
        if (rd_value_type_of(msg->error) == RD_VALUE_MAP) {
                const char *code;
                size_t n;
                if (rd_value_str(rd_value_get(msg->error, "code"), &code, &n) >= 0)
                        error = rd_error_from_name(code, n);
                else
                        error = -EIO;
                if (rd_value_str(rd_value_get(msg->error, "message"), &message, &message_len) < 0)
                        message = NULL;
        }

        if (p->sync) {
                p->done = true;
                p->error = error;
                if (error < 0)
                        set_last_error(c, message ? message : "", message_len);
                else if (p->want_reply)
                        p->error = rd__reply_new(bytes, msg->size, &p->reply);
                return;
        }

        if (p->fn) {
                _cleanup_free_ char *text = message ? strndup(message, message_len) : NULL;
                c->depth++;
                p->fn(c, error, error < 0 ? NULL : msg->result, text, p->userdata);
                c->depth--;
        }
        free(p);
}

static void handler_drop(rd_client *c, uint64_t handle);

/*
 * The handle whose handler gets an event: the one it names in `handle`, but
 * for listener.accepted the listener's (its `stream` is the new stream).
 */
static uint64_t event_handle(const rd_msg *msg)
{
        if (_unlikely_(msg_is(msg, "listener.accepted")))
                return rd_value_get_uint(msg->params, "listener",
                                         rd_value_get_uint(msg->params, "handle", 0));
        return rd_value_get_uint(msg->params, "handle", 0);
}

/*
 * Does this event release its handle? A stream's stream.closed, and a
 * process's last process.ended (the one with `final: true`).
 */
static bool releases_handle(const rd_msg *msg)
{
        bool final;

        if (msg_is(msg, "stream.closed"))
                return true;
        return msg_is(msg, "process.ended") &&
               rd_value_bool(rd_value_get(msg->params, "final"), &final) >= 0 && final;
}

static void event_dispatch(rd_client *c, const rd_msg *msg)
{
        char name[EVENT_NAME_MAX];
        rd_client_event ev;
        rd_event_fn fn = NULL;
        rd_callback_fn cb = NULL;
        void *userdata = NULL;
        handler *h = NULL;
        bool fired, routed;
        int r;

        if (msg->name_len >= sizeof(name)) {
                log_debug("reactord client: event name too long, ignored");
                return;
        }
        memcpy(name, msg->name, msg->name_len);
        name[msg->name_len] = '\0';
        ev = (rd_client_event){
                .name = name,
                .handle = event_handle(msg),
                .payload = msg->params,
        };

        if (_unlikely_(ev.handle == 0 && msg_is(msg, "session.closed")))
                session_lost(c);

        if (ev.handle != 0)
                h = rd_hashmap_get(&c->handlers, ev.handle, NULL, NULL);
        fired = h && h->kind != HANDLER_EVENT && msg_is(msg, "timer.fired");
        if (h && h->kind == HANDLER_EVENT) {
                fn = h->event_fn;
                userdata = h->userdata;
        } else if (fired) {
                cb = h->callback;
                userdata = h->userdata;
                if (h->kind == HANDLER_LATER) {
                        /* The server released the handle with this event. */
                        rd_hashmap_remove(&c->handlers, ev.handle, NULL, NULL);
                        free(h);
                }
        } else {
                fn = c->any_fn;
                userdata = c->any_userdata;
        }
        /* `h` may be freed by the callback from here on. */
        routed = h != NULL;

        if (cb) {
                uint64_t saved = c->ticks;
                c->ticks = rd_value_get_uint(msg->params, "ticks", 1);
                c->depth++;
                r = cb(c, userdata);
                c->depth--;
                c->ticks = saved;
                if (r < 0)
                        log_failure("callback", name, ev.handle, r);
        } else if (fn) {
                c->depth++;
                r = fn(c, &ev, userdata);
                c->depth--;
                if (r < 0)
                        log_failure("handler", name, ev.handle, r);
        }

        /* The server released the handle with this event: forget its handler. */
        if (routed && _unlikely_(releases_handle(msg)))
                handler_drop(c, ev.handle);
}

/* Dispatch the rest of the frame in `f`. Returns early (leaving `f` active) on rd_client_stop(). */
static void frame_dispatch(rd_client *c, frame *f, bool stoppable)
{
        const char *data = zmq_msg_data(&f->msg);
        size_t size = zmq_msg_size(&f->msg);
        rd_msg msg;
        int r;

        c->defer++;
        for (;;) {
                if (stoppable && c->stop) {
                        c->defer--;
                        (void)flush_batch(c);
                        return;
                }
                size_t start = size - rd_decoder_remaining(f->decoder);
                r = rd_decoder_next(f->decoder, &msg);
                if (r == 0)
                        break;
                if (r == -EBADMSG) {
                        log_warning("reactord client: a frame from reactord is not msgpack");
                        break;
                }
                if (r < 0) {
                        log_warning("reactord client: a message from reactord is not msgpack-rpc");
                        continue;
                }
                switch (msg.type) {
                case RD_MSG_NOTIFICATION:
                        event_dispatch(c, &msg);
                        break;
                case RD_MSG_RESPONSE:
                        response_dispatch(c, &msg, data + start);
                        break;
                default:
                        log_debug("reactord client: request from reactord ignored");
                        break;
                }
        }

        if (f->events) {
                /*
                 * Credit goes back a quarter window at a time, riding along with
                 * whatever the handlers sent. reactord stops only once a whole
                 * window is unacked, so waiting for the threshold cannot stall it.
                 */
                c->unacked += size;
                if (c->unacked >= c->window / 4)
                        (void)ack_flush(c);
        }
        c->defer--;
        if (c->defer == 0)
                (void)flush_batch(c);
        f->active = false;
        zmq_msg_close(&f->msg);
        zmq_msg_init(&f->msg);
}

static void frame_start(frame *f)
{
        f->active = true;
        f->events = frame_holds_events(&f->msg);
        /* On failure the decoder reports the frame consumed: frame_dispatch() then only acks it. */
        if (rd_decoder_begin(f->decoder, zmq_msg_data(&f->msg), zmq_msg_size(&f->msg)) < 0)
                log_warning("reactord client: a frame from reactord is not msgpack");
}

/* Does a queued event frame carry session.closed? Decoded with the scratch decoder of `f`. */
static bool frame_closes_session(frame *f, zmq_msg_t *m)
{
        rd_msg msg;
        int r;

        if (rd_decoder_begin(f->decoder, zmq_msg_data(m), zmq_msg_size(m)) < 0)
                return false;
        while ((r = rd_decoder_next(f->decoder, &msg)) != 0) {
                if (r == -EBADMSG)
                        return false;
                if (r > 0 && msg.type == RD_MSG_NOTIFICATION && msg_is(&msg, "session.closed"))
                        return true;
        }
        return false;
}

/*
 * Dispatch one frame: the rest of a frame stopped half-way, else the oldest
 * queued event frame, else the next frame from the socket. Returns 1 when a
 * frame was handled, 0 when there is nothing to do, or a negative errno.
 */
static int pump(rd_client *c, bool stoppable)
{
        frame *f = frame_slot(c, c->depth);
        if (!f)
                return -ENOMEM;

        if (c->depth == 0 && f->active) {
                frame_dispatch(c, f, stoppable);
                return 1;
        }
        if (c->depth == 0 && !rd_list_empty(&c->backlog)) {
                queued_frame *q = rd_container_of(c->backlog.next, queued_frame, link);
                rd_list_remove(&q->link);
                zmq_msg_move(&f->msg, &q->msg);
                zmq_msg_close(&q->msg);
                free(q);
                frame_start(f);
                frame_dispatch(c, f, stoppable);
                return 1;
        }

        if (zmq_msg_recv(&f->msg, c->socket, ZMQ_DONTWAIT) < 0) {
                int r = zmq_errno_neg();
                return r == -EAGAIN || r == -EINTR ? 0 : r;
        }

        if (c->depth > 0 && frame_holds_events(&f->msg)) {
                /* Inside a callback: keep events in order for depth 0. */
                queued_frame *q = malloc(sizeof(*q));
                if (!q)
                        return -ENOMEM;
                zmq_msg_init(&q->msg);
                zmq_msg_move(&q->msg, &f->msg);
                rd_list_append(&c->backlog, &q->link);
                if (frame_closes_session(f, &q->msg))
                        session_lost(c);
                return 1;
        }

        frame_start(f);
        frame_dispatch(c, f, stoppable);
        return 1;
}

/* Is anything ready without blocking: a half-done frame, queued frames, or readable socket? */
static bool has_work(rd_client *c)
{
        int events = 0;
        size_t len = sizeof(events);

        if (!rd_list_empty(&c->when_running) || !rd_list_empty(&c->backlog))
                return true;
        if (c->n_frames > 0 && c->frames[0] && c->frames[0]->active)
                return true;
        if (zmq_getsockopt(c->socket, ZMQ_EVENTS, &events, &len) < 0)
                return false;
        return events & ZMQ_POLLIN;
}

/* Wait until the socket is readable or `deadline` (CLOCK_MONOTONIC usec) passes. */
static int wait_readable(rd_client *c, uint64_t deadline)
{
        zmq_pollitem_t item = { .socket = c->socket, .events = ZMQ_POLLIN };
        long ms = -1;

        if (deadline != USEC_INFINITY) {
                uint64_t n = now_usec();
                ms = deadline > n ? (long)((deadline - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC) : 0;
        }
        if (zmq_poll(&item, 1, ms) < 0) {
                int r = zmq_errno_neg();
                return r == -EINTR ? 0 : r;
        }
        return 0;
}

/* ---- calls -------------------------------------------------------------------------------- */

/* Wait for the response of the sync call `p`, dispatching whatever arrives meanwhile. */
static int call_wait(rd_client *c, pending *p)
{
        uint64_t deadline = now_usec() + c->timeout_usec;
        int r;

        if (c->timeout_usec == USEC_INFINITY)
                deadline = USEC_INFINITY;
        for (;;) {
                if (p->done)
                        return p->error;
                r = pump(c, false);
                if (r < 0)
                        break;
                if (r > 0)
                        continue;
                if (now_usec() >= deadline) {
                        r = -ETIMEDOUT;
                        break;
                }
                (void)flush_batch(c);
                (void)keepalive(c);
                uint64_t due = keepalive_due(c);
                r = wait_readable(c, due < deadline ? due : deadline);
                if (r < 0)
                        break;
        }
        rd_hashmap_remove(&c->pending, p->msgid, NULL, NULL);
        return r;
}

/* Send the request already encoded in c->out under `msgid` and wait for its response. */
static int call_sync(rd_client *c, uint64_t msgid, rd_reply **ret)
{
        pending p = { .msgid = msgid, .sync = true, .want_reply = ret != NULL };
        int r;

        r = rd_hashmap_put(&c->pending, msgid, NULL, NULL, &p);
        if (r < 0)
                return r;
        r = send_out(c);
        if (r < 0) {
                rd_hashmap_remove(&c->pending, msgid, NULL, NULL);
                return r;
        }
        r = call_wait(c, &p);
        if (r < 0) {
                rd_reply_free(p.reply);
                return r;
        }
        if (ret)
                *ret = p.reply;
        return 0;
}

int rd_client_call(rd_client *c, const char *method, const rd_kv *kv, size_t n, rd_reply **ret)
{
        uint64_t msgid;
        int r;

        assert_return(c, -EINVAL);
        assert_return(method && *method, -EINVAL);
        assert_return(kv || n == 0, -EINVAL);
        assert_return(!c->lost, -ENOTCONN);

        set_last_error(c, NULL, 0);
        msgid = c->next_msgid++;
        r = write_request(c, msgid, method, kv, n);
        if (r < 0)
                return r;
        return call_sync(c, msgid, ret);
}

int rd_client_call_async(rd_client *c, const char *method, const rd_kv *kv, size_t n,
                         rd_reply_fn cb, void *userdata)
{
        _cleanup_free_ pending *p = NULL;
        int r;

        assert_return(c, -EINVAL);
        assert_return(method && *method, -EINVAL);
        assert_return(kv || n == 0, -EINVAL);
        assert_return(!c->lost, -ENOTCONN);

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        *p = (pending){ .msgid = c->next_msgid++, .fn = cb, .userdata = userdata };
        r = write_request(c, p->msgid, method, kv, n);
        if (r < 0)
                return r;
        r = rd_hashmap_put(&c->pending, p->msgid, NULL, NULL, p);
        if (r < 0)
                return r;
        r = send_out(c);
        if (r < 0) {
                rd_hashmap_remove(&c->pending, p->msgid, NULL, NULL);
                return r;
        }
        TAKE_PTR(p);
        return 0;
}

int rd_client_notify(rd_client *c, const char *method, const rd_kv *kv, size_t n)
{
        int r;

        assert_return(c, -EINVAL);
        assert_return(method && *method, -EINVAL);
        assert_return(kv || n == 0, -EINVAL);
        assert_return(n <= UINT32_MAX, -E2BIG);
        assert_return(!c->lost, -ENOTCONN);

        rd_writer_reset(&c->out);
        rd_write_notification(&c->out, method, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                r = write_kv(&c->out, &kv[i]);
                if (r < 0)
                        return r;
        }
        return send_out(c);
}

/* msgpack map heads: fixmap, map 16, map 32. */
static bool is_msgpack_map(const rd_writer *w, size_t at)
{
        uint8_t b = at < w->size ? (uint8_t)w->data[at] : 0;
        return (b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf;
}

int rd_client_call_json(rd_client *c, const char *method, const char *params_json,
                        char **result_json)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        char err[256] = "";
        uint64_t msgid;
        size_t at;
        int r;

        assert_return(c, -EINVAL);
        assert_return(method && *method, -EINVAL);
        assert_return(result_json, -EINVAL);
        assert_return(!c->lost, -ENOTCONN);

        set_last_error(c, NULL, 0);
        msgid = c->next_msgid++;
        rd_writer_reset(&c->out);
        rd_write_array(&c->out, 4);
        rd_write_uint(&c->out, RD_MSG_REQUEST);
        rd_write_uint(&c->out, msgid);
        rd_write_str(&c->out, method);
        if (!params_json) {
                rd_write_array(&c->out, 0);
        } else {
                rd_write_array(&c->out, 1);
                at = c->out.size;
                r = rd_json_to_msgpack(params_json, strlen(params_json), &c->out, err, sizeof(err));
                if (r < 0) {
                        set_last_error(c, err, strlen(err));
                        return r;
                }
                if (!is_msgpack_map(&c->out, at)) {
                        static const char msg[] = "params must be a JSON object";
                        set_last_error(c, msg, sizeof(msg) - 1);
                        return -EINVAL;
                }
        }
        r = call_sync(c, msgid, &reply);
        if (r < 0)
                return r;
        return rd_json_from_value(rd_reply_result(reply), result_json);
}

/* ---- connecting --------------------------------------------------------------------------- */

int rd_client_curve_keypair(char public_key[41], char secret_key[41])
{
        assert_return(public_key && secret_key, -EINVAL);
        return zmq_curve_keypair(public_key, secret_key) < 0 ? zmq_errno_neg() : 0;
}

int rd_client_curve_public(char public_key[41], const char *secret_key)
{
        assert_return(public_key && secret_key, -EINVAL);
        return zmq_curve_public(public_key, secret_key) < 0 ? zmq_errno_neg() : 0;
}

char *rd_default_endpoint(void)
{
        /* The daemon computes its default with the same function. */
        return rd_endpoint_default();
}

static int hello(rd_client *c, const rd_client_options *opts)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        rd_kv kv[4];
        size_t n = 0;
        const rd_value *res;
        int r;

        kv[n++] = RD_UINT("protocol", 1);
        if (opts && opts->name)
                kv[n++] = RD_STR("name", opts->name);
        if (opts && opts->lease > 0)
                kv[n++] = RD_DOUBLE("lease", opts->lease);
        if (opts && opts->window > 0)
                kv[n++] = RD_UINT("window", opts->window);

        r = rd_client_call(c, "session.hello", kv, n, &reply);
        if (r < 0)
                return r;
        res = rd_reply_result(reply);
        if (rd_value_uint(rd_value_get(res, "session"), &c->session) < 0)
                return -EPROTO;
        c->lease_usec = seconds_to_usec(rd_value_get_double(res, "lease", 10.0));
        c->window = rd_value_get_uint(res, "window", 0);
        return 0;
}

/* Option `opt` if set, else the environment variable `name` if not empty, else NULL. */
static const char *option_or_env(const char *opt, const char *name)
{
        const char *v = opt && *opt ? opt : getenv(name);
        return v && *v ? v : NULL;
}

/* Make `socket` a CURVE client of the server whose public key is in `server_key`. */
static int use_curve(void *socket, const char *server_key, const char *key)
{
        char public_key[RD_CURVE_KEY_Z85_LEN + 1];
        rd_curve_key server, own;
        int r;

        if (!key)
                return -ENOKEY;
        r = rd_curve_key_read(server_key, &server);
        if (r < 0)
                return r;
        explicit_bzero(server.secret_key, sizeof(server.secret_key)); /* never needed here */
        if (!server.public_key[0])
                return -EINVAL;
        r = rd_curve_key_read(key, &own);
        if (r < 0)
                return r;
        if (!own.secret_key[0])
                r = -ENOKEY;
        else if (zmq_curve_public(public_key, own.secret_key) < 0 ||
                 (own.public_key[0] && strcmp(public_key, own.public_key) != 0))
                r = -EINVAL;
        /* Z85 keys are given as 41 bytes: the 40 characters and the NUL. */
        else if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server.public_key,
                                sizeof(server.public_key)) < 0 ||
                 zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_key, sizeof(public_key)) < 0 ||
                 zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, own.secret_key,
                                sizeof(own.secret_key)) < 0)
                r = zmq_errno_neg();
        explicit_bzero(&own, sizeof(own));
        return r;
}

int rd_client_new(const char *endpoint, const rd_client_options *opts, rd_client **ret)
{
        _cleanup_free_ char *fallback = NULL;
        const char *server_key;
        rd_client *c;
        int linger = LINGER_MSEC, sndtimeo, r;

        assert_return(ret, -EINVAL);
        assert_return(!opts || (opts->lease >= 0 && opts->timeout >= 0), -EINVAL);

        if (!endpoint || !*endpoint)
                endpoint = getenv("REACTORD_ENDPOINT");
        if (!endpoint || !*endpoint) {
                fallback = rd_default_endpoint();
                if (!fallback)
                        return -ENOMEM;
                endpoint = fallback;
        }

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->out = (rd_writer)RD_WRITER_INIT;
        c->handlers = (rd_hashmap)RD_HASHMAP_INIT;
        c->pending = (rd_hashmap)RD_HASHMAP_INIT;
        rd_list_init(&c->backlog);
        rd_list_init(&c->when_running);
        c->next_msgid = 1;
        c->timeout_usec =
                opts && opts->timeout > 0 ? seconds_to_usec(opts->timeout) : DEFAULT_TIMEOUT_USEC;
        c->last_send = now_usec();

        c->context = zmq_ctx_new();
        if (!c->context) {
                r = zmq_errno_neg();
                goto fail;
        }
        c->socket = zmq_socket(c->context, ZMQ_DEALER);
        if (!c->socket) {
                r = zmq_errno_neg();
                goto fail;
        }
        sndtimeo = c->timeout_usec / USEC_PER_MSEC > INT32_MAX
                           ? -1
                           : (int)(c->timeout_usec / USEC_PER_MSEC);
        server_key = option_or_env(opts ? opts->server_key : NULL, "REACTORD_SERVER_KEY");
        if (server_key) {
                r = use_curve(c->socket, server_key,
                              option_or_env(opts ? opts->key : NULL, "REACTORD_KEY"));
                if (r < 0)
                        goto fail;
        }
        if (zmq_setsockopt(c->socket, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
            zmq_setsockopt(c->socket, ZMQ_SNDTIMEO, &sndtimeo, sizeof(sndtimeo)) < 0 ||
            zmq_connect(c->socket, endpoint) < 0) {
                r = zmq_errno_neg();
                goto fail;
        }
        r = hello(c, opts);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        c->lost = true; /* no session to end */
        rd_client_free(c);
        return r;
}

rd_client *rd_client_free(rd_client *c)
{
        size_t i;
        void *v;

        if (!c)
                return NULL;
        if (c->socket && !c->lost) {
                (void)ack_flush(c);
                (void)send_notification_empty(c, "session.bye");
        }

        i = 0;
        while ((v = rd_hashmap_next(&c->handlers, &i)))
                free(v);
        rd_hashmap_done(&c->handlers);
        i = 0;
        while ((v = rd_hashmap_next(&c->pending, &i)))
                if (!((pending *)v)->sync)
                        free(v);
        rd_hashmap_done(&c->pending);
        RD_LIST_FOREACH_SAFE (l, n, &c->when_running) {
                free(rd_container_of(l, deferred, link));
        }
        RD_LIST_FOREACH_SAFE (l, n, &c->backlog) {
                queued_frame *q = rd_container_of(l, queued_frame, link);
                zmq_msg_close(&q->msg);
                free(q);
        }
        for (i = 0; i < c->n_frames; i++)
                frame_free(c->frames[i]);
        free(c->frames);

        if (c->socket)
                zmq_close(c->socket);
        if (c->context)
                zmq_ctx_term(c->context);
        rd_writer_done(&c->out);
        rd_writer_done(&c->batch);
        free(c->last_error);
        free(c);
        return NULL;
}

uint64_t rd_client_session(const rd_client *c)
{
        return c ? c->session : 0;
}

const char *rd_client_last_error(const rd_client *c)
{
        return c && c->last_error ? c->last_error : "";
}

/* ---- events and timers -------------------------------------------------------------------- */

static int handler_set(rd_client *c, uint64_t handle, const handler *h)
{
        handler *old = rd_hashmap_get(&c->handlers, handle, NULL, NULL);
        handler *n;
        int r;

        if (old) {
                *old = *h;
                return 0;
        }
        n = malloc(sizeof(*n));
        if (!n)
                return -ENOMEM;
        *n = *h;
        r = rd_hashmap_put(&c->handlers, handle, NULL, NULL, n);
        if (r < 0)
                free(n);
        return r;
}

static void handler_drop(rd_client *c, uint64_t handle)
{
        free(rd_hashmap_remove(&c->handlers, handle, NULL, NULL));
}

int rd_client_on(rd_client *c, uint64_t handle, rd_event_fn fn, void *userdata)
{
        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);

        if (!fn) {
                handler_drop(c, handle);
                return 0;
        }
        return handler_set(c, handle,
                           &(handler){ .handle = handle,
                                       .kind = HANDLER_EVENT,
                                       .event_fn = fn,
                                       .userdata = userdata });
}

int rd_client_on_any(rd_client *c, rd_event_fn fn, void *userdata)
{
        assert_return(c, -EINVAL);

        c->any_fn = fn;
        c->any_userdata = userdata;
        return 0;
}

/* Start a timer and route its timer.fired to `fn`. */
static int timer_start(rd_client *c, double after, double every, handler_kind kind,
                       rd_callback_fn fn, void *userdata, uint64_t *ret)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        rd_kv kv[2] = { RD_DOUBLE("after", after), RD_DOUBLE("every", every) };
        uint64_t handle;
        int r;

        r = rd_client_call(c, "timer.start", kv, kind == HANDLER_EVERY ? 2 : 1, &reply);
        if (r < 0)
                return r;
        if (rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &handle) < 0 ||
            handle == 0)
                return -EPROTO;
        /* The response precedes any timer.fired of this handle: nothing is missed. */
        r = handler_set(
                c, handle,
                &(handler){ .handle = handle, .kind = kind, .callback = fn, .userdata = userdata });
        if (r < 0) {
                (void)rd_client_callv(c, "timer.cancel", NULL, RD_UINT("handle", handle));
                return r;
        }
        if (ret)
                *ret = handle;
        return 0;
}

int rd_client_call_later(rd_client *c, double seconds, rd_callback_fn fn, void *userdata,
                         uint64_t *handle)
{
        assert_return(c, -EINVAL);
        assert_return(fn, -EINVAL);
        assert_return(seconds >= 0 && isfinite(seconds), -EINVAL);

        return timer_start(c, seconds, 0, HANDLER_LATER, fn, userdata, handle);
}

int rd_client_call_every(rd_client *c, double seconds, bool now, rd_callback_fn fn, void *userdata,
                         uint64_t *handle)
{
        assert_return(c, -EINVAL);
        assert_return(fn, -EINVAL);
        assert_return(seconds > 0 && isfinite(seconds), -EINVAL);

        return timer_start(c, now ? 0 : seconds, seconds, HANDLER_EVERY, fn, userdata, handle);
}

uint64_t rd_client_ticks(const rd_client *c)
{
        return c && c->ticks > 0 ? c->ticks : 1;
}

int rd_client_cancel(rd_client *c, uint64_t handle)
{
        int r;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);

        /*
         * Forget the callback only once the server has answered: a timer.fired
         * sent before the cancel still reaches it, as it did fire.
         */
        r = rd_client_callv(c, "timer.cancel", NULL, RD_UINT("handle", handle));
        handler_drop(c, handle);
        return r;
}

/* ---- the loop ----------------------------------------------------------------------------- */

int rd_client_call_when_running(rd_client *c, rd_callback_fn fn, void *userdata)
{
        deferred *d;

        assert_return(c, -EINVAL);
        assert_return(fn, -EINVAL);

        d = malloc(sizeof(*d));
        if (!d)
                return -ENOMEM;
        *d = (deferred){ .fn = fn, .userdata = userdata };
        rd_list_append(&c->when_running, &d->link);
        return 0;
}

/* Run the callbacks queued so far (not those they queue themselves). */
static void run_deferred(rd_client *c, bool stoppable)
{
        rd_list *last = c->when_running.prev;

        while (!rd_list_empty(&c->when_running)) {
                if (stoppable && c->stop)
                        return;
                rd_list *l = c->when_running.next;
                deferred d = *rd_container_of(l, deferred, link);
                rd_list_remove(l);
                free(rd_container_of(l, deferred, link));
                c->depth++;
                int r = d.fn(c, d.userdata);
                c->depth--;
                if (r < 0) {
                        if (r == -1)
                                log_error("reactord client: callback failed");
                        else
                                log_error("reactord client: callback failed: %s",
                                          strerror(ERRNO_ABS(r)));
                }
                if (l == last)
                        return;
        }
}

int rd_client_run(rd_client *c)
{
        int r = 0;

        assert_return(c, -EINVAL);
        assert_return(!c->running && c->depth == 0, -EBUSY);
        assert_return(!c->lost, -ENOTCONN);

        c->running = true;
        c->stop = false;
        for (;;) {
                run_deferred(c, true);
                if (c->stop)
                        break;
                r = pump(c, true);
                if (r < 0 || c->stop)
                        break;
                (void)keepalive(c);
                if (r > 0 || !rd_list_empty(&c->when_running))
                        continue;
                if (c->lost) {
                        r = -ECONNRESET;
                        break;
                }
                /* Idle: send what the callbacks queued before sleeping. */
                (void)flush_batch(c);
                r = wait_readable(c, keepalive_due(c));
                if (r < 0)
                        break;
        }
        c->running = false;
        c->stop = false;
        return r < 0 ? r : 0;
}

void rd_client_stop(rd_client *c)
{
        if (c)
                c->stop = true;
}

int rd_client_fd(rd_client *c)
{
        int fd;
        size_t len = sizeof(fd);

        assert_return(c, -EINVAL);
        if (zmq_getsockopt(c->socket, ZMQ_FD, &fd, &len) < 0)
                return zmq_errno_neg();
        return fd;
}

int rd_client_process(rd_client *c)
{
        int r, events;
        size_t len;

        assert_return(c, -EINVAL);

        do {
                run_deferred(c, false);
                while ((r = pump(c, false)) > 0)
                        (void)keepalive(c);
                if (r < 0)
                        return r;
                if (c->lost)
                        return -ECONNRESET;
                (void)flush_batch(c);
                (void)keepalive(c);
                /* Sending may have consumed the edge of ZMQ_FD: look again. */
                events = 0;
                len = sizeof(events);
                if (zmq_getsockopt(c->socket, ZMQ_EVENTS, &events, &len) < 0)
                        return zmq_errno_neg();
        } while (events & ZMQ_POLLIN);
        return 0;
}

int rd_client_timeout(rd_client *c)
{
        uint64_t due, n;

        assert_return(c, -EINVAL);

        if (has_work(c))
                return 0;
        due = keepalive_due(c);
        if (due == USEC_INFINITY)
                return -1;
        n = now_usec();
        if (due <= n)
                return 0;
        due = (due - n + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
        return due > INT32_MAX ? INT32_MAX : (int)due;
}
