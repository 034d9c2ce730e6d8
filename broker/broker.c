/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <zmq.h>

#include "activation.h"
#include "basic/log.h"
#include "broker.h"
#include "curve.h"
#include "dispatch.h"
#include "proto/error.h"
#include "session.h"

/* ZeroMQ's queue per peer, each way, in messages (frames). */
#define RD_BROKER_HWM 1000
/* Messages taken from the socket per loop iteration: one busy client cannot starve the rest. */
#define RX_BATCH 256
/* Retry interval for frames ZeroMQ refused with EAGAIN (its queue for that peer was full). */
#define RETRY_USEC (5 * USEC_PER_MSEC)
/* At most this many bad-input log lines per second; the rest are counted. */
#define BAD_LOG_PER_SEC 10

static uint64_t loop_now(rd_broker *b)
{
        uint64_t now = 0;
        (void)sd_event_now(b->event, CLOCK_MONOTONIC, &now);
        return now;
}

static rd_session *find_session(rd_broker *b, const void *rid, size_t n)
{
        rd_rid key = { rid, n };
        return rd_hashmap_get(&b->sessions, rd_hash_bytes(rid, n), rd_session_match_rid, &key);
}

/* Log bad input (from session `s`, or NULL) at warning level, at most BAD_LOG_PER_SEC lines a
 * second. */
_printf_(3, 4) static void log_bad(rd_broker *b, const rd_session *s, const char *fmt, ...)
{
        uint64_t now = loop_now(b);
        char line[512];
        va_list ap;

        b->n_bad++;
        if (now - b->bad_log.window_start >= USEC_PER_SEC) {
                if (b->bad_log.suppressed)
                        log_warning("%" PRIu64 " more bad-input messages suppressed",
                                    b->bad_log.suppressed);
                b->bad_log.window_start = now;
                b->bad_log.in_window = b->bad_log.suppressed = 0;
        }
        if (++b->bad_log.in_window > BAD_LOG_PER_SEC) {
                b->bad_log.suppressed++;
                return;
        }
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        log_session(RD_LOG_WARNING, s, "%s", line);
}

/* ---- sending ---- */

/* After any zmq call the ZMQ_FD edge may have been consumed: look at ZMQ_EVENTS again. */
static void pump(rd_broker *b)
{
        int events = 0;
        size_t len = sizeof(events);

        if (zmq_getsockopt(b->router, ZMQ_EVENTS, &events, &len) < 0)
                return;
        if (events & ZMQ_POLLIN)
                (void)sd_event_source_set_enabled(b->rx_source, SD_EVENT_ONESHOT);
}

int rd__broker_send(rd_broker *b, const void *rid, size_t rid_len, const void *data, size_t size)
{
        if (zmq_send(b->router, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
                return -errno == -EAGAIN ? -EAGAIN : -EHOSTUNREACH;
        /* The routing part was accepted, so the pipe has room: this part cannot be refused. */
        if (zmq_send(b->router, data, size, ZMQ_DONTWAIT) < 0)
                return -errno;
        return 0;
}

void rd__broker_mark_dirty(rd_broker *b, rd_session *s)
{
        if (rd_list_linked(&s->dirty_link))
                return;
        rd_list_append(&b->dirty, &s->dirty_link);
        (void)sd_event_source_set_enabled(b->flush_source, SD_EVENT_ONESHOT);
}

/* Send the event batches of the dirty sessions. */
static void flush(rd_broker *b)
{
        rd_list again = RD_LIST_INIT(again);

        /* Called directly, it leaves the deferred flush nothing to do. */
        (void)sd_event_source_set_enabled(b->flush_source, SD_EVENT_OFF);
        while (!rd_list_empty(&b->dirty)) {
                rd_session *s = rd_container_of(b->dirty.next, rd_session, dirty_link);

                rd_list_remove(&s->dirty_link);
                if (rd_session_flush(s) == -EHOSTUNREACH) {
                        /* The connection is gone: no one is left to tell. */
                        rd__broker_kill_session(b, s, NULL);
                        continue;
                }
                if (s->backlog) {
                        /*
                         * A frame ZeroMQ refused just now went to the backlog, and
                         * that marked the session dirty again: take it off b->dirty
                         * before linking it into `again`, or both lists share the
                         * node and this loop never ends (found by fuzz-session).
                         */
                        if (rd_list_linked(&s->dirty_link))
                                rd_list_remove(&s->dirty_link);
                        rd_list_append(&again, &s->dirty_link);
                }
        }
        if (!rd_list_empty(&again)) {
                /* ZeroMQ's queue for these peers is full: try again shortly. */
                b->dirty = again;
                b->dirty.next->prev = &b->dirty;
                b->dirty.prev->next = &b->dirty;
                (void)sd_event_source_set_time_relative(b->retry_source, RETRY_USEC);
                (void)sd_event_source_set_enabled(b->retry_source, SD_EVENT_ONESHOT);
        }
        pump(b);
}

static int on_flush(sd_event_source *source, void *userdata)
{
        flush(userdata);
        return 0;
}

static int on_retry(sd_event_source *source, uint64_t usec, void *userdata)
{
        return on_flush(NULL, userdata);
}

/* ---- ending sessions ---- */

void rd__broker_kill_session(rd_broker *b, rd_session *s, const char *reason)
{
        if (s->end_reason)
                return;
        s->end_reason = reason ? reason : "";
        /* Out of the map now: a new hello from the same connection starts afresh. */
        rd_hashmap_remove(&b->sessions, s->rid_hash, rd_session_match_rid,
                          &(rd_rid){ s->rid, s->rid_len });
        rd_list_append(&b->dead, &s->dead_link);
        (void)sd_event_source_set_enabled(b->reap_source, SD_EVENT_ONESHOT);
}

static void reap(rd_broker *b)
{
        while (!rd_list_empty(&b->dead)) {
                rd_session *s = rd_container_of(b->dead.next, rd_session, dead_link);
                rd_list_remove(&s->dead_link);
                rd_session_free(s, s->end_reason);
        }
}

static int on_reap(sd_event_source *source, void *userdata)
{
        reap(userdata);
        /* Telling an ended session (session.closed) was a zmq call: it may have taken the edge. */
        pump(userdata);
        return 0;
}

/* ---- receiving ---- */

static void send_direct(rd_broker *b, const rd_rid *rid, const rd_writer *w)
{
        if (rd_writer_failed(w))
                return;
        (void)rd__broker_send(b, rid->p, rid->n, w->data, w->size);
}

void rd__broker_report(rd_broker *b, rd_session *s, const rd_rid *rid, int err, const char *message,
                       const uint64_t *msgid, const char *method)
{
        rd_writer w = RD_WRITER_INIT;

        if (s) {
                rd_session_queue_error(s, err, message, msgid, method);
                return;
        }
        rd_write_notification(&w, "session.error", 2 + !!msgid + !!method);
        rd_write_kv_str(&w, "code", rd_error_name(err));
        rd_write_kv_str(&w, "message", message);
        if (msgid)
                rd_write_kv_uint(&w, "msgid", *msgid);
        if (method)
                rd_write_kv_str(&w, "method", method);
        send_direct(b, rid, &w);
        rd_writer_done(&w);
}

static const char *peer_name(rd_session *s, char *buf, size_t n)
{
        if (s)
                snprintf(buf, n, "session %" PRIu64 " (%s)", s->id, s->name ? s->name : "unnamed");
        else
                snprintf(buf, n, "a connection without a session");
        return buf;
}

static void report_not_msgpack(rd_broker *b, rd_session *s, const rd_rid *rid, size_t size)
{
        char who[96];

        log_bad(b, s, "%s: frame of %zu bytes is not msgpack", peer_name(s, who, sizeof(who)),
                size);
        rd__broker_report(b, s, rid, -EBADMSG,
                          "frame is not valid msgpack; the rest of it was dropped", NULL, NULL);
}

void rd__broker_handle_frame(rd_broker *b, const rd_rid *rid, const char *peer, const void *data,
                             size_t size)
{
        rd_session *s = find_session(b, rid->p, rid->n);
        char who[96];
        rd_msg msg;
        uint64_t msgid;
        int k;

        if (s)
                rd_session_touch(s, loop_now(b));

        if (size > b->limits.max_frame) {
                char m[128];
                log_bad(b, s, "%s: frame of %zu bytes refused (max_frame %zu)",
                        peer_name(s, who, sizeof(who)), size, b->limits.max_frame);
                snprintf(m, sizeof(m), "frame of %zu bytes is larger than max_frame (%zu)", size,
                         b->limits.max_frame);
                if (rd_peek_msgid(data, size, &msgid) >= 0) {
                        rd_write_error(&b->reply, msgid, -E2BIG, m);
                        goto reply;
                }
                rd__broker_report(b, s, rid, -E2BIG, m, NULL, NULL);
                return;
        }

        if (rd_decoder_begin(b->decoder, data, size) < 0) {
                report_not_msgpack(b, s, rid, size);
                goto reply;
        }
        while ((k = rd_decoder_next(b->decoder, &msg)) != 0) {
                if (k == -EBADMSG) {
                        if (msg.has_msgid) {
                                log_bad(b, s, "%s: request %" PRIu64 " is not valid msgpack",
                                        peer_name(s, who, sizeof(who)), msg.msgid);
                                rd_write_error(&b->reply, msg.msgid, -EBADMSG,
                                               "request is not valid msgpack, is truncated, or "
                                               "nests deeper than 32 levels");
                        } else
                                report_not_msgpack(b, s, rid, size);
                        break;
                }
                if (k == -EPROTO) {
                        log_bad(b, s, "%s: a msgpack value that is not a msgpack-rpc message",
                                peer_name(s, who, sizeof(who)));
                        if (msg.has_msgid && msg.type == RD_MSG_REQUEST)
                                rd_write_error(&b->reply, msg.msgid, -EPROTO,
                                               "not a msgpack-rpc request: expected [0, msgid, "
                                               "method, [params]]");
                        else
                                rd__broker_report(b, s, rid, -EPROTO,
                                                  "not a msgpack-rpc message: expected [0, msgid, "
                                                  "method, [params]] or [2, method, [params]]",
                                                  msg.has_msgid ? &msg.msgid : NULL, NULL);
                        continue;
                }
                if (msg.type == RD_MSG_RESPONSE) {
                        log_bad(b, s,
                                "%s: sent a response; clients send requests and notifications",
                                peer_name(s, who, sizeof(who)));
                        continue;
                }
                /*
                 * The replies to one frame are bounded: past max_frame, each
                 * request left gets a short error instead of its answer, so a
                 * frame of small requests with large answers (reactor.methods
                 * many times over) cannot make reactord build a reply frame of
                 * hundreds of MiB.
                 */
                if (msg.type == RD_MSG_REQUEST && b->reply.size >= b->limits.max_frame) {
                        rd_write_error(&b->reply, msg.msgid, -E2BIG,
                                       "the replies to this frame reached max_frame: send this "
                                       "request again in another frame");
                        continue;
                }
                rd_dispatch(b, s, rid, peer, &msg, &b->reply);
                /* hello may have made the session, bye may have ended it. */
                s = find_session(b, rid->p, rid->n);
        }

reply:
        if (b->reply.size == 0)
                return;
        if (rd_writer_failed(&b->reply))
                log_error("%s: out of memory writing replies", peer_name(s, who, sizeof(who)));
        else if (s)
                (void)rd_session_send(s, b->reply.data, b->reply.size);
        else
                send_direct(b, rid, &b->reply);
        rd_writer_reset(&b->reply);
}

/* Take up to RX_BATCH messages from the socket. */
static void receive(rd_broker *b)
{
        zmq_msg_t rid, body;
        bool drained = false; /* a receive said EAGAIN: ZeroMQ has nothing more for now */
        int more, n;

        zmq_msg_init(&rid);
        zmq_msg_init(&body);
        for (n = 0; n < RX_BATCH; n++) {
                if (zmq_msg_recv(&rid, b->router, ZMQ_DONTWAIT) < 0) {
                        drained = errno == EAGAIN;
                        if (errno != EAGAIN && errno != EINTR)
                                log_error("receiving from the bus: %s", zmq_strerror(errno));
                        break;
                }
                if (!zmq_msg_more(&rid))
                        continue; /* a ROUTER always prefixes the routing id; nothing follows */
                if (zmq_msg_recv(&body, b->router, ZMQ_DONTWAIT) < 0)
                        break;
                rd_rid r = { zmq_msg_data(&rid), zmq_msg_size(&rid) };
                if (!zmq_msg_more(&body)) {
                        /* For ipc peers libzmq reports "...:uid:gid:pid" (SO_PEERCRED). With
                         * CURVE, User-Id is the name our ZAP handler gave the client's key. */
                        b->frame_user = zmq_msg_gets(&body, "User-Id");
                        rd__broker_handle_frame(b, &r, zmq_msg_gets(&body, "Peer-Address"),
                                                zmq_msg_data(&body), zmq_msg_size(&body));
                        b->frame_user = NULL;
                        continue;
                }

                /* Multi-part: drain every part, answer once. */
                more = 1;
                while (more) {
                        if (zmq_msg_recv(&body, b->router, ZMQ_DONTWAIT) < 0)
                                break;
                        more = zmq_msg_more(&body);
                }
                rd_session *s = find_session(b, r.p, r.n);
                char who[96];
                log_bad(b, s, "%s: multi-part message dropped", peer_name(s, who, sizeof(who)));
                rd__broker_report(b, s, &r, -EPROTO,
                                  "multi-part messages are not accepted: send one frame", NULL,
                                  NULL);
        }
        zmq_msg_close(&body);
        zmq_msg_close(&rid);
        if (n == RX_BATCH)
                (void)sd_event_source_set_enabled(b->rx_source, SD_EVENT_ONESHOT);
        if (!rd_list_empty(&b->dirty))
                flush(b); /* it looks at ZMQ_EVENTS after its sends */
        else if (!drained)
                pump(b);
        /*
         * Otherwise the EAGAIN came after every send of this round (the
         * replies): ZeroMQ took in its pending commands then, and anything
         * arriving later signals ZMQ_FD anew.
         */
}

static int on_io(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
        receive(userdata);
        return 0;
}

static int on_rx(sd_event_source *source, void *userdata)
{
        receive(userdata);
        return 0;
}

/* The reactor has handled a batch of ready sockets: send what they emitted now. */
static void flush_now(void *userdata)
{
        rd_broker *b = userdata;

        if (!rd_list_empty(&b->dirty))
                flush(b);
}

/* The reactor's emit callback: resources' events become queued notifications. */
static int emit(rd_owner *owner, const rd_event *ev, void *userdata)
{
        rd_session *s = rd_owner_get_userdata(owner);

        if (s->end_reason)
                return 0; /* being ended: its resources go with it */
        return rd_session_queue_event(s, ev);
}

static bool has_credit(rd_owner *owner, void *userdata)
{
        rd_session *s = rd_owner_get_userdata(owner);
        return !s->end_reason && rd_session_has_credit(s);
}

/* Log lines about a handle name its session too. */
static void owner_log_fields(rd_owner *owner, rd_log_fields *f, void *userdata)
{
        rd_session_log_fields(rd_owner_get_userdata(owner), f);
}

/* ---- life ---- */

static int setsockopt_int(void *socket, int option, int value)
{
        return zmq_setsockopt(socket, option, &value, sizeof(value)) < 0 ? -errno : 0;
}

int rd_broker_new(sd_event *event, const char *endpoint, const rd_broker_limits *limits,
                  rd_broker **ret)
{
        return rd_broker_new_activated(event, endpoint, NULL, limits, ret);
}

int rd_broker_new_activated(sd_event *event, const char *endpoint, rd_activation *activation,
                            const rd_broker_limits *limits, rd_broker **ret)
{
        rd_broker *b;
        int fd, k;
        size_t len = sizeof(fd);

        if (!event || !endpoint || !ret) {
                rd_activation_free(activation);
                return -EINVAL;
        }

        b = calloc(1, sizeof(*b));
        if (!b) {
                rd_activation_free(activation);
                return -ENOMEM;
        }
        b->activation = activation;
        b->event = sd_event_ref(event);
        b->limits = limits ? *limits : (rd_broker_limits)RD_BROKER_LIMITS_DEFAULT;
        b->next_session_id = 1;
        b->started = loop_now(b);
        rd_list_init(&b->dirty);
        rd_list_init(&b->dead);

        k = -ENOMEM;
        b->endpoint = strdup(endpoint);
        if (!b->endpoint)
                goto fail;
        k = rd_decoder_new(&b->decoder);
        if (k < 0)
                goto fail;
        k = rd_reactor_new(event,
                           &(rd_reactor_sink){ .emit = emit,
                                               .has_credit = has_credit,
                                               .userdata = b,
                                               .log_fields = owner_log_fields,
                                               .flush = flush_now },
                           &b->reactor);
        if (k < 0)
                goto fail;

        b->zctx = zmq_ctx_new();
        if (!b->zctx) {
                k = -errno;
                goto fail;
        }
        b->router = zmq_socket(b->zctx, ZMQ_ROUTER);
        if (!b->router) {
                k = -errno;
                goto fail;
        }
        /*
         * MANDATORY: a frame for a vanished peer is an error, not a silent drop,
         * and a full queue is EAGAIN (then kept in the session's backlog), never
         * a drop. Frames are batches, so 1,000 per peer is plenty for a client
         * that reads; it also caps what a connection that never reads costs
         * (errors for a peer without a session are dropped past it), and a
         * peer that floods requests feels back-pressure at 1,000 queued.
         * MAXMSGSIZE is the hard cap beyond max_frame (larger frames make
         * ZeroMQ drop the connection).
         */
        if ((k = setsockopt_int(b->router, ZMQ_ROUTER_MANDATORY, 1)) < 0 ||
            (k = setsockopt_int(b->router, ZMQ_SNDHWM, RD_BROKER_HWM)) < 0 ||
            (k = setsockopt_int(b->router, ZMQ_RCVHWM, RD_BROKER_HWM)) < 0 ||
            (k = setsockopt_int(b->router, ZMQ_LINGER, 1000)) < 0)
                goto fail;
        int64_t maxmsg = (int64_t)b->limits.max_frame * 16;
        if (zmq_setsockopt(b->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) < 0) {
                k = -errno;
                goto fail;
        }
        if (activation && activation->bus_fd >= 0) {
                /* ZeroMQ closes the fd it serves; the pool keeps the service manager's own. */
                int bus = fcntl(activation->bus_fd, F_DUPFD_CLOEXEC, 3);

                if (bus < 0 || (k = setsockopt_int(b->router, ZMQ_USE_FD, bus)) < 0) {
                        k = bus < 0 ? -errno : k;
                        if (bus >= 0)
                                close(bus);
                        goto fail;
                }
        }
        /* The ZAP handler is bound first: no handshake may complete without it. */
        if (b->limits.curve_secret_key &&
            ((k = rd_curve_new(event, b->zctx, b->limits.curve_secret_key, b->limits.curve_allow,
                               &b->curve)) < 0 ||
             (k = rd_curve_apply(b->curve, b->router)) < 0))
                goto fail;
        if (zmq_bind(b->router, endpoint) < 0) {
                k = -errno;
                log_error("cannot bind %s: %s", endpoint, zmq_strerror(errno));
                goto fail;
        }
        if (strncmp(endpoint, "tcp://", 6) == 0) {
                /* "tcp://127.0.0.1:*" binds a free port: show the one bound. */
                char bound[256];
                size_t n = sizeof(bound);

                if (zmq_getsockopt(b->router, ZMQ_LAST_ENDPOINT, bound, &n) == 0 && bound[0]) {
                        char *p = strdup(bound);
                        if (!p) {
                                k = -ENOMEM;
                                goto fail;
                        }
                        free(b->endpoint);
                        b->endpoint = p;
                }
        }
        if (zmq_getsockopt(b->router, ZMQ_FD, &fd, &len) < 0) {
                k = -errno;
                goto fail;
        }

        if ((k = sd_event_add_io(event, &b->io_source, fd, EPOLLIN, on_io, b)) < 0 ||
            (k = sd_event_add_defer(event, &b->rx_source, on_rx, b)) < 0 ||
            (k = sd_event_add_defer(event, &b->flush_source, on_flush, b)) < 0 ||
            (k = sd_event_add_defer(event, &b->reap_source, on_reap, b)) < 0 ||
            (k = sd_event_add_time(event, &b->retry_source, CLOCK_MONOTONIC, 0, USEC_PER_MSEC,
                                   on_retry, b)) < 0)
                goto fail;
        (void)sd_event_source_set_description(b->io_source, "bus");
        /*
         * Events are sent when nothing else is pending, so the events of every
         * stream and timer that was ready in one wake-up share a frame. A batch
         * that reaches max_batch goes at once, and each input batch ends with a
         * flush too (see receive()), so nothing waits long behind busy sources.
         */
        (void)sd_event_source_set_priority(b->flush_source, SD_EVENT_PRIORITY_IDLE);
        (void)sd_event_source_set_enabled(b->rx_source, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(b->flush_source, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(b->reap_source, SD_EVENT_OFF);
        (void)sd_event_source_set_enabled(b->retry_source, SD_EVENT_OFF);

        /* Messages may have queued before the fd was watched. */
        pump(b);
        *ret = b;
        return 0;
fail:
        rd_broker_free(b);
        return k;
}

void rd_broker_shutdown(rd_broker *b)
{
        rd_session *s;
        size_t i = 0;

        b->shutting_down = true;
        reap(b);
        /* Ending a session removes it from the map: restart the walk each time. */
        while ((i = 0, s = rd_hashmap_next(&b->sessions, &i)))
                rd_session_free(s, "shutdown");
}

rd_broker *rd_broker_free(rd_broker *b)
{
        if (!b)
                return NULL;
        rd_broker_shutdown(b);
        sd_event_source_disable_unref(b->io_source);
        sd_event_source_disable_unref(b->rx_source);
        sd_event_source_disable_unref(b->flush_source);
        sd_event_source_disable_unref(b->reap_source);
        sd_event_source_disable_unref(b->retry_source);
        if (b->router)
                zmq_close(b->router);
        rd_curve_free(b->curve); /* its socket too must be closed before the context ends */
        if (b->zctx)
                zmq_ctx_term(b->zctx); /* waits up to ZMQ_LINGER for the goodbyes */
        rd_reactor_free(b->reactor);
        /* After the reactor: closing adopted listeners hands their sockets back to the pool. */
        rd_activation_free(b->activation);
        rd_decoder_free(b->decoder);
        rd_writer_done(&b->reply);
        rd_writer_done(&b->discard);
        rd_hashmap_done(&b->sessions);
        free(b->endpoint);
        sd_event_unref(b->event);
        free(b);
        return NULL;
}

size_t rd_broker_n_sessions(const rd_broker *b)
{
        return rd_hashmap_size(&b->sessions);
}

int rd_broker_reload_curve(rd_broker *b, const char *allow_dir)
{
        rd_session *s;
        bool again = true;
        size_t i;
        int n;

        assert_return(b && allow_dir, -EINVAL);

        if (!b->curve)
                return -ENOTCONN;
        n = rd_curve_reload(b->curve, allow_dir);
        if (n < 0)
                return n;
        /* Ending a session takes it out of the map: walk again after each one. */
        while (again) {
                again = false;
                i = 0;
                while ((s = rd_hashmap_next(&b->sessions, &i)))
                        if (s->user && !s->end_reason && !rd_curve_allows(b->curve, s->user)) {
                                log_notice("session %" PRIu64 " (%s): the key of '%s' is no "
                                           "longer allowed; ending it",
                                           s->id, s->name ? s->name : "unnamed", s->user);
                                rd__broker_kill_session(b, s, "key revoked");
                                again = true;
                                break;
                        }
        }
        return n;
}
