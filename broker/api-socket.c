/* SPDX-License-Identifier: MIT */
/* Socket methods: listeners, streams and datagrams (PROTOCOL.md §4). */
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "activation.h"
#include "api.h"
#include "reactor/listener.h"
#include "reactor/stream.h"
#include "reactor/udp.h"

/* A str param as a C string; -EINVAL when it holds a NUL or does not fit. */
static int cstr(rd_call *c, const rd_arg *a, const char *name, char *buf, size_t size)
{
        if (a->s.n >= size || memchr(a->s.p, '\0', a->s.n))
                return rd_call_fail(c, -EINVAL,
                                    "param '%s': must be shorter than %zu bytes, without NUL", name,
                                    size);
        memcpy(buf, a->s.p, a->s.n);
        buf[a->s.n] = '\0';
        return 0;
}

static int port_of(rd_call *c, const rd_arg *a, uint16_t *port)
{
        if (a->u > 65535)
                return rd_call_fail(c, -EINVAL, "param 'port': must be at most 65535");
        *port = (uint16_t)a->u;
        return 0;
}

/*
 * Binding a port below 1024 (0 picks a free, higher one) is for root clients
 * only, judged by the peer credentials of the session's connection; a client
 * whose credentials are not known (not on an ipc endpoint) counts as
 * unprivileged. reactord itself may well run as root: it must not lend that
 * to a client that is not.
 */
static int check_port_privilege(rd_call *c, uint64_t port, const char *param)
{
        if (port == 0 || port >= 1024 || rd_session_peer_is_root(c->session))
                return 0;
        return rd_call_fail(c, -EPERM,
                            "param '%s': port %" PRIu64 " is below 1024, for root clients only",
                            param, port);
}

/* {host?, port} -> a bindable address; host defaults to "::" (IPv6 and IPv4). */
static int ip_address(rd_call *c, const rd_arg *host, const rd_arg *port, rd_address *ret)
{
        char h[64] = "::";
        uint16_t p = 0;
        int k;

        if ((k = port_of(c, port, &p)) < 0)
                return k;
        if (host->present && (k = cstr(c, host, "host", h, sizeof(h))) < 0)
                return k;
        if (rd_address_from_ip(h, p, AF_UNSPEC, ret) < 0)
                return rd_call_fail(c, -EINVAL,
                                    "param 'host': '%s' is not a numeric IPv4 or IPv6 address", h);
        return 0;
}

/* {path | abstract} -> a UNIX address. */
static int unix_address(rd_call *c, const rd_arg *path, const rd_arg *abstract, rd_address *ret)
{
        const rd_arg *a = path->present ? path : abstract;
        int k;

        if (path->present == abstract->present)
                return rd_call_fail(c, -EINVAL, "give exactly one of 'path' and 'abstract'");
        k = rd_address_from_unix(a->s.p, a->s.n, abstract->present, ret);
        if (k == -ENAMETOOLONG)
                return rd_call_fail(
                        c, k,
                        "param '%s': %zu bytes is longer than a UNIX socket name may be (107)",
                        path->present ? "path" : "abstract", a->s.n);
        if (k < 0)
                return rd_call_fail(c, k, "param '%s': must be non-empty, without NUL",
                                    path->present ? "path" : "abstract");
        return 0;
}

static int socket_error(rd_call *c, int err, const char *what)
{
        switch (err) {
        case -EADDRINUSE:
                return rd_call_fail(c, err, "%s: address already in use", what);
        case -EADDRNOTAVAIL:
                return rd_call_fail(c, err, "%s: not a local address", what);
        case -EACCES:
                return rd_call_fail(c, err, "%s: permission denied", what);
        case -EEXIST:
                return rd_call_fail(c, err, "%s: a listener of that name exists", what);
        case -EMFILE:
                return rd_api_handle_error(c, err, 0, "");
        default:
                return rd_call_fail(c, err, "%s: %s", what, strerror(-err));
        }
}

static void reply_bound(rd_call *c, uint64_t id, const rd_address *bound)
{
        rd_call_reply(c, 1 + rd_address_n_fields(bound));
        rd_write_kv_uint(c->w, "handle", id);
        rd_write_address_fields(c->w, bound);
}

/* ---- listeners ---- */

static int listen_common(rd_call *c, rd_listen *l, const rd_arg *backlog, const rd_arg *name)
{
        rd_address bound;
        uint64_t id;
        int k;

        if (backlog->present && (backlog->u == 0 || backlog->u > 65535))
                return rd_call_fail(c, -EINVAL, "param 'backlog': must be 1..65535");
        l->backlog = backlog->present ? (int)backlog->u : 128;
        if (name->present) {
                /* The reactor keeps names as C strings (found by fuzz-session). */
                if (name->s.n == 0 || name->s.n > 255 || memchr(name->s.p, '\0', name->s.n))
                        return rd_call_fail(c, -EINVAL,
                                            "param 'name': must be 1..255 bytes, without NUL");
                l->name = name->s.p;
                l->name_len = name->s.n;
        }
        k = rd_listener_open(c->broker->reactor, c->session->owner, l, &id, &bound);
        if (k < 0)
                return socket_error(c, k, "listen");
        reply_bound(c, id, &bound);
        return 0;
}

int rd_api_tcp_listen(rd_call *c)
{
        rd_listen l = { .mode = -1, .reuse_port = c->args[3].present && c->args[3].b };
        int k = ip_address(c, &c->args[0], &c->args[1], &l.addr);

        if (k >= 0)
                k = check_port_privilege(c, c->args[1].u, "port");
        return k < 0 ? k : listen_common(c, &l, &c->args[2], &c->args[4]);
}

int rd_api_unix_listen(rd_call *c)
{
        rd_listen l = { .mode = -1 };
        int k = unix_address(c, &c->args[0], &c->args[1], &l.addr);

        if (k < 0)
                return k;
        if (c->args[2].present) {
                if (c->args[2].u > 07777)
                        return rd_call_fail(c, -EINVAL, "param 'mode': must be at most 0o7777");
                l.mode = (int)c->args[2].u;
        }
        return listen_common(c, &l, &c->args[3], &c->args[4]);
}

int rd_api_listener_join(rd_call *c)
{
        rd_address bound;
        uint64_t id;
        int k;

        /* As at tcp.listen: the reactor keeps names as C strings. */
        if (memchr(c->args[0].s.p, '\0', c->args[0].s.n))
                return rd_call_fail(c, -EINVAL, "param 'name': must not hold NUL");
        k = rd_listener_join(c->broker->reactor, c->session->owner, c->args[0].s.p, c->args[0].s.n,
                             &id, &bound);
        if (k == -ENOENT)
                return rd_call_fail(c, k, "no listener named '%.*s'", (int)c->args[0].s.n,
                                    c->args[0].s.p);
        if (k < 0)
                return socket_error(c, k, "join");
        reply_bound(c, id, &bound);
        return 0;
}

/* ---- activated sockets ---- */

/* tcp.adopt, unix.adopt: serve a socket the service manager passed (PROTOCOL.md §4). */
static int adopt(rd_call *c, bool tcp)
{
        const rd_arg *name = &c->args[0], *shared = &c->args[1];
        rd_activated *s = rd_activation_find(c->broker->activation, name->s.p, name->s.n);
        rd_address bound;
        uint64_t id;
        int k;

        if (!s)
                return rd_call_fail(c, -ENOENT, "no activated socket named '%.*s'", (int)name->s.n,
                                    name->s.p);
        if (tcp ? s->family != AF_INET && s->family != AF_INET6 : s->family != AF_UNIX)
                return rd_call_fail(c, -EINVAL,
                                    "activated socket '%s' is of family %s; tcp.adopt takes inet "
                                    "and inet6 sockets, unix.adopt unix ones",
                                    s->name, rd_activated_family_name(s));
        if (s->type != SOCK_STREAM || !s->listening)
                return rd_call_fail(c, -EINVAL,
                                    "activated socket '%s' is not a listening stream socket (%s)",
                                    s->name, rd_activated_type_name(s));
        if (s->taken)
                return rd_call_fail(c, -EBUSY,
                                    "activated socket '%s' is served by another listener; it "
                                    "returns when that listener closes",
                                    s->name);
        k = rd_listener_adopt(c->broker->reactor, c->session->owner,
                              &(rd_listen_adopt){
                                      .fd = s->fd,
                                      .name = shared->present && shared->b ? s->name : NULL,
                                      .name_len = strlen(s->name),
                                      .on_close = rd_activated_release,
                                      .userdata = s,
                              },
                              &id, &bound);
        if (k < 0)
                return socket_error(c, k, tcp ? "tcp.adopt" : "unix.adopt");
        s->taken = true;
        reply_bound(c, id, &bound);
        return 0;
}

int rd_api_tcp_adopt(rd_call *c)
{
        return adopt(c, true);
}

int rd_api_unix_adopt(rd_call *c)
{
        return adopt(c, false);
}

/* ---- streams ---- */

static int connect_common(rd_call *c, const rd_stream_connect *args)
{
        uint64_t id;
        int k = rd_stream_connect_start(c->broker->reactor, c->session->owner, args, &id);

        if (k < 0)
                return socket_error(c, k, "connect");
        rd_call_reply(c, 1);
        rd_write_kv_uint(c->w, "handle", id);
        return 0;
}

int rd_api_tcp_connect(rd_call *c)
{
        const rd_arg *host = &c->args[0], *port = &c->args[1], *timeout = &c->args[2],
                     *bind = &c->args[3];
        rd_stream_connect args = { .timeout =
                                           timeout->present ? timeout->usec : 30 * USEC_PER_SEC };
        char h[256];
        rd_address bind_to;
        int k;

        if ((k = cstr(c, host, "host", h, sizeof(h))) < 0 || (k = port_of(c, port, &args.port)) < 0)
                return k;
        if (args.port == 0)
                return rd_call_fail(c, -EINVAL, "param 'port': must be 1..65535");
        args.host = h;
        if (bind->present) {
                const rd_value *bh = rd_value_get(bind->v, "host"),
                               *bp = rd_value_get(bind->v, "port");
                const char *p = "::";
                size_t n = 2;
                uint64_t port_num = 0;
                char hb[64];

                if ((bh && rd_value_str(bh, &p, &n) < 0) ||
                    (bp && rd_value_uint(bp, &port_num) < 0) || n >= sizeof(hb) || port_num > 65535)
                        return rd_call_fail(c, -EINVAL,
                                            "param 'bind': expected {host?: str, port?: uint}");
                if ((k = check_port_privilege(c, port_num, "bind")) < 0)
                        return k;
                memcpy(hb, p, n);
                hb[n] = '\0';
                if (rd_address_from_ip(hb, (uint16_t)port_num, AF_UNSPEC, &bind_to) < 0)
                        return rd_call_fail(c, -EINVAL,
                                            "param 'bind': '%s' is not a numeric address", hb);
                args.bind = &bind_to;
        }
        return connect_common(c, &args);
}

int rd_api_unix_connect(rd_call *c)
{
        rd_stream_connect args = { 0 };
        int k = unix_address(c, &c->args[0], &c->args[1], &args.unix_addr);

        return k < 0 ? k : connect_common(c, &args);
}

int rd_api_stream_write(rd_call *c)
{
        size_t buffered;
        int k = rd_stream_write(c->broker->reactor, c->session->owner, c->args[0].u, c->args[1].s.p,
                                c->args[1].s.n, &buffered);

        if (k == -EAGAIN)
                return rd_call_fail(
                        c, k, "write buffer is at its high-water mark; wait for stream.drained");
        if (k == -EDQUOT)
                return rd_call_fail(c, -EAGAIN,
                                    "the session's write buffers are at max_write_buffer; wait for "
                                    "stream.drained");
        if (k == -EMSGSIZE)
                return rd_call_fail(c, k,
                                    "a write of %zu bytes is larger than the session's "
                                    "max_write_buffer",
                                    c->args[1].s.n);
        if (k == -EPIPE)
                return rd_call_fail(c, k, "the stream is shut or closing for writing");
        if (k < 0)
                return rd_api_handle_error(c, k, c->args[0].u, "stream");
        rd_call_reply(c, 1);
        rd_write_kv_uint(c->w, "buffered", buffered);
        return 0;
}

#define STREAM_SIMPLE(fn, call)                                                                    \
        int fn(rd_call *c)                                                                         \
        {                                                                                          \
                rd_reactor *r = c->broker->reactor;                                                \
                rd_owner *o = c->session->owner;                                                   \
                uint64_t h = c->args[0].u;                                                         \
                int k = call;                                                                      \
                return k < 0 ? rd_api_handle_error(c, k, h, "stream") : 0;                         \
        }

STREAM_SIMPLE(rd_api_stream_shutdown, rd_stream_shutdown(r, o, h))
STREAM_SIMPLE(rd_api_stream_close, rd_stream_close(r, o, h))
STREAM_SIMPLE(rd_api_stream_abort, rd_stream_abort(r, o, h))
STREAM_SIMPLE(rd_api_stream_pause, rd_stream_pause(r, o, h, true))
STREAM_SIMPLE(rd_api_stream_resume, rd_stream_pause(r, o, h, false))

int rd_api_stream_set(rd_call *c)
{
        const rd_arg *nodelay = &c->args[1], *keepalive = &c->args[2], *high = &c->args[3],
                     *low = &c->args[4];
        rd_stream_settings set = {
                .nodelay = nodelay->present ? nodelay->b : -1,
                .keepalive = keepalive->present ? keepalive->b : -1,
                .high_water = high->present ? (size_t)high->u : 0,
                .low_water = low->present ? (size_t)low->u : SIZE_MAX,
        };
        size_t h, l;
        int k;

        if (high->present && high->u == 0)
                return rd_call_fail(c, -EINVAL, "param 'high_water': must be > 0");
        k = rd_stream_set(c->broker->reactor, c->session->owner, c->args[0].u, &set, &h, &l);
        if (k == -EINVAL)
                return rd_call_fail(c, k, "water marks must satisfy low_water <= high_water <= %d",
                                    RD_STREAM_WATER_MAX);
        if (k == -ENOTSUP)
                return rd_call_fail(c, k, "nodelay and keepalive apply to TCP streams only");
        if (k < 0)
                return rd_api_handle_error(c, k, c->args[0].u, "stream");
        rd_call_reply(c, 2);
        rd_write_kv_uint(c->w, "high_water", h);
        rd_write_kv_uint(c->w, "low_water", l);
        return 0;
}

/* ---- datagrams ---- */

int rd_api_udp_bind(rd_call *c)
{
        rd_udp_bind args = { .reuse_port = c->args[2].present && c->args[2].b,
                             .broadcast = c->args[3].present && c->args[3].b };
        rd_address bound;
        uint64_t id;
        int k = ip_address(c, &c->args[0], &c->args[1], &args.addr);

        if (k >= 0)
                k = check_port_privilege(c, c->args[1].u, "port");
        if (k < 0)
                return k;
        k = rd_udp_open(c->broker->reactor, c->session->owner, &args, &id, &bound);
        if (k < 0)
                return socket_error(c, k, "bind");
        reply_bound(c, id, &bound);
        return 0;
}

int rd_api_udp_send(rd_call *c)
{
        char h[64];
        uint16_t port = 0;
        int k;

        if ((k = cstr(c, &c->args[2], "host", h, sizeof(h))) < 0 ||
            (k = port_of(c, &c->args[3], &port)) < 0)
                return k;
        k = rd_udp_send(c->broker->reactor, c->session->owner, c->args[0].u, c->args[1].s.p,
                        c->args[1].s.n, h, port);
        if (k == -EINVAL)
                return rd_call_fail(c, k,
                                    "param 'host': '%s' is not a numeric IPv4 or IPv6 address", h);
        if (k == -EMSGSIZE)
                return rd_call_fail(c, k,
                                    "a datagram of %zu bytes is larger than the socket allows",
                                    c->args[1].s.n);
        if (k == -ENOENT || k == -EPERM || k == -EBADF)
                return rd_api_handle_error(c, k, c->args[0].u, "udp socket");
        return k < 0 ? rd_call_fail(c, k, "send: %s", strerror(-k)) : 0;
}

static int membership(rd_call *c, bool join)
{
        char g[64], ifname[32];
        int k;

        if ((k = cstr(c, &c->args[1], "group", g, sizeof(g))) < 0 ||
            (c->args[2].present &&
             (k = cstr(c, &c->args[2], "interface", ifname, sizeof(ifname))) < 0))
                return k;
        k = rd_udp_membership(c->broker->reactor, c->session->owner, c->args[0].u, g,
                              c->args[2].present ? ifname : NULL, join);
        if (k == -EINVAL)
                return rd_call_fail(c, k, "param 'group': '%s' is not a multicast address", g);
        if (k == -ENODEV)
                return rd_call_fail(c, k, "param 'interface': no such interface");
        if (k == -ENOENT || k == -EPERM || k == -EBADF)
                return rd_api_handle_error(c, k, c->args[0].u, "udp socket");
        return k < 0 ? rd_call_fail(c, k, "%s: %s", join ? "join" : "leave", strerror(-k)) : 0;
}

int rd_api_udp_join(rd_call *c)
{
        return membership(c, true);
}

int rd_api_udp_leave(rd_call *c)
{
        return membership(c, false);
}
