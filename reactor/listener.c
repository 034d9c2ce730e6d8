/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "basic/log.h"
#include "handle.h"
#include "listener.h"
#include "stream.h"

/* Connections accepted per wake-up: other sources get their turn. */
#define ACCEPT_BATCH 32
/* Pause after the process ran out of fds, instead of spinning on a ready socket. */
#define ACCEPT_RETRY_USEC (100 * USEC_PER_MSEC)

typedef struct listen_socket {
        rd_reactor *reactor;              /* the reactor */
        int fd;                           /* the listening socket */
        sd_event_source *io;              /* watches fd */
        sd_event_source *retry;           /* re-enables io after EMFILE, or NULL */
        char *name;                       /* shared under this name, or NULL */
        uint64_t name_hash;               /* rd_hash_bytes(name) */
        rd_list members;                  /* rd_listener handles */
        size_t n_members;                 /* length of members */
        rd_list *cursor;                  /* the member that gets the next connection */
        rd_address local;                 /* bound address */
        char *unlink_path;                /* UNIX socket file to remove on close, or NULL */
        bool waiting;                     /* no member has credit: not accepting */
        void (*on_close)(void *userdata); /* adopted: tell the socket's keeper, or NULL */
        void *userdata;                   /* for on_close */
        uid_t uid;                        /* the user its creator acted for */
} listen_socket;

typedef struct rd_listener {
        rd_handle handle;    /* base; must be first */
        listen_socket *sock; /* the shared socket */
        rd_list member_link; /* in sock->members */
} rd_listener;

static bool match_name(const void *value, const void *key)
{
        const listen_socket *ls = value;
        const char *const *k = key;
        return strcmp(ls->name, *k) == 0;
}

static void socket_free(listen_socket *ls)
{
        if (ls->name) {
                rd_hashmap_remove(&ls->reactor->listener_names, ls->name_hash, match_name,
                                  &(const char *){ ls->name });
                free(ls->name);
        }
        ls->io = sd_event_source_disable_unref(ls->io);
        ls->retry = sd_event_source_disable_unref(ls->retry);
        if (ls->fd >= 0)
                close(ls->fd);
        if (ls->unlink_path) {
                (void)unlink(ls->unlink_path);
                free(ls->unlink_path);
        }
        if (ls->on_close)
                ls->on_close(ls->userdata);
        free(ls);
}

static rd_listener *member_at(rd_list *link)
{
        return rd_container_of(link, rd_listener, member_link);
}

/*
 * The next member, round-robin, whose owner has credit; NULL when none has.
 * The cursor moves only when a connection is really handed over (see
 * on_io()): a turn is not spent on an accept that finds nothing.
 */
static rd_listener *pick(listen_socket *ls)
{
        rd_list *i = ls->cursor;

        for (size_t n = 0; n < ls->n_members; n++) {
                if (i == &ls->members)
                        i = i->next;
                rd_listener *m = member_at(i);
                if (rd__owner_has_credit(m->handle.owner))
                        return m;
                i = i->next;
        }
        return NULL;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
        listen_socket *ls = userdata;

        ls->retry = sd_event_source_disable_unref(ls->retry);
        if (!ls->waiting)
                (void)sd_event_source_set_enabled(ls->io, SD_EVENT_ON);
        return 0;
}

static void accept_one(listen_socket *ls, rd_listener *m, int fd, const rd_address *peer_in)
{
        rd_address peer = *peer_in, local = { 0 };
        rd_event ev = { .type = RD_EVENT_LISTENER_ACCEPTED, .handle = m->handle.id };
        uint64_t sid;
        int k;

        local.len = sizeof(local.sa);
        if (getsockname(fd, (struct sockaddr *)&local.sa, &local.len) < 0)
                local = ls->local;
        if (peer.sa.ss_family == AF_UNIX) {
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                        peer.has_cred = true;
                        peer.pid = cred.pid;
                        peer.uid = cred.uid;
                        peer.gid = cred.gid;
                }
        }
        k = rd_stream_adopt(ls->reactor, m->handle.owner, fd, &peer, &local, &sid);
        if (k < 0) {
                log_handle(RD_LOG_WARNING, &m->handle,
                           "listener %" PRIu64 ": dropped a connection: %s", m->handle.id,
                           strerror(-k));
                return;
        }
        ev.accepted.stream = sid;
        ev.accepted.peer = &peer;
        ev.accepted.local = &local;
        rd__handle_emit(&m->handle, &ev);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
        listen_socket *ls = userdata;

        for (int n = 0; n < ACCEPT_BATCH; n++) {
                rd_address peer = { 0 };
                rd_listener *m = pick(ls);
                int cfd;

                if (!m) {
                        /* Everyone is behind: leave connections in the backlog. */
                        ls->waiting = true;
                        (void)sd_event_source_set_enabled(ls->io, SD_EVENT_OFF);
                        RD_LIST_FOREACH (i, &ls->members)
                                rd__handle_stall(&member_at(i)->handle);
                        return 0;
                }
                peer.len = sizeof(peer.sa);
                cfd = accept4(fd, (struct sockaddr *)&peer.sa, &peer.len,
                              SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                            errno == ENOMEM) {
                                log_warning("cannot accept: %s; pausing the listener",
                                            strerror(errno));
                                (void)sd_event_source_set_enabled(ls->io, SD_EVENT_OFF);
                                if (!ls->retry)
                                        (void)sd_event_add_time_relative(
                                                ls->reactor->event, &ls->retry, CLOCK_MONOTONIC,
                                                ACCEPT_RETRY_USEC, USEC_PER_MSEC, on_retry, ls);
                                return 0;
                        }
                        continue; /* ECONNABORTED and the like: that connection only */
                }
                ls->cursor = m->member_link.next;
                accept_one(ls, m, cfd, &peer);
        }
        return 0;
}

/* ---- member handles ---- */

static void listener_free(rd_handle *h)
{
        rd_listener *m = (rd_listener *)h;
        listen_socket *ls = m->sock;

        if (ls->cursor == &m->member_link)
                ls->cursor = m->member_link.next;
        rd_list_remove(&m->member_link);
        ls->n_members--;
        free(m);
        if (ls->n_members == 0)
                socket_free(ls);
}

static void listener_resume(rd_handle *h)
{
        listen_socket *ls = ((rd_listener *)h)->sock;

        if (!ls->waiting)
                return;
        ls->waiting = false;
        if (!ls->retry)
                (void)sd_event_source_set_enabled(ls->io, SD_EVENT_ON);
}

static uint32_t listener_describe(rd_handle *h, rd_writer *w, bool count_only)
{
        listen_socket *ls = ((rd_listener *)h)->sock;

        if (count_only)
                return 3;
        rd_write_str(w, "local");
        rd_write_address(w, &ls->local);
        rd_write_kv_str(w, "name", ls->name);
        rd_write_kv_uint(w, "members", ls->n_members);
        return 3;
}

static int listener_get_fd(rd_handle *h)
{
        return ((rd_listener *)h)->sock->fd;
}

static const rd_handle_ops listener_ops = {
        .get_fd = listener_get_fd,
        .free = listener_free,
        .resume = listener_resume,
        .describe = listener_describe,
};

static int add_member(listen_socket *ls, rd_owner *owner, uint64_t *id)
{
        rd_listener *m = calloc(1, sizeof(*m));
        int k;

        if (!m)
                return -ENOMEM;
        m->sock = ls;
        k = rd__handle_register(ls->reactor, owner, &m->handle, RD_HANDLE_LISTENER, &listener_ops);
        if (k < 0) {
                free(m);
                return k;
        }
        rd_list_append(&ls->members, &m->member_link);
        ls->n_members++;
        if (ls->cursor == &ls->members)
                ls->cursor = &m->member_link;
        *id = m->handle.id;
        return 0;
}

/* A socket that listens, with ls->local set: watch it, add its first member for `owner`, share
 * it as `name` (may be NULL). Frees `ls` on failure. */
static int serve(listen_socket *ls, rd_owner *owner, const char *name, size_t name_len,
                 uint64_t *id, rd_address *bound)
{
        rd_reactor *r = ls->reactor;
        int k;

        k = sd_event_add_io(r->event, &ls->io, ls->fd, EPOLLIN, on_io, ls);
        if (k < 0)
                goto fail;
        (void)sd_event_source_set_description(ls->io, "listener");
        k = add_member(ls, owner, id);
        if (k < 0)
                goto fail;
        if (name) {
                ls->name = strndup(name, name_len);
                if (!ls->name || rd_hashmap_put(&r->listener_names,
                                                ls->name_hash = rd_hash_bytes(ls->name, name_len),
                                                match_name, &(const char *){ ls->name }, ls) < 0) {
                        free(ls->name);
                        ls->name = NULL;
                        rd_handle_close(&member_at(ls->members.next)->handle); /* frees ls */
                        return -ENOMEM;
                }
        }
        *bound = ls->local;
        return 0;
fail:
        socket_free(ls);
        return k;
}

/* Is a listener shared as `name` already? *error is what to return then (-EEXIST, -ENOMEM). */
static bool name_taken(rd_reactor *r, const char *name, size_t name_len, int *error)
{
        _cleanup_free_ char *key = strndup(name, name_len);

        if (!key) {
                *error = -ENOMEM;
                return true;
        }
        *error = -EEXIST;
        return rd_hashmap_get(&r->listener_names, rd_hash_bytes(key, name_len), match_name,
                              &(const char *){ key }) != NULL;
}

/* ---- API ---- */

int rd_listener_open(rd_reactor *r, rd_owner *owner, const rd_listen *args, uint64_t *id,
                     rd_address *bound)
{
        listen_socket *ls;
        int one = 1, k;

        assert_return(r && owner && args && id && bound, -EINVAL);

        if (args->name && name_taken(r, args->name, args->name_len, &k))
                return k;

        ls = calloc(1, sizeof(*ls));
        if (!ls)
                return -ENOMEM;
        ls->reactor = r;
        ls->fd = -EBADF;
        ls->uid = owner->uid;
        rd_list_init(&ls->members);
        ls->cursor = &ls->members;

        ls->fd = socket(args->addr.sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (ls->fd < 0) {
                k = -errno;
                goto fail;
        }
        if (args->addr.sa.ss_family != AF_UNIX) {
                int zero = 0;
                (void)setsockopt(ls->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
                if (args->addr.sa.ss_family == AF_INET6)
                        (void)setsockopt(ls->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        }
        if (args->reuse_port &&
            setsockopt(ls->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
                k = -errno;
                goto fail;
        }
        if (bind(ls->fd, (const struct sockaddr *)&args->addr.sa, args->addr.len) < 0) {
                k = -errno;
                goto fail;
        }
        if (args->addr.sa.ss_family == AF_UNIX) {
                const struct sockaddr_un *su = (const struct sockaddr_un *)&args->addr.sa;
                if (su->sun_path[0] != '\0') {
                        ls->unlink_path = strdup(su->sun_path);
                        if (!ls->unlink_path) {
                                (void)unlink(su->sun_path);
                                k = -ENOMEM;
                                goto fail;
                        }
                        if (args->mode >= 0 && chmod(su->sun_path, (mode_t)args->mode) < 0) {
                                k = -errno;
                                goto fail;
                        }
                }
        }
        if (listen(ls->fd, args->backlog > 0 ? args->backlog : 128) < 0) {
                k = -errno;
                goto fail;
        }
        ls->local.len = sizeof(ls->local.sa);
        if (getsockname(ls->fd, (struct sockaddr *)&ls->local.sa, &ls->local.len) < 0)
                ls->local = args->addr;
        /* An abstract or bound path reads back as we gave it; keep ours for UNIX. */
        if (args->addr.sa.ss_family == AF_UNIX)
                ls->local = args->addr;
        return serve(ls, owner, args->name, args->name_len, id, bound);
fail:
        socket_free(ls);
        return k;
}

int rd_listener_join(rd_reactor *r, rd_owner *owner, const char *name, size_t name_len,
                     uint64_t *id, rd_address *bound)
{
        _cleanup_free_ char *key = strndup(name, name_len);
        listen_socket *ls;
        int k;

        if (!key)
                return -ENOMEM;
        ls = rd_hashmap_get(&r->listener_names, rd_hash_bytes(key, name_len), match_name,
                            &(const char *){ key });
        if (!ls)
                return -ENOENT;
        if (!rd__owner_may_act_for(owner, ls->uid))
                return -EPERM;
        k = add_member(ls, owner, id);
        if (k < 0)
                return k;
        *bound = ls->local;
        return 0;
}

int rd_listener_adopt(rd_reactor *r, rd_owner *owner, const rd_listen_adopt *args, uint64_t *id,
                      rd_address *bound)
{
        listen_socket *ls;
        socklen_t len = sizeof(int);
        int type = 0, on = 0, k;

        assert_return(r && owner && args && args->fd >= 0 && id && bound, -EINVAL);

        if (getsockopt(args->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
                return -errno;
        len = sizeof(on);
        if (getsockopt(args->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0)
                return -errno;
        if (type != SOCK_STREAM || !on)
                return -EINVAL;
        if (args->name && name_taken(r, args->name, args->name_len, &k))
                return k;

        ls = calloc(1, sizeof(*ls));
        if (!ls)
                return -ENOMEM;
        ls->reactor = r;
        ls->uid = owner->uid;
        rd_list_init(&ls->members);
        ls->cursor = &ls->members;
        /* A duplicate: closing the listener leaves the keeper's socket open and bound. */
        ls->fd = fcntl(args->fd, F_DUPFD_CLOEXEC, 3);
        if (ls->fd < 0) {
                k = -errno;
                free(ls);
                return k;
        }
        ls->local.len = sizeof(ls->local.sa);
        if (getsockname(ls->fd, (struct sockaddr *)&ls->local.sa, &ls->local.len) < 0)
                ls->local.len = 0;
        k = serve(ls, owner, args->name, args->name_len, id, bound);
        if (k < 0)
                return k; /* `ls` is gone, and the keeper's socket was never taken */
        ls->on_close = args->on_close;
        ls->userdata = args->userdata;
        return 0;
}
