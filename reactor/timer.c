/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "basic/log.h"
#include "handle.h"
#include "timer.h"

#define NOT_QUEUED SIZE_MAX

struct rd_timer {
        rd_handle handle;  /* base; must be first */
        uint64_t due;      /* next firing, CLOCK_MONOTONIC µs */
        uint64_t every;    /* period in µs; 0 for a one-shot timer */
        size_t heap_index; /* position in the reactor's heap, or NOT_QUEUED (stalled, firing) */
        bool firing;       /* its event is being emitted */
        bool closed;       /* closed from inside its own emit: free once that returns */
};

static uint64_t clock_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

/*
 * The loop's cached time: all timers of one wake-up agree on "now" (libuv's
 * uv_now). Firing uses it; a request that starts or resets a timer uses the
 * clock itself, because the cached time can be older than the request (a
 * wake-up reads up to a batch of requests), and a timer must never fire
 * before `after` has passed from the moment it was asked for (Twisted's
 * callLater reads the clock too).
 */
static uint64_t now_usec(rd_reactor *r)
{
        uint64_t now;
        if (sd_event_now(r->event, CLOCK_MONOTONIC, &now) < 0)
                now = clock_usec();
        return now;
}

/* ---- the heap ---- */

static void heap_set(rd_timer_heap *q, size_t i, rd_timer *t)
{
        q->items[i] = t;
        t->heap_index = i;
}

static void sift_up(rd_timer_heap *q, size_t i)
{
        rd_timer *t = q->items[i];
        while (i > 0) {
                size_t parent = (i - 1) / 2;
                if (q->items[parent]->due <= t->due)
                        break;
                heap_set(q, i, q->items[parent]);
                i = parent;
        }
        heap_set(q, i, t);
}

static void sift_down(rd_timer_heap *q, size_t i)
{
        rd_timer *t = q->items[i];
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= q->size)
                        break;
                if (c + 1 < q->size && q->items[c + 1]->due < q->items[c]->due)
                        c++;
                if (t->due <= q->items[c]->due)
                        break;
                heap_set(q, i, q->items[c]);
                i = c;
        }
        heap_set(q, i, t);
}

static int heap_push(rd_timer_heap *q, rd_timer *t)
{
        if (q->size == q->capacity) {
                size_t ncap = q->capacity ? q->capacity * 2 : 64;
                rd_timer **n = realloc(q->items, ncap * sizeof(*n));
                if (!n)
                        return -ENOMEM;
                q->items = n;
                q->capacity = ncap;
        }
        heap_set(q, q->size++, t);
        sift_up(q, q->size - 1);
        return 0;
}

static void heap_remove(rd_timer_heap *q, rd_timer *t)
{
        size_t i = t->heap_index;

        assert(i < q->size && q->items[i] == t);
        t->heap_index = NOT_QUEUED;
        q->size--;
        if (i == q->size)
                return;
        heap_set(q, i, q->items[q->size]);
        if (i > 0 && q->items[(i - 1) / 2]->due > q->items[i]->due)
                sift_up(q, i);
        else
                sift_down(q, i);
}

/* Point the one time source at the earliest timer, or switch it off. */
static void arm(rd_reactor *r)
{
        int k;

        if (r->timers.size == 0) {
                sd_event_source_set_enabled(r->timer_source, SD_EVENT_OFF);
                return;
        }
        k = sd_event_source_set_time(r->timer_source, r->timers.items[0]->due);
        if (k >= 0)
                k = sd_event_source_set_enabled(r->timer_source, SD_EVENT_ON);
        if (k < 0)
                log_error_errno(k, "cannot arm the timer source: %s", strerror(-k));
}

/* ---- firing ---- */

/*
 * Deliver one firing of `t` (not queued). Returns true when the timer is still
 * alive afterwards and wants to be queued again.
 */
static bool fire(rd_reactor *r, rd_timer *t, uint64_t now)
{
        uint64_t ticks = 1;
        rd_event ev;
        int k;

        if (t->every > 0)
                ticks += (now - t->due) / t->every;

        ev = (rd_event){ .type = RD_EVENT_TIMER_FIRED, .handle = t->handle.id };
        ev.timer_fired.ticks = ticks;
        t->firing = true;
        k = rd__handle_emit(&t->handle, &ev);
        t->firing = false;
        if (t->closed) {
                /* Closed by the emit callback: the handle is gone, only the memory is left. */
                free(t);
                return false;
        }
        if (k == -EAGAIN)
                return false; /* stalled: resume() picks it up with the ticks grown */

        if (t->every == 0) {
                rd_handle_close(&t->handle);
                return false;
        }
        t->due += ticks * t->every;
        return true;
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata)
{
        rd_reactor *r = userdata;
        uint64_t now = now_usec(r);

        /*
         * Each timer fires at most once per wake-up: a periodic timer's next
         * due time lies after `now`, so the loop ends.
         */
        while (r->timers.size > 0 && r->timers.items[0]->due <= now) {
                rd_timer *t = r->timers.items[0];

                heap_remove(&r->timers, t);
                if (fire(r, t, now) && heap_push(&r->timers, t) < 0) {
                        log_error("timer %" PRIu64 ": out of memory, closing it", t->handle.id);
                        rd_handle_close(&t->handle);
                }
        }
        arm(r);
        return 0;
}

/* ---- handle operations ---- */

static void timer_free(rd_handle *h)
{
        rd_timer *t = (rd_timer *)h;
        rd_reactor *r = h->reactor;

        if (t->heap_index != NOT_QUEUED) {
                bool first = t->heap_index == 0;
                heap_remove(&r->timers, t);
                if (first)
                        arm(r);
        }
        if (t->firing) {
                t->closed = true; /* fire() frees it when the emit returns */
                return;
        }
        free(t);
}

static void timer_resume(rd_handle *h)
{
        rd_timer *t = (rd_timer *)h;
        rd_reactor *r = h->reactor;
        /* Credit may return long after the loop last woke: read the clock itself. */
        uint64_t now = clock_usec();

        /* Not yet due (reset while stalled): just queue it again. */
        if (t->due <= now && !fire(r, t, now))
                return;
        if (heap_push(&r->timers, t) < 0) {
                rd_handle_close(h);
                return;
        }
        arm(r);
}

static uint32_t timer_describe(rd_handle *h, rd_writer *w, bool count_only)
{
        rd_timer *t = (rd_timer *)h;
        uint64_t now;

        if (count_only)
                return 2;
        now = clock_usec(); /* as timer.start's "after" counted from */
        rd_write_str(w, "due");
        if (t->heap_index == NOT_QUEUED)
                rd_write_nil(w);
        else
                rd_write_duration(w, t->due > now ? t->due - now : 0);
        rd_write_str(w, "every");
        if (t->every)
                rd_write_duration(w, t->every);
        else
                rd_write_nil(w);
        return 2;
}

static const rd_handle_ops timer_ops = {
        .free = timer_free,
        .resume = timer_resume,
        .describe = timer_describe,
};

/* ---- API ---- */

int rd__timers_init(rd_reactor *r)
{
        int k;

        /* Accuracy 1 µs: callers ask for exact times; coalescing is the heap's job. */
        k = sd_event_add_time(r->event, &r->timer_source, CLOCK_MONOTONIC, 0, 1, on_time, r);
        if (k < 0)
                return k;
        (void)sd_event_source_set_description(r->timer_source, "timers");
        return sd_event_source_set_enabled(r->timer_source, SD_EVENT_OFF);
}

void rd__timers_done(rd_reactor *r)
{
        assert(r->timers.size == 0);
        free(r->timers.items);
        r->timers = (rd_timer_heap){ 0 };
        r->timer_source = sd_event_source_disable_unref(r->timer_source);
}

int rd_timer_start(rd_reactor *r, rd_owner *owner, uint64_t after, uint64_t every, uint64_t *id)
{
        rd_timer *t;
        int k;

        assert_return(r && owner && id, -EINVAL);
        assert_return(after <= RD_TIMER_MAX_USEC && every <= RD_TIMER_MAX_USEC, -EINVAL);

        t = calloc(1, sizeof(*t));
        if (!t)
                return -ENOMEM;
        t->due = clock_usec() + after;
        t->every = every;
        t->heap_index = NOT_QUEUED;

        k = rd__handle_register(r, owner, &t->handle, RD_HANDLE_TIMER, &timer_ops);
        if (k < 0) {
                free(t);
                return k;
        }
        k = heap_push(&r->timers, t);
        if (k < 0) {
                rd_handle_close(&t->handle);
                return k;
        }
        if (t->heap_index == 0)
                arm(r);
        *id = t->handle.id;
        return 0;
}

int rd_timer_reset(rd_reactor *r, rd_owner *caller, uint64_t id, uint64_t after)
{
        rd_handle *h;
        rd_timer *t;
        int k;

        assert_return(after <= RD_TIMER_MAX_USEC, -EINVAL);

        k = rd_handle_lookup(r, caller, id, RD_HANDLE_TIMER, &h);
        if (k < 0)
                return k;
        t = (rd_timer *)h;
        t->due = clock_usec() + after;
        if (t->heap_index != NOT_QUEUED) {
                heap_remove(&r->timers, t);
                k = heap_push(&r->timers, t); /* cannot fail: the slot was just freed */
                assert(k == 0);
                arm(r);
        }
        return 0;
}

int rd_timer_cancel(rd_reactor *r, rd_owner *caller, uint64_t id)
{
        rd_handle *h;
        int k;

        k = rd_handle_lookup(r, caller, id, RD_HANDLE_TIMER, &h);
        if (k < 0)
                return k;
        rd_handle_close(h);
        return 0;
}
