/* SPDX-License-Identifier: MIT */
/*
 * The echo server: every byte a client sends comes back to it. reactord owns
 * the listening socket and the connections; the echoing runs here, in the
 * handlers. A peer that sends faster than it reads fills the stream's write
 * buffer: the write is refused with EAGAIN, and the stream is paused until
 * stream.drained (Twisted's producer/consumer).
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

/* Write at most this much per stream.write: a write must fit in one frame. */
#define CHUNK (256 * 1024)

/* One accepted connection. */
typedef struct conn {
        uint64_t stream; /* its handle */
        char *pending;   /* bytes refused with EAGAIN, written once drained */
        size_t off;      /* pending[off..len) is still to write */
        size_t len;
        size_t cap;
        bool paused; /* stream.pause is in force */
        bool eof;    /* the peer sent everything: shut down once pending is written */
} conn;

static int keep(conn *k, const void *data, size_t n)
{
        if (k->off > 0) {
                memmove(k->pending, k->pending + k->off, k->len - k->off);
                k->len -= k->off;
                k->off = 0;
        }
        if (k->len + n > k->cap) {
                size_t cap = k->cap ? k->cap : CHUNK;
                while (cap < k->len + n)
                        cap *= 2;
                char *p = realloc(k->pending, cap);
                if (!p)
                        return -ENOMEM;
                k->pending = p;
                k->cap = cap;
        }
        memcpy(k->pending + k->len, data, n);
        k->len += n;
        return 0;
}

/* Write what is pending. Returns 0 when all of it is written, -EAGAIN when the stream is full. */
static int flush(rd_client *c, conn *k)
{
        while (k->off < k->len) {
                size_t n = k->len - k->off < CHUNK ? k->len - k->off : CHUNK;
                int r = rd_client_stream_write(c, k->stream, k->pending + k->off, n);
                if (r < 0)
                        return r;
                k->off += n;
        }
        k->off = k->len = 0;
        return 0;
}

/* Echo `data`: straight away, or behind what waits for stream.drained. */
static int echo(rd_client *c, conn *k, const void *data, size_t n)
{
        int r;

        if (k->len == 0) {
                r = rd_client_stream_write(c, k->stream, data, n);
                if (r != -EAGAIN)
                        return r < 0 ? r : 0;
        }
        r = keep(k, data, n);
        if (r < 0)
                return r;
        if (!k->paused) {
                /* Stop reading until the peer has read some of its echo. */
                r = rd_client_stream_pause(c, k->stream);
                if (r < 0)
                        return r;
                k->paused = true;
        }
        return 0;
}

static int on_stream(rd_client *c, const rd_client_event *ev, void *userdata)
{
        conn *k = userdata;
        const void *data;
        size_t n;
        int r;

        if (strcmp(ev->name, "stream.data") == 0) {
                r = rd_client_event_data(ev, &data, &n);
                return r < 0 ? r : echo(c, k, data, n);
        }
        if (strcmp(ev->name, "stream.drained") == 0) {
                r = flush(c, k);
                if (r == -EAGAIN)
                        return 0; /* another stream.drained will come */
                if (r < 0)
                        return r;
                if (k->paused) {
                        r = rd_client_stream_resume(c, k->stream);
                        if (r < 0)
                                return r;
                        k->paused = false;
                }
                return k->eof ? rd_client_stream_shutdown(c, k->stream) : 0;
        }
        if (strcmp(ev->name, "stream.eof") == 0) {
                k->eof = true;
                return k->len == 0 ? rd_client_stream_shutdown(c, k->stream) : 0;
        }
        if (strcmp(ev->name, "stream.closed") == 0) {
                /* The handle is gone, and the library forgets this handler. */
                free(k->pending);
                free(k);
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
        printf("Echo server listening on port %u.\n", (unsigned)bound);
        fflush(stdout);

        r = rd_client_run(c);
        rd_client_free(c);
        return r < 0 ? 1 : 0;
}
