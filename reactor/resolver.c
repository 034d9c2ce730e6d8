/* SPDX-License-Identifier: MIT */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "basic/log.h"
#include "handle.h"
#include "resolver.h"

/*
 * Shared between the loop and glibc's notification threads; freed when both
 * the reactor and the last query in flight have let go of it.
 */
typedef struct resolver {
        atomic_int refs;         /* the reactor's + one per query in flight */
        int fds[2];              /* [0] read by the loop, [1] written by notifications */
        sd_event_source *source; /* watches fds[0]; NULL once the reactor is gone */
} resolver;

struct rd_resolve_query {
        resolver *res;         /* shared state (referenced) */
        struct gaicb cb;       /* glibc's request */
        struct addrinfo hints; /* TCP, any family */
        char host[256];        /* the name */
        char service[8];       /* the port as text */
        rd_resolve_fn fn;      /* NULL once cancelled */
        void *userdata;        /* for fn */
};

static void resolver_unref(resolver *res)
{
        if (atomic_fetch_sub(&res->refs, 1) != 1)
                return;
        if (res->fds[0] >= 0)
                close(res->fds[0]);
        close(res->fds[1]);
        free(res);
}

static void query_free(rd_resolve_query *q)
{
        if (q->cb.ar_result)
                freeaddrinfo(q->cb.ar_result);
        resolver_unref(q->res);
        free(q);
}

/* Runs in a glibc thread: hand the query to the loop, or free it if the loop is gone. */
static void notify(union sigval sv)
{
        rd_resolve_query *q = sv.sival_ptr;

        if (send(q->res->fds[1], &q, sizeof(q), MSG_NOSIGNAL) != (ssize_t)sizeof(q))
                query_free(q);
}

static int on_done(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        rd_reactor *r = userdata;
        rd_resolve_query *q;

        while (recv(fd, &q, sizeof(q), MSG_DONTWAIT) == (ssize_t)sizeof(q)) {
                int k = gai_error(&q->cb);
                if (q->fn) {
                        int err = k == 0                                                ? 0
                                  : k == EAI_NONAME || k == EAI_NODATA || k == EAI_FAIL ? -ENOENT
                                  : k == EAI_MEMORY                                     ? -ENOMEM
                                                    : -EHOSTUNREACH;
                        q->fn(err, err == 0 ? q->cb.ar_result : NULL, q->userdata);
                }
                query_free(q);
        }
        /*
         * No query left in flight (only the reactor's reference remains, and
         * only this thread takes new ones): let the sockets go, so that an idle
         * reactord holds no descriptor it does not need. The next query makes
         * them again.
         */
        if (r->resolver && atomic_load(&r->resolver->refs) == 1)
                rd__resolver_done(r);
        return 0;
}

static resolver *get_resolver(rd_reactor *r)
{
        resolver *res = r->resolver;

        if (res)
                return res;
        res = calloc(1, sizeof(*res));
        if (!res)
                return NULL;
        atomic_init(&res->refs, 1);
        /* Datagrams: each pointer arrives whole. */
        if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, res->fds) < 0) {
                free(res);
                return NULL;
        }
        if (sd_event_add_io(r->event, &res->source, res->fds[0], EPOLLIN, on_done, r) < 0) {
                close(res->fds[0]);
                close(res->fds[1]);
                free(res);
                return NULL;
        }
        (void)sd_event_source_set_description(res->source, "resolver");
        r->resolver = res;
        return res;
}

int rd_resolve(rd_reactor *r, const char *host, uint16_t port, rd_resolve_fn fn, void *userdata,
               rd_resolve_query **ret)
{
        struct gaicb *list[1];
        struct sigevent sev = { 0 };
        rd_resolve_query *q;
        resolver *res;
        int k;

        assert_return(r && host && fn && ret, -EINVAL);
        assert_return(strlen(host) < sizeof(q->host), -ENAMETOOLONG);

        res = get_resolver(r);
        if (!res)
                return -ENOMEM;
        q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->res = res;
        atomic_fetch_add(&res->refs, 1);
        strcpy(q->host, host);
        snprintf(q->service, sizeof(q->service), "%u", (unsigned)port);
        q->hints.ai_socktype = SOCK_STREAM;
        q->hints.ai_flags = AI_ADDRCONFIG | AI_NUMERICSERV;
        q->cb.ar_name = q->host;
        q->cb.ar_service = q->service;
        q->cb.ar_request = &q->hints;
        q->fn = fn;
        q->userdata = userdata;

        sev.sigev_notify = SIGEV_THREAD;
        sev.sigev_notify_function = notify;
        sev.sigev_value.sival_ptr = q;
        list[0] = &q->cb;
        k = getaddrinfo_a(GAI_NOWAIT, list, 1, &sev);
        if (k != 0) {
                query_free(q);
                return k == EAI_MEMORY ? -ENOMEM : -EAGAIN;
        }
        *ret = q;
        return 0;
}

void rd_resolve_cancel(rd_resolve_query *q)
{
        if (q)
                q->fn = NULL; /* the completion still comes, and frees it */
}

void rd__resolver_done(rd_reactor *r)
{
        resolver *res = r->resolver;
        rd_resolve_query *q;

        if (!res)
                return;
        /* Queries still in flight keep the sockets alive until they complete. */
        res->source = sd_event_source_disable_unref(res->source);
        while (recv(res->fds[0], &q, sizeof(q), MSG_DONTWAIT) == (ssize_t)sizeof(q))
                query_free(q);
        /* With the reading end gone, a late completion's send fails and frees its query. */
        close(res->fds[0]);
        res->fds[0] = -1;
        r->resolver = NULL;
        resolver_unref(res);
}
