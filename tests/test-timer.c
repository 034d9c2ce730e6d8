/* SPDX-License-Identifier: MIT */
/*
 * reactor/timer.c through a real sd-event loop, without a bus: the emit
 * callback records events and can refuse them (no credit) or close handles.
 */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "reactor/handle.h"
#include "reactor/timer.h"

typedef struct recorder {
        rd_reactor *reactor;
        size_t n;                /* events taken */
        uint64_t ticks;          /* sum of ticks taken */
        uint64_t last_handle;    /* handle of the last event */
        uint64_t last_ticks;     /* ticks of the last event */
        bool refuse;             /* answer -EAGAIN: the owner has no credit */
        size_t refused;          /* events refused */
        bool close_in_emit;      /* close the firing handle from inside the callback */
        bool free_owner_in_emit; /* free the whole owner from inside the callback */
        rd_owner *owner;         /* the owner under test */
} recorder;

static int record(rd_owner *owner, const rd_event *ev, void *userdata)
{
        recorder *rec = userdata;
        rd_handle *h;

        ck_assert_int_eq(ev->type, RD_EVENT_TIMER_FIRED);
        if (rec->refuse) {
                rec->refused++;
                return -EAGAIN;
        }
        rec->n++;
        rec->ticks += ev->timer_fired.ticks;
        rec->last_handle = ev->handle;
        rec->last_ticks = ev->timer_fired.ticks;
        if (rec->close_in_emit &&
            rd_handle_lookup(rec->reactor, owner, ev->handle, RD_HANDLE_TIMER, &h) == 0)
                rd_handle_close(h);
        if (rec->free_owner_in_emit) {
                rd_owner_free(rec->owner);
                rec->owner = NULL;
        }
        return 0;
}

static bool has_credit(rd_owner *owner, void *userdata)
{
        return !((recorder *)userdata)->refuse;
}

static sd_event *event;
static recorder rec;

static void setup(void)
{
        rec = (recorder){ 0 };
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_ge(
                rd_reactor_new(event, &(rd_reactor_sink){ record, has_credit, &rec }, &rec.reactor),
                0);
        ck_assert_int_ge(rd_owner_new(rec.reactor, NULL, 100000, &rec.owner), 0);
}

static void teardown(void)
{
        rd_owner_free(rec.owner);
        rd_reactor_free(rec.reactor);
        event = sd_event_unref(event);
}

/* Run the loop until `cond` holds; generous bound so a slow machine never fails. */
#define RUN_UNTIL(cond)                                                                            \
        do {                                                                                       \
                for (int run_ = 0; run_ < 10000 && !(cond); run_++)                                \
                        ck_assert_int_ge(sd_event_run(event, 100 * 1000), 0);                      \
                ck_assert(cond);                                                                   \
        } while (0)

static void sleep_ms(long ms)
{
        struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

START_TEST(test_one_shot_fires_once_and_releases)
{
        uint64_t id;
        rd_handle *h;

        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 1000, 0, &id), 0);
        ck_assert_uint_eq(rd_reactor_count(rec.reactor, RD_HANDLE_TIMER), 1);
        RUN_UNTIL(rec.n == 1);
        ck_assert_uint_eq(rec.last_handle, id);
        ck_assert_uint_eq(rec.last_ticks, 1);
        ck_assert_int_eq(rd_handle_lookup(rec.reactor, rec.owner, id, RD_HANDLE_TIMER, &h),
                         -ENOENT);
        ck_assert_uint_eq(rd_reactor_count(rec.reactor, RD_HANDLE_TIMER), 0);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 0);
        /* Nothing armed: the loop has nothing to wait for. */
        ck_assert_int_eq(sd_event_source_get_enabled(rec.reactor->timer_source, NULL), 0);
}
END_TEST

START_TEST(test_periodic_keeps_firing)
{
        uint64_t id;

        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 2000, &id), 0);
        RUN_UNTIL(rec.n >= 5);
        ck_assert_uint_eq(rec.last_handle, id);
        ck_assert_uint_ge(rec.ticks, rec.n);
        ck_assert_int_eq(rd_timer_cancel(rec.reactor, rec.owner, id), 0);
        ck_assert_int_eq(rd_timer_cancel(rec.reactor, rec.owner, id), -ENOENT);
}
END_TEST

START_TEST(test_stalled_timer_coalesces_ticks)
{
        uint64_t id;

        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 1000, &id), 0);
        rec.refuse = true;
        RUN_UNTIL(rec.refused == 1);
        /* Stalled: off the heap, so nothing wakes the loop for it. */
        ck_assert_int_eq(sd_event_source_get_enabled(rec.reactor->timer_source, NULL), 0);
        sleep_ms(30); /* thirty periods pass without credit */
        rec.refuse = false;
        rd_owner_resume(rec.owner);
        ck_assert_uint_eq(rec.n, 1);
        ck_assert_uint_gt(rec.last_ticks, 1);
        /* And it is queued again. */
        RUN_UNTIL(rec.n == 2);
}
END_TEST

START_TEST(test_stalled_one_shot_fires_on_resume)
{
        uint64_t id;

        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 0, &id), 0);
        rec.refuse = true;
        RUN_UNTIL(rec.refused == 1);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 1);
        rec.refuse = false;
        rd_owner_resume(rec.owner);
        ck_assert_uint_eq(rec.n, 1);
        ck_assert_uint_eq(rec.last_ticks, 1);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 0);
}
END_TEST

START_TEST(test_reset_postpones_and_advances)
{
        uint64_t id;

        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 3600 * USEC_PER_SEC, 0, &id), 0);
        ck_assert_int_eq(rd_timer_reset(rec.reactor, rec.owner, id, 0), 0);
        RUN_UNTIL(rec.n == 1);
        ck_assert_uint_eq(rec.last_handle, id);
}
END_TEST

START_TEST(test_ownership)
{
        rd_owner *other;
        rd_handle *h;
        uint64_t id;

        ck_assert_int_ge(rd_owner_new(rec.reactor, NULL, 10, &other), 0);
        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, USEC_PER_SEC, 0, &id), 0);
        ck_assert_int_eq(rd_timer_cancel(rec.reactor, other, id), -EPERM);
        ck_assert_int_eq(rd_timer_reset(rec.reactor, other, id, 0), -EPERM);
        ck_assert_int_eq(rd_handle_lookup(rec.reactor, other, id, _RD_HANDLE_KIND_MAX, &h), -EPERM);
        ck_assert_int_eq(rd_timer_cancel(rec.reactor, other, id + 1000), -ENOENT);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 1);
        rd_owner_free(other);
}
END_TEST

START_TEST(test_handle_cap)
{
        rd_owner *small;
        uint64_t id, prev = 0;

        ck_assert_int_ge(rd_owner_new(rec.reactor, NULL, 3, &small), 0);
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(rd_timer_start(rec.reactor, small, USEC_PER_SEC, 0, &id), 0);
                ck_assert_uint_gt(id, prev); /* ids only grow */
                prev = id;
        }
        ck_assert_int_eq(rd_timer_start(rec.reactor, small, USEC_PER_SEC, 0, &id), -EMFILE);
        rd_owner_free(small);
        ck_assert_uint_eq(rd_reactor_count(rec.reactor, RD_HANDLE_TIMER), 0);
        /* Ids are never reused. */
        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, USEC_PER_SEC, 0, &id), 0);
        ck_assert_uint_gt(id, prev);
}
END_TEST

START_TEST(test_close_from_own_callback)
{
        uint64_t id;

        rec.close_in_emit = true;
        ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 1000, &id), 0);
        RUN_UNTIL(rec.n == 1);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 0);
        ck_assert_uint_eq(rd_reactor_count(rec.reactor, RD_HANDLE_TIMER), 0);
}
END_TEST

START_TEST(test_free_owner_from_callback)
{
        uint64_t id;

        rec.free_owner_in_emit = true;
        for (int i = 0; i < 10; i++)
                ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 1000, &id), 0);
        RUN_UNTIL(rec.n >= 1);
        ck_assert_ptr_null(rec.owner);
        ck_assert_uint_eq(rd_reactor_count(rec.reactor, RD_HANDLE_TIMER), 0);
}
END_TEST

START_TEST(test_many_timers_fire_in_one_wakeup)
{
        uint64_t id;

        for (int i = 0; i < 10000; i++)
                ck_assert_int_eq(rd_timer_start(rec.reactor, rec.owner, 0, 0, &id), 0);
        /* All due at once: a single dispatch of the one time source fires them all. */
        RUN_UNTIL(rec.n > 0);
        ck_assert_uint_eq(rec.n, 10000);
        ck_assert_uint_eq(rd_owner_count(rec.owner), 0);
}
END_TEST

START_TEST(test_heap_order_with_random_deadlines)
{
        uint64_t id;
        rd_handle *h;

        srand(7);
        for (int i = 0; i < 2000; i++)
                ck_assert_int_eq(
                        rd_timer_start(rec.reactor, rec.owner, (uint64_t)(rand() % 20000), 0, &id),
                        0);
        /* Cancel a third of them from the middle of the heap. */
        for (uint64_t i = 1; i <= id; i += 3)
                if (rd_handle_lookup(rec.reactor, rec.owner, i, RD_HANDLE_TIMER, &h) == 0)
                        rd_handle_close(h);
        size_t left = rd_owner_count(rec.owner);
        RUN_UNTIL(rd_owner_count(rec.owner) == 0);
        ck_assert_uint_eq(rec.n, left);
}
END_TEST

static Suite *timer_suite(void)
{
        Suite *s = suite_create("timer");
        TCase *tc = tcase_create("timer");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_one_shot_fires_once_and_releases);
        tcase_add_test(tc, test_periodic_keeps_firing);
        tcase_add_test(tc, test_stalled_timer_coalesces_ticks);
        tcase_add_test(tc, test_stalled_one_shot_fires_on_resume);
        tcase_add_test(tc, test_reset_postpones_and_advances);
        tcase_add_test(tc, test_ownership);
        tcase_add_test(tc, test_handle_cap);
        tcase_add_test(tc, test_close_from_own_callback);
        tcase_add_test(tc, test_free_owner_from_callback);
        tcase_add_test(tc, test_many_timers_fire_in_one_wakeup);
        tcase_add_test(tc, test_heap_order_with_random_deadlines);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(timer_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
