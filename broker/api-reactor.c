/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "activation.h"
#include "api.h"
#include "version.h"

int rd_api_reactor_ping(rd_call *c)
{
        return 0;
}

/* The caller as reactord sees it: who the peer is, as far as the transport tells. */
static void write_session(rd_writer *w, const rd_session *s)
{
        rd_write_map(w, 7);
        rd_write_kv_uint(w, "id", s->id);
        rd_write_kv_str(w, "name", s->name);
        rd_write_kv_str(w, "user", s->user);
        rd_write_kv_str(w, "address", s->address);
        rd_write_str(w, "uid");
        if (s->has_cred)
                rd_write_uint(w, s->peer_uid);
        else
                rd_write_nil(w);
        rd_write_str(w, "gid");
        if (s->has_cred)
                rd_write_uint(w, s->peer_gid);
        else
                rd_write_nil(w);
        rd_write_str(w, "pid");
        if (s->has_cred)
                rd_write_uint(w, (uint64_t)s->peer_pid);
        else
                rd_write_nil(w);
}

int rd_api_reactor_info(rd_call *c)
{
        rd_broker *b = c->broker;
        uint64_t now = 0;

        (void)sd_event_now(b->event, CLOCK_MONOTONIC, &now);

        rd_call_reply(c, 10);
        rd_write_kv_str(c->w, "server", "reactord");
        rd_write_kv_str(c->w, "version", RD_VERSION);
        rd_write_kv_uint(c->w, "protocol", RD_PROTOCOL_VERSION);
        rd_write_kv_uint(c->w, "pid", (uint64_t)getpid());
        rd_write_kv_duration(c->w, "uptime", now - b->started);
        rd_write_kv_str(c->w, "endpoint", b->endpoint);
        rd_write_kv_uint(c->w, "sessions", rd_hashmap_size(&b->sessions));
        rd_write_str(c->w, "session");
        write_session(c->w, c->session);
        rd_write_str(c->w, "resources");
        rd_write_map(c->w, _RD_HANDLE_KIND_MAX);
        for (int k = 0; k < _RD_HANDLE_KIND_MAX; k++)
                rd_write_kv_uint(c->w, rd_handle_kind_name(k), rd_reactor_count(b->reactor, k));
        rd_write_str(c->w, "activated");
        rd_activation_write(b->activation, c->w);
        return 0;
}

int rd_api_reactor_methods(rd_call *c)
{
        /* The catalogue is the whole result map. */
        rd_write_array(c->w, 4);
        rd_write_uint(c->w, 1);
        rd_write_uint(c->w, c->msgid);
        rd_write_nil(c->w);
        rd_dispatch_write_catalogue(c->w);
        c->replied = true;
        return 0;
}

int rd_api_reactor_resources(rd_call *c)
{
        rd_call_reply(c, 1);
        rd_write_str(c->w, "resources");
        rd_owner_write_resources(c->session->owner, c->w);
        return 0;
}

int rd_api_handle_error(rd_call *c, int err, uint64_t handle, const char *kind)
{
        switch (err) {
        case -ENOENT:
                return rd_call_fail(c, err, "no handle %" PRIu64, handle);
        case -EPERM:
                return rd_call_fail(c, err, "handle %" PRIu64 " belongs to another session",
                                    handle);
        case -EBADF:
                return rd_call_fail(c, -EINVAL, "handle %" PRIu64 " is not a %s", handle, kind);
        case -EMFILE:
                return rd_call_fail(c, err, "the session holds %zu handles, its limit",
                                    c->broker->limits.max_handles);
        default:
                return rd_call_fail(c, err, "handle %" PRIu64 ": %s", handle, strerror(-err));
        }
}

int rd_api_handle_close(rd_call *c)
{
        rd_handle *h;
        int k;

        k = rd_handle_lookup(c->broker->reactor, c->session->owner, c->args[0].u,
                             _RD_HANDLE_KIND_MAX, &h);
        if (k < 0)
                return rd_api_handle_error(c, k, c->args[0].u, "handle");
        rd_handle_close_gracefully(h);
        return 0;
}
