/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "version.h"

int rd_api_reactor_ping(rd_call *c)
{
        return 0;
}

int rd_api_reactor_info(rd_call *c)
{
        rd_broker *b = c->broker;
        uint64_t now = 0;

        (void)sd_event_now(b->event, CLOCK_MONOTONIC, &now);

        rd_call_reply(c, 8);
        rd_write_kv_str(c->w, "server", "reactord");
        rd_write_kv_str(c->w, "version", RD_VERSION);
        rd_write_kv_uint(c->w, "protocol", RD_PROTOCOL_VERSION);
        rd_write_kv_uint(c->w, "pid", (uint64_t)getpid());
        rd_write_kv_duration(c->w, "uptime", now - b->started);
        rd_write_kv_str(c->w, "endpoint", b->endpoint);
        rd_write_kv_uint(c->w, "sessions", rd_hashmap_size(&b->sessions));
        rd_write_str(c->w, "resources");
        rd_write_map(c->w, _RD_HANDLE_KIND_MAX);
        for (int k = 0; k < _RD_HANDLE_KIND_MAX; k++)
                rd_write_kv_uint(c->w, rd_handle_kind_name(k), rd_reactor_count(b->reactor, k));
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
