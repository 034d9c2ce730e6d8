/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "proto/error.h"
#include "session.h"

struct rd_frame {
        rd_frame *next; /* the next frame to send */
        size_t size;    /* bytes of data */
        char data[];    /* the frame */
};

void rd_session_log_fields(const rd_session *s, rd_log_fields *f)
{
        if (!s)
                return;
        rd_log_fields_add(f, "REACTORD_SESSION", "%" PRIu64, s->id);
        if (s->name)
                rd_log_fields_add(f, "REACTORD_CLIENT", "%s", s->name);
        if (s->has_cred)
                rd_log_fields_add(f, "REACTORD_CLIENT_PID", "%d", (int)s->peer_pid);
}

int rd__session_log(const rd_session *s, rd_log_level level, const char *file, int line,
                    const char *func, const char *fmt, ...)
{
        rd_log_fields f = RD_LOG_FIELDS_INIT;
        va_list ap;

        rd_session_log_fields(s, &f);
        va_start(ap, fmt);
        (void)rd_log_internalv(level, 0, file, line, func, &f, fmt, ap);
        va_end(ap);
        return 0;
}

bool rd_session_match_rid(const void *value, const void *key)
{
        const rd_session *s = value;
        const rd_rid *rid = key;
        return s->rid_len == rid->n && memcmp(s->rid, rid->p, rid->n) == 0;
}

static int on_lease(sd_event_source *source, uint64_t usec, void *userdata)
{
        rd_session *s = userdata;
        uint64_t now = usec;

        (void)sd_event_now(s->broker->event, CLOCK_MONOTONIC, &now);
        if (now - s->last_seen >= s->lease) {
                log_session(RD_LOG_INFO, s,
                            "session %" PRIu64 " (%s): lease expired, releasing its %zu resources",
                            s->id, s->name ? s->name : "unnamed", rd_owner_count(s->owner));
                rd__broker_kill_session(s->broker, s, "lease expired");
                return 0;
        }
        /* Seen since: look again when the lease measured from then runs out. */
        (void)sd_event_source_set_time(source, s->last_seen + s->lease);
        return sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
}

int rd_session_new(rd_broker *b, const void *rid, size_t rid_len, const char *name, size_t name_len,
                   uint64_t lease, uint64_t window, rd_session **ret)
{
        rd_session *s;
        uint64_t now = 0;
        int k;

        assert_return(rid_len > 0 && rid_len <= sizeof(s->rid), -EINVAL);

        s = calloc(1, sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->broker = b;
        s->id = b->next_session_id++;
        s->peer_uid = RD_UID_UNKNOWN; /* until hello finds credentials: never root by default */
        s->peer_gid = RD_GID_UNKNOWN;
        memcpy(s->rid, rid, rid_len);
        s->rid_len = rid_len;
        s->rid_hash = rd_hash_bytes(rid, rid_len);
        s->lease = lease;
        s->window = window;
        s->backlog_tail = &s->backlog;
        rd_list_init(&s->dirty_link);
        rd_list_init(&s->dead_link);
        if (name && !(s->name = strndup(name, name_len))) {
                k = -ENOMEM;
                goto fail;
        }
        k = rd_owner_new(b->reactor, s, b->limits.max_handles, &s->owner);
        if (k < 0)
                goto fail;
        /* The limits in effect now stay the session's: a reload changes them for new ones. */
        rd_owner_set_quota(s->owner, b->limits.max_processes, b->limits.max_write_buffer);

        (void)sd_event_now(b->event, CLOCK_MONOTONIC, &now);
        s->last_seen = now;
        /* Accuracy of an eighth of the lease lets the kernel batch wake-ups. */
        k = sd_event_add_time(b->event, &s->lease_source, CLOCK_MONOTONIC, now + lease, lease / 8,
                              on_lease, s);
        if (k < 0)
                goto fail;

        k = rd_hashmap_put(&b->sessions, s->rid_hash, rd_session_match_rid,
                           &(rd_rid){ s->rid, s->rid_len }, s);
        if (k < 0)
                goto fail;

        if (b->on_sessions_changed)
                b->on_sessions_changed(b);
        *ret = s;
        return 0;
fail:
        sd_event_source_disable_unref(s->lease_source);
        rd_owner_free(s->owner);
        free(s->name);
        free(s);
        return k;
}

static void drop_backlog(rd_session *s)
{
        while (s->backlog) {
                rd_frame *f = s->backlog;
                s->backlog = f->next;
                free(f);
        }
        s->backlog_tail = &s->backlog;
        s->backlog_bytes = 0;
}

rd_session *rd_session_free(rd_session *s, const char *reason)
{
        rd_broker *b;

        if (!s)
                return NULL;
        b = s->broker;

        if (reason && reason[0]) {
                /* Best effort: the client may be gone already. */
                rd_write_notification(&s->events, "session.closed", 1);
                rd_write_kv_str(&s->events, "reason", reason);
                (void)rd_session_flush(s);
        }
        if (rd_hashmap_get(&b->sessions, s->rid_hash, rd_session_match_rid,
                           &(rd_rid){ s->rid, s->rid_len }) == s)
                rd_hashmap_remove(&b->sessions, s->rid_hash, rd_session_match_rid,
                                  &(rd_rid){ s->rid, s->rid_len });
        if (rd_list_linked(&s->dirty_link))
                rd_list_remove(&s->dirty_link);
        if (rd_list_linked(&s->dead_link))
                rd_list_remove(&s->dead_link);

        log_session(RD_LOG_INFO, s, "session %" PRIu64 " (%s) closed%s%s", s->id,
                    s->name ? s->name : "unnamed", reason && reason[0] ? ": " : "",
                    reason ? reason : "");
        s->owner = rd_owner_free(s->owner);
        sd_event_source_disable_unref(s->lease_source);
        drop_backlog(s);
        rd_writer_done(&s->events);
        free(s->name);
        free(s->user);
        free(s->address);
        free(s);
        if (b->on_sessions_changed)
                b->on_sessions_changed(b);
        return NULL;
}

void rd_session_touch(rd_session *s, uint64_t now)
{
        /* The lease timer is not moved here (that would cost a syscall per message): on_lease()
         * re-checks. */
        s->last_seen = now;
}

void rd_session_ack(rd_session *s, uint64_t bytes)
{
        bool was_blocked = !rd_session_has_credit(s);

        s->inflight -= bytes < s->inflight ? bytes : s->inflight;
        if (was_blocked && rd_session_has_credit(s))
                rd_owner_resume(s->owner);
}

static void queued(rd_session *s)
{
        rd__broker_mark_dirty(s->broker, s);
        /* Close a big batch now rather than let it grow. */
        if (s->events.size >= s->broker->limits.max_batch && rd_session_flush(s) == -EHOSTUNREACH)
                rd__broker_kill_session(s->broker, s, NULL);
}

int rd_session_queue_event(rd_session *s, const rd_event *ev)
{
        size_t before = s->events.size;

        if (!rd_session_has_credit(s) && rd_event_needs_credit(ev->type))
                return -EAGAIN;
        rd_event_write(&s->events, ev);
        s->inflight += s->events.size - before;
        queued(s);
        return 0;
}

void rd_session_queue_error(rd_session *s, int err, const char *message, const uint64_t *msgid,
                            const char *method)
{
        size_t before = s->events.size;

        rd_write_notification(&s->events, "session.error", 2 + !!msgid + !!method);
        rd_write_kv_str(&s->events, "code", rd_error_name(err));
        rd_write_kv_str(&s->events, "message", message);
        if (msgid)
                rd_write_kv_uint(&s->events, "msgid", *msgid);
        if (method)
                rd_write_kv_str(&s->events, "method", method);
        s->inflight += s->events.size - before;
        queued(s);
}

static int backlog_push(rd_session *s, const void *data, size_t size)
{
        rd_frame *f;

        if (s->backlog_bytes + size > s->broker->limits.max_backlog) {
                log_session(RD_LOG_WARNING, s,
                            "session %" PRIu64
                            " (%s) does not read its replies: %zu bytes waiting, ending it",
                            s->id, s->name ? s->name : "unnamed", s->backlog_bytes);
                rd__broker_kill_session(s->broker, s, "overrun");
                return -ENOBUFS;
        }
        f = malloc(sizeof(*f) + size);
        if (!f)
                return -ENOMEM;
        f->next = NULL;
        f->size = size;
        memcpy(f->data, data, size);
        *s->backlog_tail = f;
        s->backlog_tail = &f->next;
        s->backlog_bytes += size;
        return 0;
}

/* Send what ZeroMQ refused before, oldest first. Returns 0 when none is left, -EAGAIN,
 * -EHOSTUNREACH. */
static int send_backlog(rd_session *s)
{
        while (s->backlog) {
                rd_frame *f = s->backlog;
                int k = rd__broker_send(s->broker, s->rid, s->rid_len, f->data, f->size);
                if (k < 0)
                        return k;
                s->backlog = f->next;
                if (!s->backlog)
                        s->backlog_tail = &s->backlog;
                s->backlog_bytes -= f->size;
                free(f);
        }
        return 0;
}

int rd_session_send(rd_session *s, const void *data, size_t size)
{
        int k = send_backlog(s);

        if (k == 0)
                k = rd__broker_send(s->broker, s->rid, s->rid_len, data, size);
        if (k == -EAGAIN) {
                k = backlog_push(s, data, size);
                if (k >= 0)
                        rd__broker_mark_dirty(s->broker, s);
        }
        return k;
}

int rd_session_flush(rd_session *s)
{
        int k = 0;

        if (s->events.size > 0) {
                k = rd_session_send(s, s->events.data, s->events.size);
                rd_writer_reset(&s->events);
        } else if (s->backlog)
                k = send_backlog(s);
        return k == -EAGAIN || k == -ENOBUFS ? 0 : k;
}
