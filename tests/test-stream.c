/* SPDX-License-Identifier: MIT */
/*
 * reactor/stream.c, listener.c and udp.c through a real sd-event loop and real
 * sockets, without a bus: the sink records events and grants or refuses credit.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "reactor/handle.h"
#include "reactor/listener.h"
#include "reactor/stream.h"
#include "reactor/udp.h"

#define MAX_EVENTS 256

typedef struct sink {
        rd_reactor *reactor;
        bool no_credit;                 /* has_credit() answers false */
        size_t n;                       /* events recorded */
        rd_event_type type[MAX_EVENTS]; /* their types */
        uint64_t handle[MAX_EVENTS];    /* their handles */
        uint64_t stream[MAX_EVENTS];    /* accepted: the new stream */
        rd_owner *owner_of[MAX_EVENTS]; /* who received each */
        char data[1 << 20];             /* stream.data / udp.datagram bytes, concatenated */
        size_t data_len;                /* bytes in data */
        char last_reason[32];           /* stream.closed's reason */
        int last_error;                 /* and its error */
} sink;

static sd_event *event;
static sink *sk;
static rd_owner *owner;

static int record(rd_owner *o, const rd_event *ev, void *userdata)
{
        ck_assert_uint_lt(sk->n, MAX_EVENTS);
        if (sk->no_credit && rd_event_needs_credit(ev->type))
                return -EAGAIN;
        sk->type[sk->n] = ev->type;
        sk->handle[sk->n] = ev->handle;
        sk->owner_of[sk->n] = o;
        if (ev->type == RD_EVENT_LISTENER_ACCEPTED)
                sk->stream[sk->n] = ev->accepted.stream;
        if (ev->type == RD_EVENT_STREAM_DATA || ev->type == RD_EVENT_UDP_DATAGRAM) {
                ck_assert_uint_le(sk->data_len + ev->data.size, sizeof(sk->data));
                memcpy(sk->data + sk->data_len, ev->data.data, ev->data.size);
                sk->data_len += ev->data.size;
        }
        if (ev->type == RD_EVENT_STREAM_CLOSED) {
                snprintf(sk->last_reason, sizeof(sk->last_reason), "%s", ev->closed.reason);
                sk->last_error = ev->closed.error;
        }
        sk->n++;
        return 0;
}

static bool credit(rd_owner *o, void *userdata)
{
        return !sk->no_credit;
}

static void setup(void)
{
        sk = calloc(1, sizeof(*sk));
        ck_assert_ptr_nonnull(sk);
        ck_assert_int_ge(sd_event_new(&event), 0);
        ck_assert_int_ge(
                rd_reactor_new(event, &(rd_reactor_sink){ record, credit, NULL }, &sk->reactor), 0);
        ck_assert_int_ge(rd_owner_new(sk->reactor, NULL, 4096, &owner), 0);
}

static void teardown(void)
{
        owner = rd_owner_free(owner);
        sk->reactor = rd_reactor_free(sk->reactor);
        event = sd_event_unref(event);
        free(sk);
}

/* Index of the first recorded event of `type` at or after `from`, or -1. */
static int find(rd_event_type type, size_t from)
{
        for (size_t i = from; i < sk->n; i++)
                if (sk->type[i] == type)
                        return (int)i;
        return -1;
}

#define RUN_UNTIL(cond)                                                                            \
        do {                                                                                       \
                for (int run_ = 0; run_ < 20000 && !(cond); run_++)                                \
                        ck_assert_int_ge(sd_event_run(event, 100 * 1000), 0);                      \
                ck_assert(cond);                                                                   \
        } while (0)

/* A connected pair: `*ours` for the reactor (adopted as a stream), `*theirs` for the test. */
static uint64_t adopt_pair(int *theirs)
{
        int sv[2];
        rd_address a = { 0 };
        uint64_t id;

        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
        a.sa.ss_family = AF_UNIX;
        a.len = sizeof(sa_family_t);
        ck_assert_int_eq(rd_stream_adopt(sk->reactor, owner, sv[0], &a, &a, &id), 0);
        *theirs = sv[1];
        return id;
}

START_TEST(test_data_flows_both_ways)
{
        int peer;
        uint64_t id = adopt_pair(&peer);
        size_t buffered;
        char buf[16];

        ck_assert_int_eq(write(peer, "ping", 4), 4);
        RUN_UNTIL(find(RD_EVENT_STREAM_DATA, 0) >= 0);
        ck_assert_uint_eq(sk->handle[find(RD_EVENT_STREAM_DATA, 0)], id);
        ck_assert(memcmp(sk->data, "ping", 4) == 0);

        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, "pong", 4, &buffered), 0);
        ck_assert_uint_eq(buffered, 0); /* the socket took it at once */
        ck_assert_int_eq(read(peer, buf, sizeof(buf)), 4);
        ck_assert(memcmp(buf, "pong", 4) == 0);
        close(peer);
}
END_TEST

START_TEST(test_no_credit_leaves_bytes_in_the_kernel)
{
        int peer;
        uint64_t id = adopt_pair(&peer);

        sk->no_credit = true;
        ck_assert_int_eq(write(peer, "abc", 3), 3);
        for (int i = 0; i < 20; i++)
                ck_assert_int_ge(sd_event_run(event, 10 * 1000), 0);
        ck_assert_int_eq(find(RD_EVENT_STREAM_DATA, 0), -1);
        /* Stalled: the stream no longer asks for EPOLLIN, so the loop is idle. */
        ck_assert_int_eq(sd_event_run(event, 0), 0);

        sk->no_credit = false;
        rd_owner_resume(owner);
        RUN_UNTIL(find(RD_EVENT_STREAM_DATA, 0) >= 0);
        ck_assert_uint_eq(sk->data_len, 3);
        ck_assert_uint_eq(sk->handle[0], id);
        close(peer);
}
END_TEST

START_TEST(test_high_water_and_drained)
{
        int peer, sndbuf = 4096;
        uint64_t id = adopt_pair(&peer);
        rd_stream_settings set = {
                .nodelay = -1, .keepalive = -1, .high_water = 8192, .low_water = 1024
        };
        static char chunk[4096], sink_buf[1 << 16];
        size_t high, low, buffered;
        int k = 0;

        ck_assert_int_eq(rd_stream_set(sk->reactor, owner, id, &set, &high, &low), 0);
        ck_assert_uint_eq(high, 8192);
        ck_assert_uint_eq(low, 1024);
        /* TCP options on a UNIX stream. */
        set = (rd_stream_settings){ .nodelay = 1, .keepalive = -1, .low_water = SIZE_MAX };
        ck_assert_int_eq(rd_stream_set(sk->reactor, owner, id, &set, &high, &low), -ENOTSUP);
        set = (rd_stream_settings){
                .nodelay = -1, .keepalive = -1, .high_water = 10, .low_water = 20
        };
        ck_assert_int_eq(rd_stream_set(sk->reactor, owner, id, &set, &high, &low), -EINVAL);

        (void)setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
        /* The peer does not read: the kernel fills, then the buffer, then EAGAIN. */
        for (int i = 0; i < 10000 && k == 0; i++)
                k = rd_stream_write(sk->reactor, owner, id, chunk, sizeof(chunk), &buffered);
        ck_assert_int_eq(k, -EAGAIN);
        ck_assert_uint_ge(buffered, 8192 - sizeof(chunk));

        /* Read everything on the peer's side: the buffer drains, stream.drained comes. */
        while (find(RD_EVENT_STREAM_DRAINED, 0) < 0) {
                (void)read(peer, sink_buf, sizeof(sink_buf));
                ck_assert_int_ge(sd_event_run(event, 10 * 1000), 0);
        }
        ck_assert_uint_eq(sk->handle[find(RD_EVENT_STREAM_DRAINED, 0)], id);
        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, chunk, 10, &buffered), 0);
        close(peer);
}
END_TEST

START_TEST(test_close_flushes_then_reports)
{
        int peer;
        uint64_t id = adopt_pair(&peer);
        size_t buffered;
        char buf[16];
        rd_handle *h;

        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, "bye", 3, &buffered), 0);
        ck_assert_int_eq(rd_stream_close(sk->reactor, owner, id), 0);
        RUN_UNTIL(find(RD_EVENT_STREAM_CLOSED, 0) >= 0);
        ck_assert_str_eq(sk->last_reason, "closed");
        ck_assert_int_eq(rd_handle_lookup(sk->reactor, owner, id, RD_HANDLE_STREAM, &h), -ENOENT);
        ck_assert_int_eq(read(peer, buf, sizeof(buf)), 3);
        ck_assert_int_eq(read(peer, buf, sizeof(buf)), 0); /* then EOF */
        close(peer);
}
END_TEST

START_TEST(test_half_close_both_ways_is_done)
{
        int peer;
        uint64_t id = adopt_pair(&peer);
        size_t buffered;
        char buf[8];

        ck_assert_int_eq(shutdown(peer, SHUT_WR), 0);
        RUN_UNTIL(find(RD_EVENT_STREAM_EOF, 0) >= 0);
        /* Writing after the peer's EOF still works. */
        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, "late", 4, &buffered), 0);
        ck_assert_int_eq(rd_stream_shutdown(sk->reactor, owner, id), 0);
        RUN_UNTIL(find(RD_EVENT_STREAM_CLOSED, 0) >= 0);
        ck_assert_str_eq(sk->last_reason, "done");
        ck_assert_int_eq(read(peer, buf, sizeof(buf)), 4);
        ck_assert_int_eq(read(peer, buf, sizeof(buf)), 0);
        close(peer);
}
END_TEST

START_TEST(test_write_after_shutdown_is_epipe)
{
        int peer;
        uint64_t id = adopt_pair(&peer);
        size_t buffered;

        ck_assert_int_eq(rd_stream_shutdown(sk->reactor, owner, id), 0);
        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, "x", 1, &buffered), -EPIPE);
        close(peer);
}
END_TEST

START_TEST(test_peer_reset_is_an_error)
{
        int peer;
        uint64_t id = adopt_pair(&peer);
        size_t buffered;

        close(peer);
        /* Writing to a stream whose peer is gone: EPIPE shows up as stream.closed. */
        ck_assert_int_eq(rd_stream_write(sk->reactor, owner, id, "x", 1, &buffered), 0);
        RUN_UNTIL(find(RD_EVENT_STREAM_CLOSED, 0) >= 0);
        ck_assert(strcmp(sk->last_reason, "error") == 0 || strcmp(sk->last_reason, "done") == 0);
}
END_TEST

START_TEST(test_listener_spreads_over_members)
{
        rd_listen l = { .mode = -1, .backlog = 16, .name = "pool", .name_len = 4 };
        rd_owner *second;
        rd_address bound;
        uint64_t a, b, id;
        int fds[6];
        size_t got_first = 0, got_second = 0;

        ck_assert_int_ge(rd_owner_new(sk->reactor, NULL, 100, &second), 0);
        ck_assert_int_eq(rd_address_from_ip("127.0.0.1", 0, AF_UNSPEC, &l.addr), 0);
        ck_assert_int_eq(rd_listener_open(sk->reactor, owner, &l, &a, &bound), 0);
        ck_assert_uint_gt(rd_address_port(&bound), 0);
        ck_assert_int_eq(rd_listener_open(sk->reactor, owner, &l, &id, &bound), -EEXIST);
        ck_assert_int_eq(rd_listener_join(sk->reactor, second, "pool", 4, &b, &bound), 0);
        ck_assert_int_eq(rd_listener_join(sk->reactor, second, "none", 4, &id, &bound), -ENOENT);

        for (int i = 0; i < 6; i++) {
                struct sockaddr_in sa = { .sin_family = AF_INET,
                                          .sin_port = htons(rd_address_port(&bound)) };
                sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
        }
        RUN_UNTIL(sk->n >= 6);
        for (size_t i = 0; i < sk->n; i++) {
                ck_assert_int_eq(sk->type[i], RD_EVENT_LISTENER_ACCEPTED);
                if (sk->owner_of[i] == owner) {
                        ck_assert_uint_eq(sk->handle[i], a);
                        got_first++;
                } else {
                        ck_assert_uint_eq(sk->handle[i], b);
                        got_second++;
                }
        }
        ck_assert_uint_eq(got_first, 3); /* round-robin */
        ck_assert_uint_eq(got_second, 3);

        /* The second member leaves with its connections; the socket stays for the first. */
        rd_owner_free(second);
        ck_assert_uint_eq(rd_reactor_count(sk->reactor, RD_HANDLE_STREAM), 3);
        ck_assert_uint_eq(rd_reactor_count(sk->reactor, RD_HANDLE_LISTENER), 1);
        for (int i = 0; i < 6; i++)
                close(fds[i]);
}
END_TEST

START_TEST(test_unix_listener_reports_credentials_and_removes_its_file)
{
        char dir[] = "/tmp/test-stream-XXXXXX", path[128];
        rd_listen l = { .mode = 0600, .backlog = 4 };
        rd_address bound;
        uint64_t id;
        int fd;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/s", dir);
        ck_assert_int_eq(rd_address_from_unix(path, strlen(path), false, &l.addr), 0);
        ck_assert_int_eq(rd_listener_open(sk->reactor, owner, &l, &id, &bound), 0);
        ck_assert_int_eq(access(path, F_OK), 0);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&l.addr.sa, l.addr.len), 0);
        RUN_UNTIL(find(RD_EVENT_LISTENER_ACCEPTED, 0) >= 0);

        rd_handle *h;
        ck_assert_int_eq(rd_handle_lookup(sk->reactor, owner, id, RD_HANDLE_LISTENER, &h), 0);
        rd_handle_close(h);
        ck_assert_int_eq(access(path, F_OK), -1);
        close(fd);
        ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_udp_round_trip)
{
        rd_udp_bind args = { 0 };
        rd_address bound;
        uint64_t id;
        char host[] = "127.0.0.1";

        ck_assert_int_eq(rd_address_from_ip(host, 0, AF_UNSPEC, &args.addr), 0);
        ck_assert_int_eq(rd_udp_open(sk->reactor, owner, &args, &id, &bound), 0);
        ck_assert_int_eq(
                rd_udp_send(sk->reactor, owner, id, "dgram", 5, host, rd_address_port(&bound)), 0);
        RUN_UNTIL(find(RD_EVENT_UDP_DATAGRAM, 0) >= 0);
        ck_assert(memcmp(sk->data, "dgram", 5) == 0);
        ck_assert_int_eq(rd_udp_send(sk->reactor, owner, id, "x", 1, "nohost", 1), -EINVAL);
        ck_assert_int_eq(rd_udp_membership(sk->reactor, owner, id, "127.0.0.1", NULL, true),
                         -EINVAL);
        ck_assert_int_eq(
                rd_udp_membership(sk->reactor, owner, id, "239.255.0.1", "nosuchif0", true),
                -ENODEV);
}
END_TEST

int main(void)
{
        Suite *s = suite_create("stream");
        TCase *tc = tcase_create("stream");
        SRunner *sr;
        int failed;

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_data_flows_both_ways);
        tcase_add_test(tc, test_no_credit_leaves_bytes_in_the_kernel);
        tcase_add_test(tc, test_high_water_and_drained);
        tcase_add_test(tc, test_close_flushes_then_reports);
        tcase_add_test(tc, test_half_close_both_ways_is_done);
        tcase_add_test(tc, test_write_after_shutdown_is_epipe);
        tcase_add_test(tc, test_peer_reset_is_an_error);
        tcase_add_test(tc, test_listener_spreads_over_members);
        tcase_add_test(tc, test_unix_listener_reports_credentials_and_removes_its_file);
        tcase_add_test(tc, test_udp_round_trip);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
