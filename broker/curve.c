/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "basic/curve-key.h"
#include "basic/log.h"
#include "curve.h"

/* Where libzmq sends its authentication requests (RFC 27), in the sockets' own context. */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
/* The ZAP domain of the bus; there is one, it only labels the requests. */
#define ZAP_DOMAIN "reactord"
/* Requests handled per wake-up: a flood of handshakes cannot starve the loop. */
#define ZAP_BATCH 64
/* A CURVE request has 7 frames: version, id, domain, address, routing id, mechanism, key. */
#define ZAP_FRAMES 7
/* Refusals logged per second at most: a refused client reconnects, and so retries, at once. */
#define REFUSALS_PER_SEC 5
/* ZMTP carries a User-Id of at most 255 bytes. */
#define USER_MAX 255

typedef struct allowed {
        uint8_t key[32]; /* the client's public key */
        char *name;      /* its file name without ".pub": the User-Id (owned) */
} allowed;

struct rd_curve {
        sd_event *event;                           /* the loop (referenced) */
        void *handler;                             /* REP bound to ZAP_ENDPOINT */
        sd_event_source *io_source;                /* the handler's ZMQ_FD readable */
        sd_event_source *rx_source;                /* defer: requests left after a batch */
        char secret_key[RD_CURVE_KEY_Z85_LEN + 1]; /* reactord's, Z85 */
        char *allow_dir;                           /* where `allowed` was read (owned) */
        allowed *allowed;                          /* the keys that may connect */
        size_t n_allowed;                          /* entries of `allowed` */
        struct {
                uint64_t window_start; /* CLOCK_MONOTONIC µs when the current second began */
                unsigned in_window;    /* refusals logged in it */
                uint64_t suppressed;   /* refusals not logged since the last line */
        } refusals;                    /* rate limit for refusal log lines */
};

static void allowed_free(allowed *a, size_t n)
{
        for (size_t i = 0; i < n; i++)
                free(a[i].name);
        free(a);
}

static int is_pub_file(const struct dirent *de)
{
        size_t n = strlen(de->d_name);
        return de->d_name[0] != '.' && n > 4 && strcmp(de->d_name + n - 4, ".pub") == 0;
}

/* Add the key of `dir`/`file` to a[*n]; a file that is not a usable key is logged and skipped. */
static int add_key_file(const char *dir, const char *file, allowed **a, size_t *n)
{
        _cleanup_free_ char *path = NULL, *name = NULL;
        size_t len = strlen(file) - 4;
        rd_curve_key key;
        uint8_t bin[32];
        allowed *grown;
        int k;

        if (asprintf(&path, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        if (len > USER_MAX) {
                log_warning("%s: a name longer than %d bytes; skipped", path, USER_MAX);
                return 0;
        }
        k = rd_curve_key_read(path, &key);
        if (k == -ENOMEM)
                return k;
        if (k < 0 || !key.public_key[0]) {
                log_warning("%s: %s; skipped", path,
                            k == -EINVAL || k >= 0 ? "not a public key file (one Z85 key)"
                                                   : strerror(-k));
                return 0;
        }
        if (key.secret_key[0])
                log_warning("%s holds a secret key: only NAME.pub files belong in the allow "
                            "directory",
                            path);
        explicit_bzero(key.secret_key, sizeof(key.secret_key));
        if (!zmq_z85_decode(bin, key.public_key))
                return log_warning("%s: not a Z85 key; skipped", path), 0;
        for (size_t i = 0; i < *n; i++)
                if (memcmp((*a)[i].key, bin, sizeof(bin)) == 0) {
                        log_warning("%s: the same key as %s.pub; it connects as '%s'", path,
                                    (*a)[i].name, (*a)[i].name);
                        return 0;
                }
        name = strndup(file, len);
        if (!name)
                return -ENOMEM;
        grown = realloc(*a, (*n + 1) * sizeof(**a));
        if (!grown)
                return -ENOMEM;
        *a = grown;
        memcpy(grown[*n].key, bin, sizeof(bin));
        grown[(*n)++].name = TAKE_PTR(name);
        return 0;
}

/* Read every NAME.pub of `dir`, in name order. Returns 0 or -errno (logged). */
static int load_allowed(const char *dir, allowed **ret, size_t *ret_n)
{
        struct dirent **entries = NULL;
        allowed *a = NULL;
        struct stat st;
        size_t n = 0;
        int count, k = 0;

        count = scandir(dir, &entries, is_pub_file, alphasort);
        if (count < 0)
                return log_error_errno(-errno, "cannot read the allow directory %s: %s", dir,
                                       strerror(errno));
        if (stat(dir, &st) == 0 && (st.st_mode & 0022))
                log_warning("%s can be written by other users, who can then let any client in",
                            dir);
        for (int i = 0; i < count; i++) {
                if (k == 0)
                        k = add_key_file(dir, entries[i]->d_name, &a, &n);
                free(entries[i]);
        }
        free(entries);
        if (k < 0) {
                allowed_free(a, n);
                return log_error_errno(k, "cannot read the allow directory %s: %s", dir,
                                       strerror(-k));
        }
        if (n == 0)
                log_warning("%s holds no client key (NAME.pub): no client can connect until one "
                            "is added and reactord reloaded",
                            dir);
        *ret = a;
        *ret_n = n;
        return 0;
}

int rd_curve_reload(rd_curve *c, const char *allow_dir)
{
        allowed *a = NULL;
        char *dir;
        size_t n = 0;
        int k;

        assert_return(c && allow_dir, -EINVAL);

        dir = strdup(allow_dir);
        if (!dir)
                return -ENOMEM;
        k = load_allowed(dir, &a, &n);
        if (k < 0) {
                free(dir);
                return k;
        }
        allowed_free(c->allowed, c->n_allowed);
        free(c->allow_dir);
        c->allowed = a;
        c->n_allowed = n;
        c->allow_dir = dir;
        log_info("%zu client key%s allowed from %s", n, n == 1 ? "" : "s", dir);
        return (int)n;
}

bool rd_curve_allows(const rd_curve *c, const char *user)
{
        if (!c || !user)
                return false;
        for (size_t i = 0; i < c->n_allowed; i++)
                if (strcmp(c->allowed[i].name, user) == 0)
                        return true;
        return false;
}

static const allowed *find_key(const rd_curve *c, const void *key)
{
        for (size_t i = 0; i < c->n_allowed; i++)
                if (memcmp(c->allowed[i].key, key, 32) == 0)
                        return &c->allowed[i];
        return NULL;
}

/* ---- the ZAP handler ---- */

static uint64_t now_usec(rd_curve *c)
{
        uint64_t now = 0;
        (void)sd_event_now(c->event, CLOCK_MONOTONIC, &now);
        return now;
}

/* A refused handshake, logged at most REFUSALS_PER_SEC times a second. */
static void log_refusal(rd_curve *c, const char *address, const char *why)
{
        uint64_t now = now_usec(c);

        if (now - c->refusals.window_start >= USEC_PER_SEC) {
                if (c->refusals.suppressed)
                        log_warning("%" PRIu64 " more refused CURVE handshakes not logged",
                                    c->refusals.suppressed);
                c->refusals.window_start = now;
                c->refusals.in_window = 0;
                c->refusals.suppressed = 0;
        }
        if (++c->refusals.in_window > REFUSALS_PER_SEC) {
                c->refusals.suppressed++;
                return;
        }
        log_warning("refused a CURVE client from %s: %s", address, why);
}

static bool frame_is(zmq_msg_t *m, const char *s)
{
        size_t n = strlen(s);
        return zmq_msg_size(m) == n && memcmp(zmq_msg_data(m), s, n) == 0;
}

/* The reply: version, request id, status code and text, User-Id, no metadata. */
static void reply(rd_curve *c, zmq_msg_t *request_id, const char *status, const char *text,
                  const char *user)
{
        const int more = ZMQ_SNDMORE | ZMQ_DONTWAIT;

        if (zmq_send(c->handler, "1.0", 3, more) < 0 ||
            zmq_send(c->handler, zmq_msg_data(request_id), zmq_msg_size(request_id), more) < 0 ||
            zmq_send(c->handler, status, strlen(status), more) < 0 ||
            zmq_send(c->handler, text, strlen(text), more) < 0 ||
            zmq_send(c->handler, user, strlen(user), more) < 0 ||
            zmq_send(c->handler, "", 0, ZMQ_DONTWAIT) < 0)
                log_error("cannot answer an authentication request: %s", zmq_strerror(errno));
}

static void handle_request(rd_curve *c, zmq_msg_t *f, int n)
{
        char address[64], key[RD_CURVE_KEY_Z85_LEN + 1], why[512];
        const allowed *a;

        if (n < 2)
                return; /* no request id to answer with: libzmq never sends this */
        if (n != ZAP_FRAMES || !frame_is(&f[0], "1.0") || !frame_is(&f[5], "CURVE") ||
            zmq_msg_size(&f[6]) != 32) {
                log_error("malformed authentication request (%d frames); refused", n);
                reply(c, &f[1], "500", "malformed ZAP request", "");
                return;
        }
        snprintf(address, sizeof(address), "%.*s", (int)zmq_msg_size(&f[3]),
                 (const char *)zmq_msg_data(&f[3]));
        if (!address[0])
                snprintf(address, sizeof(address), "a local peer");
        if (!zmq_z85_encode(key, zmq_msg_data(&f[6]), 32))
                key[0] = '\0';

        a = find_key(c, zmq_msg_data(&f[6]));
        if (!a) {
                snprintf(why, sizeof(why), "its key %s is not in %s", key, c->allow_dir);
                log_refusal(c, address, why);
                reply(c, &f[1], "400", "key not allowed", "");
                return;
        }
        log_info("CURVE client %s from %s accepted", a->name, address);
        reply(c, &f[1], "200", "OK", a->name);
}

/* Make the defer source run again when requests are waiting: ZMQ_FD is edge-like. */
static void pump(rd_curve *c)
{
        int events = 0;
        size_t len = sizeof(events);

        if (zmq_getsockopt(c->handler, ZMQ_EVENTS, &events, &len) == 0 && (events & ZMQ_POLLIN))
                (void)sd_event_source_set_enabled(c->rx_source, SD_EVENT_ONESHOT);
}

static void serve(rd_curve *c)
{
        zmq_msg_t f[ZAP_FRAMES + 1];
        int batch;

        for (batch = 0; batch < ZAP_BATCH; batch++) {
                int n = 0, more = 1, k = 0;

                for (int i = 0; i <= ZAP_FRAMES; i++)
                        zmq_msg_init(&f[i]);
                /* Frames past ZAP_FRAMES all land in the spare last slot: they only count. */
                while (more) {
                        k = zmq_msg_recv(&f[n < ZAP_FRAMES ? n : ZAP_FRAMES], c->handler,
                                         ZMQ_DONTWAIT);
                        if (k < 0) {
                                k = -errno;
                                break;
                        }
                        more = zmq_msg_more(&f[n < ZAP_FRAMES ? n : ZAP_FRAMES]);
                        n++;
                }
                if (k >= 0)
                        handle_request(c, f, n);
                for (int i = 0; i <= ZAP_FRAMES; i++)
                        zmq_msg_close(&f[i]);
                if (k < 0) {
                        if (k != -EAGAIN && k != -EINTR)
                                log_error("receiving authentication requests: %s",
                                          zmq_strerror(-k));
                        break;
                }
        }
        if (batch == ZAP_BATCH)
                (void)sd_event_source_set_enabled(c->rx_source, SD_EVENT_ONESHOT);
        pump(c);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        serve(userdata);
        return 0;
}

static int on_rx(sd_event_source *s, void *userdata)
{
        serve(userdata);
        return 0;
}

/* ---- life ---- */

/* reactord's key pair from `path`: the secret key, checked against the public one. */
static int load_server_key(const char *path, char secret[RD_CURVE_KEY_Z85_LEN + 1])
{
        char derived[RD_CURVE_KEY_Z85_LEN + 1];
        rd_curve_key key;
        struct stat st;
        int k;

        k = rd_curve_key_read(path, &key);
        if (k == -EINVAL)
                return log_error_errno(k, "%s is not a CURVE key file", path);
        if (k < 0)
                return log_error_errno(k, "cannot read the server key %s: %s", path, strerror(-k));
        if (!key.secret_key[0])
                return log_error_errno(-EINVAL,
                                       "%s holds no secret key: give the NAME.key file that "
                                       "'reactorctl keygen' wrote, not NAME.pub",
                                       path);
        if (zmq_curve_public(derived, key.secret_key) < 0) {
                explicit_bzero(&key, sizeof(key));
                return log_error_errno(-EINVAL, "%s: the secret key is not a CURVE key", path);
        }
        if (key.public_key[0] && strcmp(derived, key.public_key) != 0) {
                explicit_bzero(&key, sizeof(key));
                return log_error_errno(-EINVAL, "%s: its public and secret keys do not match",
                                       path);
        }
        if (stat(path, &st) == 0 && (st.st_mode & 0077))
                log_warning("%s can be read by other users; it should be mode 0600", path);
        memcpy(secret, key.secret_key, RD_CURVE_KEY_Z85_LEN + 1);
        explicit_bzero(&key, sizeof(key));
        log_info("CURVE server key %s", derived);
        return 0;
}

int rd_curve_new(sd_event *event, void *zctx, const char *key_path, const char *allow_dir,
                 rd_curve **ret)
{
        rd_curve *c;
        size_t len;
        int fd, linger = 0, k;

        assert_return(event && zctx && key_path && allow_dir && ret, -EINVAL);

        if (!zmq_has("curve"))
                return log_error_errno(-EPROTONOSUPPORT,
                                       "this libzmq was built without CURVE security");
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);

        k = load_server_key(key_path, c->secret_key);
        if (k < 0)
                goto fail;
        k = rd_curve_reload(c, allow_dir);
        if (k < 0)
                goto fail;

        c->handler = zmq_socket(zctx, ZMQ_REP);
        if (!c->handler || zmq_setsockopt(c->handler, ZMQ_LINGER, &linger, sizeof(linger)) < 0 ||
            zmq_bind(c->handler, ZAP_ENDPOINT) < 0) {
                k = log_error_errno(-errno, "cannot serve %s: %s", ZAP_ENDPOINT,
                                    zmq_strerror(errno));
                goto fail;
        }
        len = sizeof(fd);
        if (zmq_getsockopt(c->handler, ZMQ_FD, &fd, &len) < 0) {
                k = -errno;
                goto fail;
        }
        if ((k = sd_event_add_io(event, &c->io_source, fd, EPOLLIN, on_io, c)) < 0 ||
            (k = sd_event_add_defer(event, &c->rx_source, on_rx, c)) < 0)
                goto fail;
        (void)sd_event_source_set_description(c->io_source, "zap");
        (void)sd_event_source_set_enabled(c->rx_source, SD_EVENT_OFF);
        pump(c);
        *ret = c;
        return 0;
fail:
        rd_curve_free(c);
        return k;
}

int rd_curve_apply(rd_curve *c, void *socket)
{
        int on = 1;

        assert_return(c && socket, -EINVAL);

        /* A Z85 key is given as its 40 characters and the NUL: 41 bytes. */
        if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &on, sizeof(on)) < 0 ||
            zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, c->secret_key, sizeof(c->secret_key)) < 0 ||
            zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) < 0)
                return -errno;
        return 0;
}

rd_curve *rd_curve_free(rd_curve *c)
{
        if (!c)
                return NULL;
        sd_event_source_disable_unref(c->io_source);
        sd_event_source_disable_unref(c->rx_source);
        if (c->handler)
                zmq_close(c->handler);
        explicit_bzero(c->secret_key, sizeof(c->secret_key));
        allowed_free(c->allowed, c->n_allowed);
        free(c->allow_dir);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}
