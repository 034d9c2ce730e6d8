/* SPDX-License-Identifier: MIT */
/*
 * libreactord through a real reactord: each test starts the daemon on a
 * temporary ipc:// fixture_endpoint and stops it afterwards. Timeouts are generous;
 * only behaviour is asserted, never timing.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "reactord/client.h"

/* ---- the daemon: tests/fixture.c ---------------------------------------------------------- */

static void daemon_start(void)
{
        fixture_daemon_start("test-client");
}

static rd_client *client_new(void)
{
        rd_client_options opts = { .name = "test-client", .timeout = 60 };
        rd_client *c = NULL;

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        ck_assert_ptr_nonnull(c);
        return c;
}

/* Stop the loop whatever happens: a safety net against a test that would hang. */
static int stop_cb(rd_client *c, void *userdata)
{
        bool *fired = userdata;
        if (fired)
                *fired = true;
        rd_client_stop(c);
        return 0;
}

/* ---- session and calls -------------------------------------------------------------------- */

START_TEST(test_hello)
{
        rd_client *c = client_new(), *d = client_new();
        rd_reply *reply = NULL;
        const char *s;
        size_t n;

        ck_assert_uint_gt(rd_client_session(c), 0);
        ck_assert_uint_gt(rd_client_session(d), 0);
        ck_assert_uint_ne(rd_client_session(c), rd_client_session(d));
        ck_assert_str_eq(rd_client_last_error(c), "");

        ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, &reply), 0);
        ck_assert(rd_value_str_eq(rd_value_get(rd_reply_result(reply), "server"), "reactord"));
        ck_assert_uint_ge(rd_value_get_uint(rd_reply_result(reply), "sessions", 0), 2);
        ck_assert_int_eq(rd_value_str(rd_value_get(rd_reply_result(reply), "version"), &s, &n), 0);
        ck_assert_uint_gt(n, 0);
        rd_reply_free(reply);

        ck_assert_ptr_null(rd_client_free(d));
        ck_assert_ptr_null(rd_client_free(c));
        ck_assert_ptr_null(rd_client_free(NULL));
}
END_TEST

START_TEST(test_default_endpoint)
{
        rd_client *c = NULL;
        char *ep;

        setenv("XDG_RUNTIME_DIR", "/run/user/4242", 1);
        ep = rd_default_endpoint();
        ck_assert_str_eq(ep, "ipc:///run/user/4242/reactord/bus");
        free(ep);

        /* No fixture_endpoint argument: $REACTORD_ENDPOINT (set by daemon_start) is used. */
        ck_assert_int_eq(rd_client_new(NULL, NULL, &c), 0);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        rd_client_free(c);
}
END_TEST

START_TEST(test_call_sync)
{
        rd_client *c = client_new();
        rd_reply *reply = NULL;
        const rd_value *list;
        uint64_t handle = 0;
        bool found = false;

        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        ck_assert_int_eq(rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 60)), 0);
        ck_assert_int_eq(rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &handle), 0);
        ck_assert_uint_gt(handle, 0);
        rd_reply_free(reply);

        /* The reply outlives later frames: take one, then make another call, then read it. */
        ck_assert_int_eq(rd_client_call(c, "reactor.resources", NULL, 0, &reply), 0);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        list = rd_value_get(rd_reply_result(reply), "resources");
        for (size_t i = 0; i < rd_value_len(list); i++)
                if (rd_value_get_uint(rd_value_at(list, i), "handle", 0) == handle)
                        found = true;
        ck_assert(found);
        rd_reply_free(reply);

        ck_assert_int_eq(rd_client_callv(c, "timer.cancel", NULL, RD_UINT("handle", handle)), 0);
        rd_client_free(c);
}
END_TEST

typedef struct async_state {
        int calls;         /* completions seen */
        int error;         /* of the last one */
        char message[256]; /* of the last one */
        bool has_server;   /* the result named the server */
} async_state;

static void async_cb(rd_client *c, int error, const rd_value *result, const char *message,
                     void *userdata)
{
        async_state *s = userdata;

        s->calls++;
        s->error = error;
        snprintf(s->message, sizeof(s->message), "%s", message ? message : "");
        if (rd_value_str_eq(rd_value_get(result, "server"), "reactord"))
                s->has_server = true;
        if (s->calls == 2)
                rd_client_stop(c);
}

START_TEST(test_call_async)
{
        rd_client *c = client_new();
        async_state s = { 0 };

        ck_assert_int_eq(rd_client_call_later(c, 60, stop_cb, NULL, NULL), 0);
        ck_assert_int_eq(rd_client_call_async(c, "reactor.info", NULL, 0, async_cb, &s), 0);
        ck_assert_int_eq(rd_client_call_async(c, "no.such.method", NULL, 0, async_cb, &s), 0);
        ck_assert_int_eq(rd_client_call_async(c, "reactor.ping", NULL, 0, NULL, NULL), 0);
        ck_assert_int_eq(s.calls, 0); /* nothing runs before the loop */
        ck_assert_int_eq(rd_client_run(c), 0);

        ck_assert_int_eq(s.calls, 2);
        ck_assert(s.has_server);
        ck_assert_int_eq(s.error, -ENOSYS);
        ck_assert_str_ne(s.message, "");
        rd_client_free(c);
}
END_TEST

START_TEST(test_errors)
{
        rd_client *c = client_new();

        ck_assert_int_eq(rd_client_call(c, "no.such.method", NULL, 0, NULL), -ENOSYS);
        ck_assert_str_ne(rd_client_last_error(c), "");

        ck_assert_int_eq(rd_client_callv(c, "timer.start", NULL, RD_STR("after", "soon")), -EINVAL);
        ck_assert_ptr_nonnull(strstr(rd_client_last_error(c), "after"));
        ck_assert_int_eq(rd_client_call(c, "timer.start", NULL, 0, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_callv(c, "timer.start", NULL, RD_DOUBLE("after", 1),
                                         RD_DOUBLE("every", 0)),
                         -EINVAL);
        ck_assert_int_eq(rd_client_callv(c, "timer.cancel", NULL, RD_UINT("handle", 987654321)),
                         -ENOENT);

        /* A success clears the message. */
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        ck_assert_str_eq(rd_client_last_error(c), "");

        /* Bad arguments never reach the wire. */
        ck_assert_int_eq(rd_client_call(NULL, "reactor.ping", NULL, 0, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_call(c, NULL, NULL, 0, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 1, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_call_later(c, -1, stop_cb, NULL, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_call_every(c, 0, false, stop_cb, NULL, NULL), -EINVAL);
        ck_assert_int_eq(rd_client_on(c, 0, NULL, NULL), -EINVAL);
        rd_client_free(c);
}
END_TEST

/* What the notifications of test_notify brought back: a timer's event, a failure. */
typedef struct notify_state {
        int fired;       /* timer.fired of the timer started by a notification */
        int errors;      /* session.error */
        char method[64]; /* its method */
        char code[16];   /* and code: "ENOENT" */
} notify_state;

static int notify_any(rd_client *c, const rd_client_event *ev, void *userdata)
{
        notify_state *s = userdata;
        const char *p;
        size_t n;

        if (strcmp(ev->name, "timer.fired") == 0)
                s->fired++;
        if (strcmp(ev->name, "session.error") == 0) {
                s->errors++;
                ck_assert_int_eq(rd_value_str(rd_value_get(ev->payload, "method"), &p, &n), 0);
                snprintf(s->method, sizeof(s->method), "%.*s", (int)n, p);
                ck_assert_int_eq(rd_value_str(rd_value_get(ev->payload, "code"), &p, &n), 0);
                snprintf(s->code, sizeof(s->code), "%.*s", (int)n, p);
        }
        if (s->fired == 1 && s->errors == 1)
                rd_client_stop(c);
        return 0;
}

START_TEST(test_notify)
{
        rd_client *c = client_new();
        notify_state s = { 0 };

        ck_assert_int_eq(rd_client_on_any(c, notify_any, &s), 0);
        ck_assert_int_eq(rd_client_call_later(c, 60, stop_cb, NULL, NULL), 0);

        /* No response comes; what the method does happens all the same. */
        ck_assert_int_eq(rd_client_notify(c, "timer.start", RD_KVS(RD_DOUBLE("after", 0.01)), 1),
                         0);
        ck_assert_int_eq(rd_client_notify(c, "reactor.ping", NULL, 0), 0);
        /* However large the result, nothing comes back. */
        ck_assert_int_eq(rd_client_notify(c, "reactor.methods", NULL, 0), 0);
        /* A failure comes back as session.error, naming the method. */
        ck_assert_int_eq(
                rd_client_notify(c, "timer.cancel", RD_KVS(RD_UINT("handle", 987654321)), 1), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(s.fired, 1);
        ck_assert_int_eq(s.errors, 1);
        ck_assert_str_eq(s.method, "timer.cancel");
        ck_assert_str_eq(s.code, "ENOENT");

        /* The session goes on: a call still gets its answer. */
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);

        ck_assert_int_eq(rd_client_notify(NULL, "reactor.ping", NULL, 0), -EINVAL);
        ck_assert_int_eq(rd_client_notify(c, "", NULL, 0), -EINVAL);
        ck_assert_int_eq(rd_client_notify(c, "reactor.ping", NULL, 1), -EINVAL);
        rd_client_free(c);
}
END_TEST

/* ---- timers ------------------------------------------------------------------------------- */

typedef struct later_state {
        int runs;       /* callbacks run */
        uint64_t ticks; /* rd_client_ticks() seen */
} later_state;

static int later_cb(rd_client *c, void *userdata)
{
        later_state *s = userdata;
        s->runs++;
        s->ticks = rd_client_ticks(c);
        rd_client_stop(c);
        return 0;
}

START_TEST(test_call_later)
{
        rd_client *c = client_new();
        later_state s = { 0 };
        uint64_t handle = 0;

        ck_assert_int_eq(rd_client_call_later(c, 0.05, later_cb, &s, &handle), 0);
        ck_assert_uint_gt(handle, 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(s.runs, 1);
        ck_assert_uint_eq(s.ticks, 1);

        /* The one-shot timer is gone: cancelling it is Twisted's AlreadyCalled. */
        ck_assert_int_eq(rd_client_cancel(c, handle), -ENOENT);
        rd_client_free(c);
}
END_TEST

typedef struct every_state {
        int runs;        /* callbacks run */
        uint64_t ticks;  /* sum of rd_client_ticks() */
        uint64_t handle; /* the periodic timer */
} every_state;

static int every_cb(rd_client *c, void *userdata)
{
        every_state *s = userdata;

        ck_assert_uint_ge(rd_client_ticks(c), 1);
        s->runs++;
        s->ticks += rd_client_ticks(c);
        if (s->ticks >= 5) {
                ck_assert_int_eq(rd_client_cancel(c, s->handle), 0);
                rd_client_stop(c);
        }
        return 0;
}

START_TEST(test_call_every)
{
        rd_client *c = client_new();
        every_state s = { 0 };

        ck_assert_int_eq(rd_client_call_every(c, 0.02, true, every_cb, &s, &s.handle), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_ge(s.runs, 1);
        ck_assert_uint_ge(s.ticks, 5);
        /* Cancelled: the handle is gone. */
        ck_assert_int_eq(rd_client_cancel(c, s.handle), -ENOENT);
        rd_client_free(c);
}
END_TEST

static int never_cb(rd_client *c, void *userdata)
{
        ck_abort_msg("a cancelled timer fired");
        return 0;
}

START_TEST(test_cancel)
{
        rd_client *c = client_new();
        uint64_t h1 = 0, h2 = 0;
        bool stopped = false;

        ck_assert_int_eq(rd_client_call_later(c, 0.2, never_cb, NULL, &h1), 0);
        ck_assert_int_eq(rd_client_call_every(c, 0.2, false, never_cb, NULL, &h2), 0);
        ck_assert_int_eq(rd_client_cancel(c, h1), 0);
        ck_assert_int_eq(rd_client_cancel(c, h2), 0);
        ck_assert_int_eq(rd_client_cancel(c, h1), -ENOENT);
        /* Well after both would have fired. */
        ck_assert_int_eq(rd_client_call_later(c, 1.0, stop_cb, &stopped, NULL), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert(stopped);
        rd_client_free(c);
}
END_TEST

/* ---- event dispatch ----------------------------------------------------------------------- */

typedef struct fail_state {
        int failures;    /* failing handler runs */
        uint64_t handle; /* its periodic timer */
} fail_state;

static int failing_handler(rd_client *c, const rd_client_event *ev, void *userdata)
{
        fail_state *s = userdata;

        ck_assert_str_eq(ev->name, "timer.fired");
        ck_assert_uint_eq(ev->handle, s->handle);
        if (++s->failures == 3) {
                rd_client_cancel(c, s->handle);
                rd_client_stop(c);
        }
        return -EIO;
}

static int failing_cb(rd_client *c, void *userdata)
{
        (*(int *)userdata)++;
        return -1;
}

START_TEST(test_failing_handler)
{
        rd_client *c = client_new();
        fail_state s = { 0 };
        int fails = 0;
        rd_reply *reply = NULL;

        /* A failing call_later callback, then a failing handler that must see three events. */
        ck_assert_int_eq(rd_client_call_later(c, 0, failing_cb, &fails, NULL), 0);
        ck_assert_int_eq(rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 0.01),
                                         RD_DOUBLE("every", 0.01)),
                         0);
        s.handle = rd_value_get_uint(rd_reply_result(reply), "handle", 0);
        rd_reply_free(reply);
        ck_assert_int_eq(rd_client_on(c, s.handle, failing_handler, &s), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(fails, 1);
        ck_assert_int_eq(s.failures, 3);
        rd_client_free(c);
}
END_TEST

typedef struct remove_state {
        int own_calls;   /* the self-removing handler's runs */
        int any_calls;   /* catch-all runs for that handle */
        uint64_t handle; /* the periodic timer */
} remove_state;

static int removing_handler(rd_client *c, const rd_client_event *ev, void *userdata)
{
        remove_state *s = userdata;
        s->own_calls++;
        ck_assert_int_eq(rd_client_on(c, ev->handle, NULL, NULL), 0);
        return 0;
}

static int any_handler(rd_client *c, const rd_client_event *ev, void *userdata)
{
        remove_state *s = userdata;

        if (ev->handle != s->handle)
                return 0;
        s->any_calls++;
        ck_assert_int_eq(rd_client_cancel(c, ev->handle), 0);
        rd_client_stop(c);
        return 0;
}

START_TEST(test_handler_removes_itself)
{
        rd_client *c = client_new();
        remove_state s = { 0 };
        rd_reply *reply = NULL;

        ck_assert_int_eq(rd_client_callv(c, "timer.start", &reply, RD_DOUBLE("after", 0),
                                         RD_DOUBLE("every", 0.01)),
                         0);
        s.handle = rd_value_get_uint(rd_reply_result(reply), "handle", 0);
        rd_reply_free(reply);
        ck_assert_int_eq(rd_client_on(c, s.handle, removing_handler, &s), 0);
        ck_assert_int_eq(rd_client_on_any(c, any_handler, &s), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(s.own_calls, 1);
        ck_assert_int_eq(s.any_calls, 1);
        rd_client_free(c);
}
END_TEST

typedef struct nested_state {
        int runs;        /* callbacks run */
        uint64_t handle; /* the periodic timer */
        uint64_t inner;  /* a one-shot started from the callback */
        bool inner_ran;  /* ... and it fired */
} nested_state;

static int inner_cb(rd_client *c, void *userdata)
{
        nested_state *s = userdata;
        s->inner_ran = true;
        ck_assert_int_eq(rd_client_cancel(c, s->handle), 0);
        rd_client_stop(c);
        return 0;
}

static int nested_cb(rd_client *c, void *userdata)
{
        nested_state *s = userdata;
        rd_reply *reply = NULL;

        /* Synchronous calls from inside a callback, while events keep coming. */
        s->runs++;
        ck_assert_int_eq(rd_client_call(c, "reactor.info", NULL, 0, &reply), 0);
        ck_assert(rd_value_str_eq(rd_value_get(rd_reply_result(reply), "server"), "reactord"));
        rd_reply_free(reply);
        if (s->runs == 3)
                ck_assert_int_eq(rd_client_call_later(c, 0.05, inner_cb, s, &s->inner), 0);
        return 0;
}

START_TEST(test_nested_calls)
{
        rd_client *c = client_new();
        nested_state s = { 0 };

        ck_assert_int_eq(rd_client_call_every(c, 0.005, true, nested_cb, &s, &s.handle), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert(s.inner_ran);
        ck_assert_int_ge(s.runs, 3);
        rd_client_free(c);
}
END_TEST

typedef struct flood_state {
        int runs;        /* callbacks run */
        uint64_t handle; /* the periodic timer */
} flood_state;

static int flood_cb(rd_client *c, void *userdata)
{
        flood_state *s = userdata;
        if (++s->runs == 500) {
                rd_client_cancel(c, s->handle);
                rd_client_stop(c);
        }
        return 0;
}

/* Far more event bytes than the window: without session.ack the events would stop. */
START_TEST(test_credit)
{
        rd_client_options opts = { .window = 4096, .timeout = 60 };
        rd_client *c = NULL;
        flood_state s = { 0 };

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        ck_assert_int_eq(rd_client_call_every(c, 0.001, true, flood_cb, &s, &s.handle), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_int_eq(s.runs, 500);
        rd_client_free(c);
}
END_TEST

/* ---- the loop ----------------------------------------------------------------------------- */

static int order_cb(rd_client *c, void *userdata)
{
        char *log = userdata;
        strcat(log, "r");
        return 0;
}

START_TEST(test_when_running)
{
        rd_client *c = client_new();
        char log[16] = "";
        bool stopped = false;

        ck_assert_int_eq(rd_client_call_when_running(c, order_cb, log), 0);
        ck_assert_int_eq(rd_client_call_when_running(c, order_cb, log), 0);
        ck_assert_int_eq(rd_client_call_when_running(c, stop_cb, &stopped), 0);
        ck_assert_str_eq(log, "");
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert_str_eq(log, "rr");
        ck_assert(stopped);
        rd_client_free(c);
}
END_TEST

typedef struct embed_state {
        bool started; /* call_when_running ran */
        bool fired;   /* the timer ran */
} embed_state;

static int embed_started(rd_client *c, void *userdata)
{
        ((embed_state *)userdata)->started = true;
        return 0;
}

static int embed_fired(rd_client *c, void *userdata)
{
        ((embed_state *)userdata)->fired = true;
        return 0;
}

START_TEST(test_embedded)
{
        rd_client *c = client_new();
        embed_state s = { 0 };
        int fd, timeout;

        fd = rd_client_fd(c);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(rd_client_call_when_running(c, embed_started, &s), 0);
        ck_assert_int_eq(rd_client_timeout(c), 0); /* a callback is waiting */
        ck_assert_int_eq(rd_client_call_later(c, 0.05, embed_fired, &s, NULL), 0);

        /* Someone else's poll() loop. */
        for (double deadline = fixture_now() + 30; !s.fired && fixture_now() < deadline;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                timeout = rd_client_timeout(c);
                ck_assert_int_ge(timeout, -1);
                ck_assert_int_ge(poll(&p, 1, timeout < 0 || timeout > 1000 ? 1000 : timeout), 0);
                ck_assert_int_ge(rd_client_process(c), 0);
        }
        ck_assert(s.started);
        ck_assert(s.fired);
        /* Idle: the next thing due is the lease keepalive, in at most lease/3 (10 s by default). */
        timeout = rd_client_timeout(c);
        ck_assert_int_ge(timeout, 0);
        ck_assert_int_le(timeout, 10000);
        rd_client_free(c);
}
END_TEST

static int closed_any(rd_client *c, const rd_client_event *ev, void *userdata)
{
        if (strcmp(ev->name, "session.closed") == 0)
                *(bool *)userdata = true;
        return 0;
}

START_TEST(test_session_closed)
{
        rd_client_options opts = { .lease = 0.1, .timeout = 60 };
        rd_client *c = NULL;
        bool closed = false;

        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        ck_assert_int_eq(rd_client_on_any(c, closed_any, &closed), 0);
        /* Say nothing for many leases: reactord ends the session. */
        usleep(1500 * 1000);
        ck_assert_int_eq(rd_client_run(c), -ECONNRESET);
        ck_assert(closed);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), -ENOTCONN);
        rd_client_free(c);
}
END_TEST

START_TEST(test_lease_keepalive)
{
        rd_client_options opts = { .lease = 0.1, .timeout = 60 };
        rd_client *c = NULL;
        bool stopped = false, closed = false;

        /* Idle in rd_client_run() for many leases: the library's pings keep the session. */
        ck_assert_int_eq(rd_client_new(fixture_endpoint, &opts, &c), 0);
        ck_assert_int_eq(rd_client_on_any(c, closed_any, &closed), 0);
        ck_assert_int_le(rd_client_timeout(c), 100);
        ck_assert_int_eq(rd_client_call_later(c, 1.0, stop_cb, &stopped, NULL), 0);
        ck_assert_int_eq(rd_client_run(c), 0);
        ck_assert(stopped);
        ck_assert(!closed);
        ck_assert_int_eq(rd_client_call(c, "reactor.ping", NULL, 0, NULL), 0);
        rd_client_free(c);
}
END_TEST

/* ---- JSON --------------------------------------------------------------------------------- */

START_TEST(test_call_json)
{
        rd_client *c = client_new();
        char *json = NULL;

        ck_assert_int_eq(rd_client_call_json(c, "reactor.info", NULL, &json), 0);
        ck_assert_ptr_nonnull(strstr(json, "\"server\":\"reactord\""));
        free(json);

        ck_assert_int_eq(rd_client_call_json(c, "timer.start", "{\"after\": 60}", &json), 0);
        ck_assert_ptr_nonnull(strstr(json, "\"handle\":"));
        free(json);

        json = NULL;
        ck_assert_int_eq(rd_client_call_json(c, "timer.start", "{\"after\": ", &json), -EINVAL);
        ck_assert_str_ne(rd_client_last_error(c), "");
        ck_assert_int_eq(rd_client_call_json(c, "timer.start", "[1]", &json), -EINVAL);
        ck_assert_int_eq(rd_client_call_json(c, "timer.start", "{\"after\": \"x\"}", &json),
                         -EINVAL);
        ck_assert_ptr_nonnull(strstr(rd_client_last_error(c), "after"));
        ck_assert_int_eq(rd_client_call_json(c, "no.such.method", "{}", &json), -ENOSYS);
        ck_assert_ptr_null(json);
        rd_client_free(c);
}
END_TEST

/* ---- the examples ------------------------------------------------------------------------- */

static char *read_file(const char *path)
{
        FILE *f = fopen(path, "re");
        char *buf;
        size_t n;

        ck_assert_ptr_nonnull(f);
        buf = calloc(1, 65536);
        ck_assert_ptr_nonnull(buf);
        n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

/* Run the example named by $env; returns its exit status, its stdout and stderr. */
static int run_example(const char *env, char **out, char **err)
{
        const char *exe = getenv(env);
        char out_path[PATH_MAX + 8], err_path[PATH_MAX + 8];
        int status;
        pid_t pid;

        ck_assert_msg(exe && *exe, "$%s is not set", env);
        snprintf(out_path, sizeof(out_path), "%s/stdout", fixture_tmpdir);
        snprintf(err_path, sizeof(err_path), "%s/stderr", fixture_tmpdir);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (o < 0 || e < 0 || dup2(o, STDOUT_FILENO) < 0 || dup2(e, STDERR_FILENO) < 0)
                        _exit(126);
                execl(exe, exe, (char *)NULL);
                _exit(127);
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        *out = read_file(out_path);
        *err = read_file(err_path);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

START_TEST(test_example_hello)
{
        char *out, *err;

        ck_assert_int_eq(run_example("EXAMPLE_HELLO", &out, &err), 0);
        ck_assert_str_eq(out, "Starting the reactor.\n"
                              "Hello from the reactor loop!\n"
                              "Lately I feel like I'm stuck in a rut.\n");
        free(out);
        free(err);
}
END_TEST

START_TEST(test_example_countdown)
{
        char *out, *err;

        ck_assert_int_eq(run_example("EXAMPLE_COUNTDOWN", &out, &err), 0);
        ck_assert_str_eq(out, "Start!\n5 ...\n4 ...\n3 ...\n2 ...\n1 ...\nStop!\n");
        free(out);
        free(err);
}
END_TEST

START_TEST(test_example_failing_callback)
{
        char *out, *err;

        ck_assert_int_eq(run_example("EXAMPLE_FAILING_CALLBACK", &out, &err), 0);
        ck_assert_str_eq(out, "Starting the reactor.\nBut I get up again.\n");
        ck_assert_ptr_nonnull(strstr(err, "I fall down."));
        ck_assert_ptr_nonnull(strstr(err, "failed")); /* the library reported the failure */
        free(out);
        free(err);
}
END_TEST

START_TEST(test_example_looping_counters)
{
        char *out, *err;
        const char *end;

        ck_assert_int_eq(run_example("EXAMPLE_LOOPING_COUNTERS", &out, &err), 0);
        ck_assert_ptr_nonnull(strstr(out, "fast finished.\n"));
        ck_assert_ptr_nonnull(strstr(out, "medium finished.\n"));
        ck_assert_ptr_nonnull(strstr(out, "slow finished.\n"));
        end = out + strlen(out) - strlen("All counters finished.\n");
        ck_assert_str_eq(end, "All counters finished.\n");
        ck_assert_str_eq(err, "");
        free(out);
        free(err);
}
END_TEST

static Suite *client_suite(void)
{
        Suite *s = suite_create("client");
        TCase *tc;

        tc = tcase_create("session");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_hello);
        tcase_add_test(tc, test_default_endpoint);
        tcase_add_test(tc, test_call_sync);
        tcase_add_test(tc, test_call_async);
        tcase_add_test(tc, test_notify);
        tcase_add_test(tc, test_errors);
        tcase_add_test(tc, test_call_json);
        tcase_add_test(tc, test_session_closed);
        tcase_add_test(tc, test_lease_keepalive);
        suite_add_tcase(s, tc);

        tc = tcase_create("dispatch");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_call_later);
        tcase_add_test(tc, test_call_every);
        tcase_add_test(tc, test_cancel);
        tcase_add_test(tc, test_failing_handler);
        tcase_add_test(tc, test_handler_removes_itself);
        tcase_add_test(tc, test_nested_calls);
        tcase_add_test(tc, test_credit);
        tcase_add_test(tc, test_when_running);
        tcase_add_test(tc, test_embedded);
        suite_add_tcase(s, tc);

        tc = tcase_create("examples");
        tcase_add_checked_fixture(tc, daemon_start, fixture_daemon_stop);
        tcase_add_test(tc, test_example_hello);
        tcase_add_test(tc, test_example_countdown);
        tcase_add_test(tc, test_example_failing_callback);
        tcase_add_test(tc, test_example_looping_counters);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(client_suite());
        int failed;

        srunner_run_all(sr, CK_ENV);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
