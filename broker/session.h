/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_session: one client connection's state: identity, lease, credit, the
 * resources it owns (through an rd_owner) and its outgoing event batch.
 */

#include <sys/types.h>

#include "basic/log.h"
#include "broker.h"

/*
 * peer_uid and peer_gid of a session whose peer's credentials are unknown: a
 * tcp:// client (CURVE or not) has none. Such a peer is never root: checks
 * for a privileged caller use rd_session_peer_is_root(), never peer_uid == 0
 * alone.
 */
#define RD_UID_UNKNOWN ((uid_t)-1)
#define RD_GID_UNKNOWN ((gid_t)-1)

typedef struct rd_frame rd_frame;

struct rd_session {
        rd_broker *broker;             /* back pointer */
        uint64_t id;                   /* session id, never reused */
        uint8_t rid[255];              /* ZeroMQ routing id of the connection */
        size_t rid_len;                /* bytes of rid */
        uint64_t rid_hash;             /* rd_hash_bytes(rid) */
        char *name;                    /* from hello; may be NULL */
        bool has_cred;                 /* the peer's credentials below are known (ipc) */
        uid_t peer_uid;                /* the client's user, or RD_UID_UNKNOWN */
        gid_t peer_gid;                /* the client's group, or RD_GID_UNKNOWN */
        pid_t peer_pid;                /* the client's process, or 0 when unknown */
        char *user;                    /* CURVE: the name of the client's key (ZAP User-Id) */
        char *address;                 /* tcp: the client's IP address; NULL for ipc */
        rd_owner *owner;               /* holds every resource of the session */
        uint64_t lease;                /* µs */
        uint64_t last_seen;            /* CLOCK_MONOTONIC µs of the last message */
        sd_event_source *lease_source; /* checks the lease */
        uint64_t window;               /* credit window, bytes */
        uint64_t inflight;             /* event bytes sent and not acked */
        rd_writer events;              /* the event batch being built */
        rd_frame *backlog;             /* frames ZeroMQ refused, oldest first */
        rd_frame **backlog_tail;       /* where the next refused frame goes */
        size_t backlog_bytes;          /* bytes in backlog */
        rd_list dirty_link;            /* in broker->dirty */
        rd_list dead_link;             /* in broker->dead */
        const char *end_reason;        /* why it is being ended (static string) */
};

/* Make the session for a hello from routing id `rid`. */
int rd_session_new(rd_broker *b, const void *rid, size_t rid_len, const char *name, size_t name_len,
                   uint64_t lease, uint64_t window, rd_session **ret);
/*
 * Release the session's resources and free it. If `reason` is non-NULL the
 * client is told with a session.closed event first. Accepts NULL.
 */
rd_session *rd_session_free(rd_session *s, const char *reason);

/* A message arrived: renew the lease. */
void rd_session_touch(rd_session *s, uint64_t now);

/* Credit returned by session.ack. */
void rd_session_ack(rd_session *s, uint64_t bytes);

/* Whether the peer is known to be root: only an ipc client whose credentials say uid 0. */
static inline bool rd_session_peer_is_root(const rd_session *s)
{
        return s->has_cred && s->peer_uid == 0;
}

/* Is the session allowed to receive events now? */
static inline bool rd_session_has_credit(const rd_session *s)
{
        return s->inflight < s->window;
}

/*
 * Append a resource's event to the batch, spending credit. Returns 0, or
 * -EAGAIN when the session is out of credit (nothing was queued).
 */
int rd_session_queue_event(rd_session *s, const rd_event *ev);
/*
 * Append a session.error event {code, message, msgid?, method?}. It is sent
 * even without credit (it is rare and bounded by the client's own input).
 */
void rd_session_queue_error(rd_session *s, int err, const char *message, const uint64_t *msgid,
                            const char *method);

/* Send the event batch and any backlog. Returns 0 or -EHOSTUNREACH when the peer is gone. */
int rd_session_flush(rd_session *s);
/* Send a frame to the client, queueing it if ZeroMQ refuses it for now. */
int rd_session_send(rd_session *s, const void *data, size_t size);

/*
 * Add the session's journal fields to `f`: REACTORD_SESSION (its id), and
 * REACTORD_CLIENT (the name from hello) and REACTORD_CLIENT_PID when known.
 * Accepts NULL (adds nothing).
 */
void rd_session_log_fields(const rd_session *s, rd_log_fields *f);

/* Log about session `s` (may be NULL) with its fields; returns 0. */
#define log_session(level, s, ...)                                                                 \
        (rd_log_enabled(level) ? rd__session_log((s), (level), RD_LOG_SITE, __VA_ARGS__) : 0)
int rd__session_log(const rd_session *s, rd_log_level level, const char *file, int line,
                    const char *func, const char *fmt, ...) _printf_(6, 7);

/* Routing-id match function for the broker's session map. */
bool rd_session_match_rid(const void *value, const void *key);
