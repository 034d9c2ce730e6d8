/* SPDX-License-Identifier: MIT */
/*
 * The echo server: every byte a client sends comes back to it. reactord owns
 * the listening socket and the connections; the echoing runs here, in the
 * handlers. A peer that sends faster than it reads fills the stream's write
 * buffer: the echo waits here and the stream is paused until reactord's
 * buffer has room again (Twisted's producer/consumer).
 * (Twisted: class Echo(Protocol): def dataReceived(self, data):
 *  self.transport.write(data); reactor.listenTCP(8000, EchoFactory()))
 *
 * Usage: echo-server [PORT]   (default 8000; 0 picks a free port)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <reactord/client.h>
#include <reactord/stream.h>

/*
 * Writes are pipelined: the handler does not wait for each reply. A write
 * that fits, within the stream's high-water mark and the session's budget
 * counting all that reactord may still hold (the buffer it last reported
 * plus every byte sent since), cannot be refused, so it needs no answer: it
 * goes as a notification, and an echo costs one message each way. Notified
 * bytes count as held until a reply accounts for them: once WRITE_SYNC of
 * them would be unaccounted for, the write goes as a request whose
 * `buffered` covers every byte sent before it. (So large writes, a bulk
 * transfer's, all go as requests, and each reply frees room as it comes.)
 *
 * Bytes that do not fit wait here, and reading pauses. When nothing is in
 * flight they go as a lone request, a probe: if reactord refuses it with
 * EAGAIN, nothing sent behind it can overtake it; the bytes go back to the
 * head of the queue until stream.drained.
 */
#define HIGH_WATER (256 * 1024) /* reactord's default high-water mark */
#define BUDGET     (16u << 20)  /* within reactord's default max_write_buffer, 64 MiB */
#define WRITE_SYNC (16 * 1024)  /* notified bytes before a write goes as a request */

/* All that reactord may hold for the session's streams, by the counts below. */
static size_t held;

/* One accepted connection. */
typedef struct conn {
        uint64_t stream;   /* its handle */
        char *pending;     /* bytes waiting for room in the stream's buffer */
        size_t len, cap;   /* of pending */
        size_t buffered;   /* reactord's buffer, as the last reply said */
        size_t notified;   /* bytes notified since the last request */
        size_t unanswered; /* bytes the replies in flight will account for */
        unsigned writes;   /* requests in flight */
        bool probing;      /* a lone request that may be refused: send nothing behind it */
        bool blocked;      /* a write was refused: wait for stream.drained */
        bool paused;       /* stream.pause is in force */
        bool eof;          /* the peer sent everything: shut down once all is written */
        bool closed;       /* stream.closed came: free once no reply is outstanding */
} conn;

/* A write sent as a request; a probe keeps its bytes in case it is refused. */
typedef struct write_req {
        conn *k;
        size_t counted; /* what its reply accounts for: it and the notified bytes before it */
        size_t n;       /* of data, for a probe; else 0 */
        char data[];
} write_req;

/* What reactord may hold for `k`: an upper bound of its write buffer. */
static size_t holding(const conn *k)
{
        return k->buffered + k->unanswered + k->notified;
}

static void set_buffered(conn *k, size_t buffered)
{
        held = held - k->buffered + buffered;
        k->buffered = buffered;
}

static void maybe_free(conn *k)
{
        if (k->closed && k->writes == 0) {
                held -= holding(k);
                free(k->pending);
                free(k);
        }
}

/* How many of `n` bytes fit now (0 while a write may be refused). */
static size_t room(const conn *k, size_t n)
{
        size_t mine = holding(k), r;

        if (k->probing || k->blocked || mine >= HIGH_WATER || held >= BUDGET)
                return 0;
        r = HIGH_WATER - mine;
        if (r > BUDGET - held)
                r = BUDGET - held;
        return n < r ? n : r;
}

static void on_written(rd_client *c, int error, const rd_value *result, const char *message,
                       void *userdata);

/* Write `n` bytes; `probe`: they do not fit, and nothing is in flight. */
static int write_out(rd_client *c, conn *k, const void *data, size_t n, bool probe)
{
        write_req *w;
        int r;

        if (!probe && k->notified + n < WRITE_SYNC) {
                r = rd_client_notify(c, "stream.write",
                                     RD_KVS(RD_UINT("handle", k->stream), RD_BIN("data", data, n)),
                                     2);
                if (r < 0)
                        return r;
                k->notified += n;
                held += n;
                return 0;
        }
        w = malloc(sizeof(*w) + (probe ? n : 0));
        if (!w)
                return -ENOMEM;
        *w = (write_req){ .k = k, .counted = k->notified + n, .n = probe ? n : 0 };
        if (probe)
                memcpy(w->data, data, n);
        r = rd_client_stream_write_async(c, k->stream, data, n, on_written, w);
        if (r < 0) {
                free(w);
                return r;
        }
        k->unanswered += w->counted;
        k->notified = 0;
        k->writes++;
        k->probing = probe;
        held += n;
        return 0;
}

/* Keep `n` bytes here, at the head of the queue or its tail; stop reading meanwhile. */
static int keep(rd_client *c, conn *k, const void *data, size_t n, bool head)
{
        if (k->len + n > k->cap) {
                size_t cap = k->cap ? k->cap : HIGH_WATER;
                while (cap < k->len + n)
                        cap *= 2;
                char *p = realloc(k->pending, cap);
                if (!p)
                        return -ENOMEM;
                k->pending = p;
                k->cap = cap;
        }
        if (head) {
                memmove(k->pending + n, k->pending, k->len);
                memcpy(k->pending, data, n);
        } else
                memcpy(k->pending + k->len, data, n);
        k->len += n;
        if (k->paused)
                return 0;
        k->paused = true;
        return rd_client_stream_pause(c, k->stream);
}

/* Write what waits, as far as it fits; then resume reading, or shut down after EOF. */
static int flush(rd_client *c, conn *k)
{
        int r;

        if (k->closed)
                return 0;
        if (k->len > 0) {
                size_t n = room(k, k->len);
                bool probe = n == 0 && k->writes == 0 && !k->blocked;

                if (probe)
                        n = k->len < HIGH_WATER ? k->len : HIGH_WATER;
                if (n == 0)
                        return 0; /* a reply or stream.drained comes */
                r = write_out(c, k, k->pending, n, probe);
                if (r < 0)
                        return r;
                memmove(k->pending, k->pending + n, k->len - n);
                k->len -= n;
                if (k->len > 0)
                        return 0;
        }
        if (k->paused) {
                r = rd_client_stream_resume(c, k->stream);
                if (r < 0)
                        return r;
                k->paused = false;
        }
        if (k->eof) {
                k->eof = false;
                return rd_client_stream_shutdown(c, k->stream);
        }
        return 0;
}

static void on_written(rd_client *c, int error, const rd_value *result, const char *message,
                       void *userdata)
{
        write_req *w = userdata;
        conn *k = w->k;

        /* The reply accounts for this write and the notified ones before it. */
        held -= w->counted;
        k->unanswered -= w->counted;
        k->writes--;
        k->probing = false;
        if (error == 0)
                set_buffered(k, (size_t)rd_value_get_uint(result, "buffered", 0));
        else if (error == -EAGAIN && w->n > 0 && !k->closed) {
                /* Refused, and nothing went behind it: it goes first once drained. */
                k->blocked = true;
                set_buffered(k, HIGH_WATER); /* unknown until the next reply */
                if (keep(c, k, w->data, w->n, true) < 0)
                        fprintf(stderr, "echo: cannot keep a refused write\n");
        } else if (!k->closed)
                fprintf(stderr, "echo: write failed: %s\n", message ? message : strerror(-error));
        free(w);
        if (flush(c, k) < 0)
                fprintf(stderr, "echo: cannot write\n");
        maybe_free(k);
}

static int on_stream(rd_client *c, const rd_client_event *ev, void *userdata)
{
        conn *k = userdata;
        const void *data;
        size_t n;
        int r;

        if (strcmp(ev->name, "stream.data") == 0) {
                r = rd_client_event_data(ev, &data, &n);
                if (r < 0)
                        return r;
                if (k->len == 0 && room(k, n) == n)
                        return write_out(c, k, data, n, false);
                r = keep(c, k, data, n, false);
                /* With a request in flight its reply flushes; else nothing would. */
                return r < 0 || k->writes > 0 ? r : flush(c, k);
        }
        if (strcmp(ev->name, "stream.drained") == 0) {
                /* The buffer is down, or the session has room: the next write probes. */
                k->blocked = false;
                return flush(c, k);
        }
        if (strcmp(ev->name, "stream.eof") == 0) {
                /* Echo what is left, then half-close: the peer sees our EOF after its data. */
                k->eof = true;
                return k->len == 0 ? flush(c, k) : 0;
        }
        if (strcmp(ev->name, "stream.closed") == 0) {
                /* The handle is gone, and the library forgets this handler. */
                k->closed = true;
                maybe_free(k);
        }
        return 0;
}

/* A notified write that failed all the same comes back as session.error. */
static int on_other(rd_client *c, const rd_client_event *ev, void *userdata)
{
        const char *message = "";
        size_t n = 0;

        (void)c;
        (void)userdata;
        if (strcmp(ev->name, "session.error") == 0) {
                (void)rd_value_str(rd_value_get(ev->payload, "message"), &message, &n);
                fprintf(stderr, "echo: %.*s\n", (int)n, message);
        }
        return 0;
}

static int on_listener(rd_client *c, const rd_client_event *ev, void *userdata)
{
        uint64_t stream = rd_client_event_stream(ev);
        conn *k;
        int r;

        if (stream == 0)
                return 0;
        k = calloc(1, sizeof(*k));
        if (!k) {
                (void)rd_client_stream_abort(c, stream);
                return -ENOMEM;
        }
        k->stream = stream;
        /* Set before returning: the stream's first stream.data is dispatched after this. */
        r = rd_client_on(c, stream, on_stream, k);
        if (r < 0) {
                free(k);
                (void)rd_client_stream_abort(c, stream);
        }
        return r;
}

int main(int argc, char **argv)
{
        unsigned long port = 8000;
        uint64_t listener;
        uint16_t bound;
        rd_client *c;
        char *end;
        int r;

        if (argc > 2 || (argc == 2 && (port = strtoul(argv[1], &end, 10), *end || port > 65535))) {
                fprintf(stderr, "Usage: %s [PORT]\n", argv[0]);
                return 2;
        }

        r = rd_client_new(NULL, NULL, &c);
        if (r < 0) {
                fprintf(stderr, "Cannot connect to reactord: %s\n", strerror(-r));
                return 1;
        }
        r = rd_client_tcp_listen(c, NULL, (uint16_t)port, NULL, &listener, &bound);
        if (r < 0) {
                fprintf(stderr, "Cannot listen on port %lu: %s\n", port, strerror(-r));
                rd_client_free(c);
                return 1;
        }
        rd_client_on(c, listener, on_listener, NULL);
        rd_client_on_any(c, on_other, NULL);
        printf("Echo server listening on port %u.\n", (unsigned)bound);
        fflush(stdout);

        r = rd_client_run(c);
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
