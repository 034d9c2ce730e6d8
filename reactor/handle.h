/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The base every resource embeds (first member), and the reactor internals
 * the resource modules share. Not for use outside reactor/.
 */

#include <stdbool.h>

#include "basic/hashmap.h"
#include "basic/list.h"
#include "reactor.h"

typedef struct rd_handle_ops {
        /* Free the resource's own state (the base is unlinked already). */
        void (*free)(rd_handle *h);
        /* Credit is back after an emit was refused: try to emit again. */
        void (*resume)(rd_handle *h);
        /* Write the kind-specific fields of reactor.resources; returns how many pairs. */
        uint32_t (*describe)(rd_handle *h, rd_writer *w, bool count_only);
        /* handle.close, when it is more than freeing (may be NULL). */
        void (*close_gracefully)(rd_handle *h);
        /*
         * The owner is going away. Return true when the resource moved itself
         * to the reactor's orphanage (it lives on); false to be closed (may be NULL).
         */
        bool (*orphan)(rd_handle *h);
        /* The socket of a listener or stream, for a child; -EBADF if none (may be NULL). */
        int (*get_fd)(rd_handle *h);
        /*
         * A write refused for the owner's max_write_buffer fits now: report
         * drained (may be NULL for kinds that never buffer writes).
         */
        void (*write_room)(rd_handle *h);
} rd_handle_ops;

struct rd_handle {
        uint64_t id;              /* never reused in a daemon's lifetime */
        rd_handle_kind kind;      /* what the resource is */
        const rd_handle_ops *ops; /* the kind's operations */
        rd_reactor *reactor;      /* the reactor it lives in */
        rd_owner *owner;          /* the owner its events go to */
        rd_list owner_link;       /* in owner->handles */
        rd_list stall_link;       /* in owner->stalled while waiting for credit */
        rd_list room_link;        /* in owner->room_waiters while a write waits for room */
        size_t room_wanted;       /* bytes the refused write needs (while in room_waiters) */
};

struct rd_owner {
        rd_reactor *reactor;     /* back pointer */
        void *userdata;          /* the broker's session */
        rd_list handles;         /* every handle the owner holds */
        rd_list stalled;         /* handles whose emit was refused for lack of credit */
        rd_list room_waiters;    /* handles whose write was refused for max_write_buffer */
        size_t n_handles;        /* length of handles */
        size_t max_handles;      /* cap: -EMFILE beyond */
        size_t n_processes;      /* process instances its process handles stand for */
        size_t max_processes;    /* cap: spawning past it is -EDQUOT */
        size_t write_buffered;   /* bytes in the write buffers of its streams and stdin pipes */
        size_t max_write_buffer; /* cap: a write that would pass it is refused (-EDQUOT) */
        uid_t uid;               /* the user it acts for (rd_owner_set_identity) */
        bool privileged;         /* may act on any user's resources */
};

typedef struct rd_timer_heap {
        struct rd_timer **items; /* binary min-heap ordered by due time */
        size_t size;             /* items in use */
        size_t capacity;         /* items allocated */
} rd_timer_heap;

struct rd_reactor {
        sd_event *event;                   /* the loop (referenced) */
        rd_reactor_sink sink;              /* where events go */
        rd_hashmap handles;                /* id -> rd_handle */
        uint64_t next_id;                  /* the next handle id */
        size_t count[_RD_HANDLE_KIND_MAX]; /* live handles per kind */
        rd_timer_heap timers;              /* armed timers */
        sd_event_source *timer_source;     /* one time source for the whole heap */
        rd_hashmap listener_names;         /* name -> shared listener socket */
        uint8_t *read_buffer;              /* scratch for socket reads, RD_READ_MAX bytes */
        struct resolver *resolver;         /* host name lookups, while any is in flight */
        rd_owner *orphanage;               /* what outlived its owner; events dropped */
        struct rd_processes *processes;    /* child process machinery, made on first spawn */
        int io_fd;                         /* the epoll set of io.h */
        sd_event_source *io_source;        /* watches io_fd */
        struct rd_io **io_watches;         /* fd -> its watch, or NULL */
        size_t n_io_watches;               /* length of io_watches */
        uint32_t io_generation;            /* the last watch's generation */
};

/* Bytes read from a socket per event (and the size of the reactor's read buffer). */
#define RD_READ_MAX (64 * 1024)

/*
 * Give `h` an id and link it to `owner`. Returns 0, or -EMFILE when the owner
 * is at its cap, or -ENOMEM.
 */
int rd__handle_register(rd_reactor *r, rd_owner *owner, rd_handle *h, rd_handle_kind kind,
                        const rd_handle_ops *ops);

/*
 * Emit an event for `h`. Returns 0, or -EAGAIN when the owner is out of credit:
 * `h` is then put on the owner's stalled list and its ops->resume() will be
 * called once credit returns.
 */
int rd__handle_emit(rd_handle *h, const rd_event *ev);

/* Does the owner have credit for data now? The orphanage always has (it drops events). */
static inline bool rd__owner_has_credit(rd_owner *o)
{
        return o == o->reactor->orphanage ||
               o->reactor->sink.has_credit(o, o->reactor->sink.userdata);
}

/* May owner `o` act on a resource of user `uid` (rd_owner_set_identity())? */
bool rd__owner_may_act_for(const rd_owner *o, uid_t uid);

/* Give `h` to another owner (e.g. the orphanage). Returns 0 or -EMFILE at the new owner's cap. */
int rd__handle_move(rd_handle *h, rd_owner *to);

/* Wait for credit without emitting: ops->resume() runs when it returns. */
void rd__handle_stall(rd_handle *h);

/*
 * Log about handle `h`: the record carries REACTORD_HANDLE and what the sink
 * knows of its owner (rd_reactor_sink.log_fields: the session, for reactord).
 * Returns 0.
 */
#define log_handle(level, h, ...)                                                                  \
        (rd_log_enabled(level) ? rd__handle_log((h), (level), RD_LOG_SITE, __VA_ARGS__) : 0)
int rd__handle_log(const rd_handle *h, rd_log_level level, const char *file, int line,
                   const char *func, const char *fmt, ...) _printf_(6, 7);

/*
 * The owner's write-buffer quota (max_write_buffer), shared by its streams and
 * process stdin pipes. Before buffering a write of `n` bytes for `h`, ask
 * rd__owner_write_check(): 0 when the owner's buffered bytes plus `n` stay
 * within the cap; -EDQUOT when they would not, and `h` then waits for room
 * (its ops->write_room() runs once `n` bytes fit); -EMSGSIZE when `n` alone
 * is more than the cap. The write buffers report every byte they take and
 * give back with rd__owner_write_added() and rd__owner_write_released(); a
 * release wakes the waiting handles whose write fits again.
 */
int rd__owner_write_check(rd_handle *h, size_t n);
void rd__owner_write_added(rd_owner *o, size_t n);
void rd__owner_write_released(rd_owner *o, size_t n);

/* Processes' share of the reactor's life. */
void rd__processes_done(rd_reactor *r);

/* Timers' share of the reactor's life. */
int rd__timers_init(rd_reactor *r);
void rd__timers_done(rd_reactor *r);
