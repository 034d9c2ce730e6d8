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
 * Writes are pipelined: the handler does not wait for each reply. To stay
 * clear of EAGAIN (a refused write in a pipeline would reorder the stream), a
 * write is sent only while the bytes not yet answered, plus the buffer size
 * reactord last reported, plus the new bytes stay within the stream's
 * high-water mark; otherwise the bytes wait here and reading pauses.
 */
#define HIGH_WATER (256 * 1024) /* reactord's default high-water mark */

/* One accepted connection. */
typedef struct conn {
        uint64_t stream;   /* its handle */
        char *pending;     /* bytes waiting for room in the stream's buffer */
        size_t len, cap;   /* of pending */
        size_t unanswered; /* bytes written whose reply has not come */
        size_t buffered;   /* reactord's buffer, as the last reply said */
        unsigned writes;   /* writes whose reply has not come */
        bool paused;       /* stream.pause is in force */
        bool eof;          /* the peer sent everything: shut down once all is written */
        bool closed;       /* stream.closed came: free once no reply is outstanding */
} conn;

typedef struct write_req {
        conn *k;  /* the connection */
        size_t n; /* bytes written */
} write_req;

static void maybe_free(conn *k)
{
        if (k->closed && k->writes == 0) {
                free(k->pending);
                free(k);
        }
}

static bool fits(const conn *k, size_t n)
{
        return k->unanswered + k->buffered + n <= HIGH_WATER;
}

static void on_written(rd_client *c, int error, const rd_value *result, const char *message,
                       void *userdata);

static int write_async(rd_client *c, conn *k, const void *data, size_t n)
{
        write_req *w = malloc(sizeof(*w));
        int r;

        if (!w)
                return -ENOMEM;
        *w = (write_req){ k, n };
        r = rd_client_stream_write_async(c, k->stream, data, n, on_written, w);
        if (r < 0) {
                free(w);
                return r;
        }
        k->unanswered += n;
        k->writes++;
        return 0;
}

/* Write what waits, as far as it fits; then resume reading, or shut down after EOF. */
static int flush(rd_client *c, conn *k)
{
        int r;

        if (k->closed)
                return 0;
        if (k->len > 0) {
                size_t room = HIGH_WATER - k->unanswered - k->buffered;
                size_t n = k->len < room ? k->len : room;
                if (n == 0 || k->unanswered + k->buffered > HIGH_WATER)
                        return 0; /* a later reply makes room */
                r = write_async(c, k, k->pending, n);
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

        k->unanswered -= w->n;
        k->writes--;
        free(w);
        if (error == 0)
                k->buffered = (size_t)rd_value_get_uint(result, "buffered", 0);
        else if (!k->closed)
                fprintf(stderr, "echo: write failed: %s\n", message ? message : strerror(-error));
        if (flush(c, k) < 0)
                fprintf(stderr, "echo: cannot write\n");
        maybe_free(k);
}

/* Keep bytes that do not fit now, and stop reading until they are written. */
static int keep(rd_client *c, conn *k, const void *data, size_t n)
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
        memcpy(k->pending + k->len, data, n);
        k->len += n;
        if (k->paused)
                return 0;
        k->paused = true;
        return rd_client_stream_pause(c, k->stream);
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
                if (k->len == 0 && fits(k, n))
                        return write_async(c, k, data, n);
                return keep(c, k, data, n);
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
