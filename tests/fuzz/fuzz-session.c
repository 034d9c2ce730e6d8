/* SPDX-License-Identifier: MIT */
/*
 * fuzz-session: whole msgpack streams through the broker, its sessions and a
 * real reactor on a real sd-event loop, in one process and without network
 * I/O. Each frame goes into rd__broker_handle_frame(), the function the
 * ROUTER's receive path calls; replies leave through the broker's own ROUTER
 * socket to DEALER sockets on an inproc:// endpoint of the same ZeroMQ context,
 * where they are read back and must decode as responses and notifications.
 *
 * Input: a sequence of frames, each one byte of header, a length (two bytes,
 * little-endian) and that many bytes (a short last frame takes what is left).
 * Header bits 0-1 pick the connection, modulo 3: the first two have a DEALER
 * behind them, the third has none (as after a client vanished); bit 2 gives
 * the frame an ipc Peer-Address ("...:uid:gid:pid"). After each frame the loop
 * runs for at most LOOP_TURNS non-blocking iterations, so timers due at once
 * fire and deferred work (flushes, reaping) runs. After the last frame every
 * session is ended, the replies are read and checked, and nothing the input
 * made may be left in the reactor.
 *
 * Each input gets DEALERs with routing ids of its own, and they read nothing
 * until the input is done: how much ZeroMQ queues before it refuses a frame
 * (EAGAIN, and the broker's backlog takes over) then depends on the input
 * alone, not on when libzmq passes on what a reader has consumed.
 *
 * Requests that would start processes or reach beyond this process are not
 * run: a frame holding one is skipped whole (see allowed()). process.spawn,
 * tcp.connect, the unix.* sockets and udp.send/join/leave never run; tcp.listen
 * and udp.bind run only on 127.0.0.1 or ::1 with port 0 (a fresh port nobody
 * else uses); the other stream and process methods run against handles that
 * do not exist or are of another kind, which exercises their checks.
 */
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "basic/log.h"
#include "broker/broker.h"
#include "broker/dispatch.h"
#include "fuzz.h"

#define ENDPOINT   "inproc://fuzz-session"
#define N_RIDS     3 /* two clients, and a connection with no one behind it */
#define N_DEALERS  2
#define LOOP_TURNS 16

static struct {
        sd_event *event;
        rd_broker *broker;
        void *dealers[N_DEALERS]; /* this input's clients */
        char rids[N_RIDS][24];    /* this input's routing ids */
        uint64_t n_inputs;        /* makes the routing ids unique */
        rd_decoder *decoder;      /* for the filter and for replies */
        char peer[64];            /* a Peer-Address as libzmq reports it for ipc peers */
} F;

/*
 * Methods that run as they come: none starts a process or sends anything off
 * this process (the process and stream methods find no handle of their kind
 * here). A method added to the table is fuzzed once it is listed here, after
 * checking that; methods the table does not know run too (ENOSYS).
 */
static const char *const safe[] = {
        "handle.close",    "listener.join",   "process.close_stdin", "process.list",
        "process.signal",  "process.stop",    "process.take",        "process.write",
        "reactor.info",    "reactor.methods", "reactor.ping",        "reactor.resources",
        "session.ack",     "session.bye",     "session.hello",       "stream.abort",
        "stream.close",    "stream.pause",    "stream.resume",       "stream.set",
        "stream.shutdown", "stream.write",    "tcp.adopt",           "timer.cancel",
        "timer.reset",     "timer.start",     "unix.adopt",
};

/* {host: "127.0.0.1" | "::1", port: 0}: a listener or datagram socket nothing reaches. */
static bool loopback_any_port(const rd_value *params)
{
        const rd_value *host = rd_value_get(params, "host");
        uint64_t port;

        return (rd_value_str_eq(host, "127.0.0.1") || rd_value_str_eq(host, "::1")) &&
               rd_value_uint(rd_value_get(params, "port"), &port) == 0 && port == 0;
}

static bool method_allowed(const rd_msg *msg)
{
        if (!rd_dispatch_find(msg->name, msg->name_len))
                return true;
        for (size_t i = 0; i < ELEMENTSOF(safe); i++)
                if (rd_msg_name_is(msg, safe[i], strlen(safe[i])))
                        return true;
        if (rd_msg_name_is(msg, "tcp.listen", 10) || rd_msg_name_is(msg, "udp.bind", 8))
                return loopback_any_port(msg->params);
        return false; /* process.spawn, tcp.connect, unix.*, udp.send, udp.join, ... */
}

/*
 * Decode the frame as the broker will (the same decoder on the same bytes, so
 * it meets the same messages) and refuse it if any request is not allowed.
 */
static bool allowed(const uint8_t *p, size_t n)
{
        rd_msg msg;
        int k;

        if (rd_decoder_begin(F.decoder, p, n) < 0)
                return true;
        while ((k = rd_decoder_next(F.decoder, &msg)) != 0) {
                if (k == -EBADMSG)
                        break;
                if (k == 1 && msg.type != RD_MSG_RESPONSE && !method_allowed(&msg))
                        return false;
        }
        return true;
}

/* What reactord sends is msgpack-rpc, always: responses and notifications only. */
static void check_reply(const void *p, size_t n)
{
        rd_msg msg;
        int k;

        fuzz_assert(n > 0);
        fuzz_assert(rd_decoder_begin(F.decoder, p, n) == 0);
        while ((k = rd_decoder_next(F.decoder, &msg)) != 0) {
                fuzz_assert(k == 1);
                fuzz_assert(msg.type == RD_MSG_RESPONSE || msg.type == RD_MSG_NOTIFICATION);
        }
}

/* Read and check every reply; then the clients leave. */
static void drain_and_close(void)
{
        zmq_msg_t m;

        zmq_msg_init(&m);
        for (size_t i = 0; i < N_DEALERS; i++) {
                while (zmq_msg_recv(&m, F.dealers[i], ZMQ_DONTWAIT) >= 0)
                        check_reply(zmq_msg_data(&m), zmq_msg_size(&m));
                zmq_close(F.dealers[i]);
                F.dealers[i] = NULL;
        }
        zmq_msg_close(&m);
}

static void run_loop(void)
{
        for (int i = 0; i < LOOP_TURNS; i++)
                if (sd_event_run(F.event, 0) <= 0)
                        break;
}

static void teardown(void)
{
        F.broker = rd_broker_free(F.broker);
        F.event = sd_event_unref(F.event);
        F.decoder = rd_decoder_free(F.decoder);
}

static void setup(void)
{
        /*
         * Small limits, so that an input of a few KiB reaches each of them:
         * oversized frames, the handle cap, the session cap, batch closing.
         */
        rd_broker_limits limits = RD_BROKER_LIMITS_DEFAULT;
        limits.max_frame = 2048;
        limits.max_handles = 8;
        limits.max_sessions = 2;
        limits.max_batch = 1024;
        limits.max_backlog = 64 * 1024;

        /* Bad input is the point here: keep the log to real errors. */
        rd_log_set_level(RD_LOG_ERR);
        snprintf(F.peer, sizeof(F.peer), "fuzz:%u:%u:%d", (unsigned)getuid(), (unsigned)getgid(),
                 (int)getpid());
        fuzz_assert(rd_decoder_new(&F.decoder) == 0);
        fuzz_assert(sd_event_new(&F.event) >= 0);
        fuzz_assert(rd_broker_new(F.event, ENDPOINT, &limits, &F.broker) == 0);
        atexit(teardown);
}

/* Connect this input's clients; inproc:// connects only within the broker's own context. */
static void connect_clients(void)
{
        F.n_inputs++;
        for (size_t i = 0; i < N_RIDS; i++)
                snprintf(F.rids[i], sizeof(F.rids[i]), "%c%" PRIu64, 'A' + (int)i, F.n_inputs);

        for (size_t i = 0; i < N_DEALERS; i++) {
                const char *rid = F.rids[i];
                int zero = 0, tries = 0, events;
                size_t len = sizeof(events);
                char c;

                fuzz_assert(F.dealers[i] = zmq_socket(F.broker->zctx, ZMQ_DEALER));
                fuzz_assert(zmq_setsockopt(F.dealers[i], ZMQ_ROUTING_ID, rid, strlen(rid)) == 0);
                fuzz_assert(zmq_setsockopt(F.dealers[i], ZMQ_LINGER, &zero, sizeof(zero)) == 0);
                fuzz_assert(zmq_connect(F.dealers[i], ENDPOINT) == 0);
                /*
                 * The ROUTER learns the routing id when it processes the new pipe
                 * (asking for ZMQ_EVENTS makes it), and now and then only after
                 * libzmq's other threads had their turn: send an empty frame until
                 * it is routable (for at most about 5 s), and take that frame off
                 * the queue.
                 */
                for (;;) {
                        (void)zmq_getsockopt(F.broker->router, ZMQ_EVENTS, &events, &len);
                        if (rd__broker_send(F.broker, rid, strlen(rid), "", 0) == 0)
                                break;
                        fuzz_assert(++tries < 5100);
                        if (tries > 100)
                                (void)usleep(1000);
                }
                fuzz_assert(zmq_recv(F.dealers[i], &c, 1, 0) == 0);
        }
}

static void feed(uint8_t header, const uint8_t *data, size_t n)
{
        /* A copy of exactly `n` bytes: reading past the frame is caught. */
        uint8_t *frame = malloc(n ? n : 1);
        const char *r = F.rids[(header & 3) % N_RIDS];
        rd_rid rid = { r, strlen(r) };

        fuzz_assert(frame);
        memcpy(frame, data, n);
        if (allowed(frame, n)) {
                rd__broker_handle_frame(F.broker, &rid, header & 4 ? F.peer : NULL, frame, n);
                run_loop();
        }
        free(frame);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!F.broker)
                setup();
        connect_clients();

        while (size > 0) {
                uint8_t header = data[0];
                size_t n = size >= 3 ? (size_t)data[1] | (size_t)data[2] << 8 : 0;
                size_t head = size >= 3 ? 3 : size;

                data += head, size -= head;
                if (n > size)
                        n = size;
                feed(header, data, n);
                data += n, size -= n;
        }

        /* End every session as a shutdown would, then take new ones again. */
        rd_broker_shutdown(F.broker);
        F.broker->shutting_down = false;
        F.broker->n_bad = 0;
        F.broker->bad_log.window_start = F.broker->bad_log.in_window = 0;
        F.broker->bad_log.suppressed = 0;
        run_loop();
        drain_and_close();
        fuzz_assert(rd_broker_n_sessions(F.broker) == 0);
        for (int k = 0; k < _RD_HANDLE_KIND_MAX; k++)
                fuzz_assert(rd_reactor_count(F.broker->reactor, k) == 0);
        return 0;
}
