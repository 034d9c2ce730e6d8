/* SPDX-License-Identifier: MIT */
/*
 * Sockets over reactord: listeners, streams and datagram sockets. Each call
 * builds its params as rd_kv fields, makes one synchronous call and reads the
 * result; the event routing lives in client.c with every other event.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "proto/error.h"
#include "reactord/stream.h"
#include "reply.h"

/* Room for the optional fields of the largest params map (tcp.listen). */
#define MAX_FIELDS 6

/* Make the call; on success read the uint result fields `keys[i]` into `out[i]` (may be NULL). */
static int call_get(rd_client *c, const char *method, const rd_kv *kv, size_t n,
                    const char *const *keys, uint64_t **out, size_t n_out)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        const rd_value *res;
        uint64_t v;
        int r;

        r = rd_client_call(c, method, kv, n, n_out > 0 ? &reply : NULL);
        if (r < 0)
                return r;
        res = rd_reply_result(reply);
        for (size_t i = 0; i < n_out; i++) {
                if (rd_value_uint(rd_value_get(res, keys[i]), &v) < 0)
                        return -EPROTO;
                if (out[i])
                        *out[i] = v;
        }
        return 0;
}

/* A call whose result is {handle} (and, when `port` is non-NULL, {port}). */
static int call_handle(rd_client *c, const char *method, const rd_kv *kv, size_t n,
                       uint64_t *handle, uint16_t *port)
{
        static const char *const keys[] = { "handle", "port" };
        uint64_t h = 0, p = 0;
        int r;

        r = call_get(c, method, kv, n, keys, (uint64_t *[]){ &h, &p }, port ? 2 : 1);
        if (r < 0)
                return r;
        if (h == 0 || p > UINT16_MAX)
                return -EPROTO;
        if (handle)
                *handle = h;
        if (port)
                *port = (uint16_t)p;
        return 0;
}

/* A call on one handle with an empty result: stream.pause, handle.close, ... */
static int call_on_handle(rd_client *c, const char *method, uint64_t handle)
{
        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);

        return rd_client_callv(c, method, NULL, RD_UINT("handle", handle));
}

/* ---- listeners ---------------------------------------------------------------------------- */

int rd_client_tcp_listen(rd_client *c, const char *host, uint16_t port,
                         const rd_listen_options *opts, uint64_t *handle, uint16_t *bound_port)
{
        rd_kv kv[MAX_FIELDS];
        size_t n = 0;
        uint16_t p;
        int r;

        assert_return(c, -EINVAL);
        assert_return(!host || *host, -EINVAL);

        kv[n++] = RD_UINT("port", port);
        if (host)
                kv[n++] = RD_STR("host", host);
        if (opts && opts->backlog > 0)
                kv[n++] = RD_UINT("backlog", opts->backlog);
        if (opts && opts->reuse_port)
                kv[n++] = RD_BOOL("reuse_port", true);
        if (opts && opts->name)
                kv[n++] = RD_STR("name", opts->name);
        /* The bound port is always read: it checks the result's shape too. */
        r = call_handle(c, "tcp.listen", kv, n, handle, &p);
        if (r >= 0 && bound_port)
                *bound_port = p;
        return r;
}

int rd_client_unix_listen(rd_client *c, const char *path, bool abstract,
                          const rd_listen_options *opts, uint64_t *handle)
{
        rd_kv kv[MAX_FIELDS];
        size_t n = 0;

        assert_return(c, -EINVAL);
        assert_return(path && *path, -EINVAL);

        kv[n++] = RD_STR(abstract ? "abstract" : "path", path);
        if (opts && opts->backlog > 0)
                kv[n++] = RD_UINT("backlog", opts->backlog);
        if (opts && opts->name)
                kv[n++] = RD_STR("name", opts->name);
        if (opts && opts->mode > 0 && !abstract)
                kv[n++] = RD_UINT("mode", opts->mode);
        return call_handle(c, "unix.listen", kv, n, handle, NULL);
}

int rd_client_listener_join(rd_client *c, const char *name, uint64_t *handle)
{
        assert_return(c, -EINVAL);
        assert_return(name && *name, -EINVAL);

        return call_handle(c, "listener.join", RD_KVS(RD_STR("name", name)), 1, handle, NULL);
}

int rd_client_tcp_adopt(rd_client *c, const char *name, bool shared, uint64_t *handle,
                        uint16_t *bound_port)
{
        rd_kv kv[] = { RD_STR("name", name), RD_BOOL("shared", true) };

        assert_return(c, -EINVAL);
        assert_return(name && *name, -EINVAL);

        return call_handle(c, "tcp.adopt", kv, shared ? 2 : 1, handle, bound_port);
}

int rd_client_unix_adopt(rd_client *c, const char *name, bool shared, uint64_t *handle)
{
        rd_kv kv[] = { RD_STR("name", name), RD_BOOL("shared", true) };

        assert_return(c, -EINVAL);
        assert_return(name && *name, -EINVAL);

        return call_handle(c, "unix.adopt", kv, shared ? 2 : 1, handle, NULL);
}

int rd_client_listener_close(rd_client *c, uint64_t handle)
{
        int r = call_on_handle(c, "handle.close", handle);

        /* Accept events sent before the close still reach the handler; none come after. */
        if (r >= 0)
                (void)rd_client_on(c, handle, NULL, NULL);
        return r;
}

/* ---- streams ------------------------------------------------------------------------------ */

int rd_client_tcp_connect(rd_client *c, const char *host, uint16_t port, double timeout,
                          uint64_t *handle)
{
        rd_kv kv[3];
        size_t n = 0;

        assert_return(c, -EINVAL);
        assert_return(host && *host, -EINVAL);
        assert_return(timeout >= 0 && isfinite(timeout), -EINVAL);

        kv[n++] = RD_STR("host", host);
        kv[n++] = RD_UINT("port", port);
        if (timeout > 0)
                kv[n++] = RD_DOUBLE("timeout", timeout);
        return call_handle(c, "tcp.connect", kv, n, handle, NULL);
}

int rd_client_unix_connect(rd_client *c, const char *path, bool abstract, uint64_t *handle)
{
        assert_return(c, -EINVAL);
        assert_return(path && *path, -EINVAL);

        return call_handle(c, "unix.connect", RD_KVS(RD_STR(abstract ? "abstract" : "path", path)),
                           1, handle, NULL);
}

int rd_client_stream_write(rd_client *c, uint64_t handle, const void *data, size_t len)
{
        static const char *const keys[] = { "buffered" };
        uint64_t buffered = 0;
        int r;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(data || len == 0, -EINVAL);

        r = call_get(c, "stream.write",
                     RD_KVS(RD_UINT("handle", handle), RD_BIN("data", data, len)), 2, keys,
                     (uint64_t *[]){ &buffered }, 1);
        if (r < 0)
                return r;
        return buffered > INT_MAX ? INT_MAX : (int)buffered;
}

int rd_client_stream_write_async(rd_client *c, uint64_t handle, const void *data, size_t len,
                                 rd_reply_fn cb, void *userdata)
{
        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(data || len == 0, -EINVAL);

        return rd_client_call_async(c, "stream.write",
                                    RD_KVS(RD_UINT("handle", handle), RD_BIN("data", data, len)), 2,
                                    cb, userdata);
}

int rd_client_stream_shutdown(rd_client *c, uint64_t handle)
{
        return call_on_handle(c, "stream.shutdown", handle);
}

int rd_client_stream_close(rd_client *c, uint64_t handle)
{
        return call_on_handle(c, "stream.close", handle);
}

int rd_client_stream_abort(rd_client *c, uint64_t handle)
{
        return call_on_handle(c, "stream.abort", handle);
}

int rd_client_stream_pause(rd_client *c, uint64_t handle)
{
        return call_on_handle(c, "stream.pause", handle);
}

int rd_client_stream_resume(rd_client *c, uint64_t handle)
{
        return call_on_handle(c, "stream.resume", handle);
}

int rd_client_stream_set(rd_client *c, uint64_t handle, const rd_stream_options *opts,
                         uint64_t *high_water, uint64_t *low_water)
{
        static const char *const keys[] = { "high_water", "low_water" };
        rd_kv kv[5];
        size_t n = 0;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(!opts || (opts->nodelay >= -1 && opts->nodelay <= 1), -EINVAL);
        assert_return(!opts || (opts->keepalive >= -1 && opts->keepalive <= 1), -EINVAL);
        assert_return(!opts || opts->high_water >= -1, -EINVAL);
        assert_return(!opts || opts->low_water >= -1, -EINVAL);

        kv[n++] = RD_UINT("handle", handle);
        if (opts && opts->nodelay >= 0)
                kv[n++] = RD_BOOL("nodelay", opts->nodelay);
        if (opts && opts->keepalive >= 0)
                kv[n++] = RD_BOOL("keepalive", opts->keepalive);
        if (opts && opts->high_water >= 0)
                kv[n++] = RD_UINT("high_water", (uint64_t)opts->high_water);
        if (opts && opts->low_water >= 0)
                kv[n++] = RD_UINT("low_water", (uint64_t)opts->low_water);
        return call_get(c, "stream.set", kv, n, keys, (uint64_t *[]){ high_water, low_water }, 2);
}

/* ---- datagrams ---------------------------------------------------------------------------- */

int rd_client_udp_bind(rd_client *c, const char *host, uint16_t port, const rd_udp_options *opts,
                       uint64_t *handle, uint16_t *bound_port)
{
        rd_kv kv[4];
        size_t n = 0;
        uint16_t p;
        int r;

        assert_return(c, -EINVAL);
        assert_return(!host || *host, -EINVAL);

        kv[n++] = RD_UINT("port", port);
        if (host)
                kv[n++] = RD_STR("host", host);
        if (opts && opts->reuse_port)
                kv[n++] = RD_BOOL("reuse_port", true);
        if (opts && opts->broadcast)
                kv[n++] = RD_BOOL("broadcast", true);
        r = call_handle(c, "udp.bind", kv, n, handle, &p);
        if (r >= 0 && bound_port)
                *bound_port = p;
        return r;
}

int rd_client_udp_close(rd_client *c, uint64_t handle)
{
        int r = call_on_handle(c, "handle.close", handle);

        if (r >= 0)
                (void)rd_client_on(c, handle, NULL, NULL);
        return r;
}

int rd_client_udp_send(rd_client *c, uint64_t handle, const void *data, size_t len,
                       const char *host, uint16_t port)
{
        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(data || len == 0, -EINVAL);
        assert_return(host && *host, -EINVAL);

        return rd_client_callv(c, "udp.send", NULL, RD_UINT("handle", handle),
                               RD_BIN("data", data, len), RD_STR("host", host),
                               RD_UINT("port", port));
}

/* udp.join and udp.leave take the same params. */
static int udp_membership(rd_client *c, const char *method, uint64_t handle, const char *group,
                          const char *interface)
{
        rd_kv kv[3];
        size_t n = 0;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(group && *group, -EINVAL);
        assert_return(!interface || *interface, -EINVAL);

        kv[n++] = RD_UINT("handle", handle);
        kv[n++] = RD_STR("group", group);
        if (interface)
                kv[n++] = RD_STR("interface", interface);
        return rd_client_call(c, method, kv, n, NULL);
}

int rd_client_udp_join(rd_client *c, uint64_t handle, const char *group, const char *interface)
{
        return udp_membership(c, "udp.join", handle, group, interface);
}

int rd_client_udp_leave(rd_client *c, uint64_t handle, const char *group, const char *interface)
{
        return udp_membership(c, "udp.leave", handle, group, interface);
}

/* ---- event payloads ----------------------------------------------------------------------- */

int rd_client_event_data(const rd_client_event *ev, const void **data, size_t *len)
{
        assert_return(ev, -EINVAL);
        assert_return(data, -EINVAL);
        assert_return(len, -EINVAL);

        return rd_value_bin(rd_value_get(ev->payload, "data"), data, len);
}

uint64_t rd_client_event_stream(const rd_client_event *ev)
{
        if (!ev || !ev->name || strcmp(ev->name, "listener.accepted") != 0)
                return 0;
        return rd_value_get_uint(ev->payload, "stream", 0);
}

int rd_client_event_error(const rd_client_event *ev)
{
        const char *code;
        size_t n;

        if (!ev || rd_value_str(rd_value_get(ev->payload, "code"), &code, &n) < 0)
                return 0;
        return rd_error_from_name(code, n);
}

int rd_value_address(const rd_value *addr, char *buf, size_t size)
{
        const rd_value *v;
        const char *s;
        size_t n;
        uint64_t port;

        assert_return(rd_value_type_of(addr) == RD_VALUE_MAP, -EINVAL);
        assert_return(buf || size == 0, -EINVAL);

        if (rd_value_str(rd_value_get(addr, "host"), &s, &n) >= 0) {
                if (rd_value_uint(rd_value_get(addr, "port"), &port) < 0)
                        return -EINVAL;
                /* An IPv6 host goes in brackets, so that its port stays readable. */
                return snprintf(buf, size, memchr(s, ':', n) ? "[%.*s]:%" PRIu64 : "%.*s:%" PRIu64,
                                (int)n, s, port);
        }
        if (rd_value_str(rd_value_get(addr, "path"), &s, &n) >= 0)
                return snprintf(buf, size, "%.*s", (int)n, s);
        v = rd_value_get(addr, "abstract");
        if (rd_value_str(v, &s, &n) >= 0)
                return snprintf(buf, size, "@%.*s", (int)n, s);
        if (size > 0)
                buf[0] = '\0';
        return 0;
}
