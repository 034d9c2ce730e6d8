/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "basic/endpoint.h"
#include "basic/log.h"
#include "curve.h"
#include "version.h"

#define LEASE_MIN  (50 * USEC_PER_MSEC)
#define LEASE_MAX  (3600 * USEC_PER_SEC)
#define WINDOW_MIN UINT64_C(4096)
#define WINDOW_MAX (UINT64_C(64) * 1024 * 1024)

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
        return v < lo ? lo : v > hi ? hi : v;
}

int rd_api_session_hello(rd_call *c)
{
        rd_broker *b = c->broker;
        const rd_arg *protocol = &c->args[0], *name = &c->args[1], *lease = &c->args[2],
                     *window = &c->args[3];
        rd_session *s;
        int k;

        if (c->session)
                return rd_call_fail(c, -EALREADY, "this connection has session %" PRIu64 " already",
                                    c->session->id);
        if (protocol->u != RD_PROTOCOL_VERSION)
                return rd_call_fail(c, -EPROTO,
                                    "protocol %" PRIu64 " is not spoken; reactord speaks %d",
                                    protocol->u, RD_PROTOCOL_VERSION);
        if (rd_hashmap_size(&b->sessions) >= b->limits.max_sessions)
                return rd_call_fail(c, -EUSERS, "reactord has %zu sessions, its limit",
                                    b->limits.max_sessions);
        if (name->present && name->s.n > 255)
                return rd_call_fail(c, -EINVAL, "param 'name': longer than 255 bytes");
        /* The handshake admitted the key; a reload may have revoked it since. */
        if (b->curve && !rd_curve_allows(b->curve, b->frame_user))
                return rd_call_fail(c, -EPERM, "the key of '%s' is no longer allowed",
                                    b->frame_user ? b->frame_user : "this client");

        k = rd_session_new(
                b, c->rid.p, c->rid.n, name->present ? name->s.p : NULL,
                name->present ? name->s.n : 0,
                clamp(lease->present ? lease->usec : b->limits.default_lease, LEASE_MIN, LEASE_MAX),
                clamp(window->present ? window->u : b->limits.default_window, WINDOW_MIN,
                      WINDOW_MAX),
                &s);
        if (k < 0)
                return rd_call_fail(c, k, "cannot make a session");
        c->session = s;
        if ((b->frame_user && !(s->user = strdup(b->frame_user))) ||
            (c->peer && !rd_endpoint_ipc_path(b->endpoint) && !(s->address = strdup(c->peer)))) {
                rd__broker_kill_session(b, s, NULL);
                c->session = NULL;
                return rd_call_fail(c, -ENOMEM, "cannot make a session");
        }
        /* Only an ipc peer has credentials: a tcp Peer-Address is an IP address, and an IPv6
         * one must never be read as ":uid:gid:pid". */
        if (c->peer && rd_endpoint_ipc_path(b->endpoint)) {
                /* "host:uid:gid:pid": the last three fields. */
                unsigned long uid, gid, pid;
                const char *q = c->peer + strlen(c->peer);
                int colons = 0;
                while (q > c->peer && colons < 3)
                        if (*--q == ':')
                                colons++;
                if (colons == 3 && sscanf(q, ":%lu:%lu:%lu", &uid, &gid, &pid) == 3) {
                        s->has_cred = true;
                        s->peer_uid = (uid_t)uid;
                        s->peer_gid = (gid_t)gid;
                        s->peer_pid = (pid_t)pid;
                }
        }
        /*
         * A root reactord serves many users: the session acts for its peer
         * alone (root, or a user whose identity is unknown to nobody's
         * benefit). A user instance serves its own user and stays as it is.
         */
        if (geteuid() == 0)
                rd_owner_set_identity(s->owner, s->peer_uid, rd_session_peer_is_root(s));
        /* Logged once the peer is known: the record carries its pid. */
        log_session(RD_LOG_INFO, s,
                    "session %" PRIu64 " (%s) opened: lease %.3f s, window %" PRIu64 " bytes",
                    s->id, s->name ? s->name : "unnamed", (double)s->lease / 1e6, s->window);

        rd_call_reply(c, 7);
        rd_write_kv_uint(c->w, "session", s->id);
        rd_write_kv_str(c->w, "server", "reactord");
        rd_write_kv_str(c->w, "version", RD_VERSION);
        rd_write_kv_uint(c->w, "protocol", RD_PROTOCOL_VERSION);
        rd_write_kv_duration(c->w, "lease", s->lease);
        rd_write_kv_uint(c->w, "window", s->window);
        rd_write_str(c->w, "limits");
        rd_write_map(c->w, 6);
        rd_write_kv_uint(c->w, "max_frame", b->limits.max_frame);
        rd_write_kv_uint(c->w, "max_handles", b->limits.max_handles);
        rd_write_kv_uint(c->w, "max_sessions", b->limits.max_sessions);
        rd_write_kv_uint(c->w, "max_batch", b->limits.max_batch);
        rd_write_kv_uint(c->w, "max_processes", b->limits.max_processes);
        rd_write_kv_uint(c->w, "max_write_buffer", b->limits.max_write_buffer);
        return 0;
}

int rd_api_session_ack(rd_call *c)
{
        rd_session_ack(c->session, c->args[0].u);
        return 0;
}

int rd_api_session_bye(rd_call *c)
{
        /* The reply goes out before the session is reaped: ending is deferred. */
        rd__broker_kill_session(c->broker, c->session, NULL);
        return 0;
}
