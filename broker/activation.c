/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "activation.h"
#include "basic/log.h"

/* The FileDescriptorName= of the bus socket. */
#define BUS_NAME "bus"
/* What sd_listen_fds_with_names() reports when $LISTEN_FDNAMES is not set. */
#define NO_NAME "unknown"

static void strv_free(char **v)
{
        if (!v)
                return;
        for (char **i = v; *i; i++)
                free(*i);
        free(v);
}

/* Make a passed fd ours: non-blocking (the loop and ZeroMQ poll it) and close-on-exec. */
static int prepare(int fd)
{
        int flags = fcntl(fd, F_GETFL);

        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
                return -errno;
        return 0;
}

static int describe(rd_activated *s)
{
        socklen_t len = sizeof(s->type);
        int on = 0;

        if (getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &s->type, &len) < 0)
                return -errno;
        len = sizeof(on);
        s->listening = getsockopt(s->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on;
        s->address.len = sizeof(s->address.sa);
        if (getsockname(s->fd, (struct sockaddr *)&s->address.sa, &s->address.len) < 0)
                return -errno;
        s->family = s->address.sa.ss_family;
        return 0;
}

int rd_activation_endpoint_of(const rd_address *a, char **ret)
{
        char host[INET6_ADDRSTRLEN];
        int k = -1;

        switch (a->sa.ss_family) {
        case AF_UNIX: {
                const struct sockaddr_un *su = (const struct sockaddr_un *)&a->sa;
                size_t n = a->len > offsetof(struct sockaddr_un, sun_path)
                                   ? a->len - offsetof(struct sockaddr_un, sun_path)
                                   : 0;

                if (n <= 1)
                        return -EAFNOSUPPORT; /* unnamed: nothing to connect to */
                if (su->sun_path[0] == '\0')
                        k = asprintf(ret, "ipc://@%.*s", (int)(n - 1), su->sun_path + 1);
                else
                        k = asprintf(ret, "ipc://%.*s", (int)strnlen(su->sun_path, n),
                                     su->sun_path);
                break;
        }
        case AF_INET: {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
                k = asprintf(ret, "tcp://%s:%u", host, ntohs(s4->sin_port));
                break;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
                inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
                k = asprintf(ret, "tcp://[%s]:%u", host, ntohs(s6->sin6_port));
                break;
        }
        default:
                return -EAFNOSUPPORT;
        }
        return k < 0 ? -ENOMEM : 0;
}

/* The index of the bus socket, or -1: the one named "bus", else the only one if unnamed. */
static ssize_t find_bus(rd_activation *a)
{
        for (size_t i = 0; i < a->n_sockets; i++)
                if (strcmp(a->sockets[i].name, BUS_NAME) == 0)
                        return (ssize_t)i;
        if (a->n_sockets == 1 && strcmp(a->sockets[0].name, NO_NAME) == 0)
                return 0;
        return -1;
}

/* Move the bus socket out of the pool into a->bus_fd, after checking it can serve ZeroMQ. */
static int take_bus(rd_activation *a)
{
        ssize_t i = find_bus(a);
        rd_activated *s;
        int k;

        if (i < 0)
                return 0;
        s = &a->sockets[i];
        if (s->type != SOCK_STREAM || !s->listening) {
                log_error("the activated socket '%s' is not a listening stream socket; "
                          "it cannot serve the bus",
                          s->name);
                return -EINVAL;
        }
        k = rd_activation_endpoint_of(&s->address, &a->bus_endpoint);
        if (k < 0) {
                log_error("the activated socket '%s' has no address ZeroMQ can serve: %s", s->name,
                          strerror(-k));
                return k;
        }
        a->bus_fd = s->fd;
        free(s->name);
        memmove(s, s + 1, (a->n_sockets - (size_t)i - 1) * sizeof(*s));
        a->n_sockets--;
        return 0;
}

int rd_activation_new(rd_activation **ret)
{
        _cleanup_(rd_activation_freep) rd_activation *a = NULL;
        char **names = NULL;
        int n, k;

        assert_return(ret, -EINVAL);

        /* unset: the variables are for us, not for the children reactord spawns. */
        n = sd_listen_fds_with_names(true, &names);
        if (n < 0) {
                strv_free(names);
                return log_error_errno(n, "cannot take the activated sockets: %s", strerror(-n));
        }
        if (n == 0) {
                strv_free(names);
                *ret = NULL;
                return 0;
        }

        a = calloc(1, sizeof(*a));
        if (a)
                a->sockets = calloc((size_t)n, sizeof(*a->sockets));
        if (!a || !a->sockets) {
                /* Not ours to keep then: close them rather than leak them into children. */
                for (int i = 0; i < n; i++)
                        close(SD_LISTEN_FDS_START + i);
                strv_free(names);
                return -ENOMEM;
        }
        a->bus_fd = -EBADF;
        for (int i = 0; i < n; i++) {
                rd_activated *s = &a->sockets[i];

                s->fd = SD_LISTEN_FDS_START + i;
                a->n_sockets++;
                s->name = strdup(names && names[i] ? names[i] : NO_NAME);
                if (!s->name) {
                        k = -ENOMEM;
                        goto fail;
                }
                k = prepare(s->fd);
                if (k >= 0)
                        k = describe(s);
                if (k < 0) {
                        log_error("activated socket %d ('%s'): %s", s->fd, s->name, strerror(-k));
                        goto fail;
                }
        }
        strv_free(names);
        names = NULL;

        k = take_bus(a);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(a);
        return 0;
fail:
        /* Sockets not yet in the pool are closed here; the pool's by its cleanup. */
        for (int i = (int)a->n_sockets; i < n; i++)
                close(SD_LISTEN_FDS_START + i);
        strv_free(names);
        return k;
}

rd_activation *rd_activation_free(rd_activation *a)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_sockets; i++) {
                free(a->sockets[i].name);
                if (a->sockets[i].fd >= 0)
                        close(a->sockets[i].fd);
        }
        if (a->bus_fd >= 0)
                close(a->bus_fd);
        free(a->sockets);
        free(a->bus_endpoint);
        free(a);
        return NULL;
}

rd_activated *rd_activation_find(rd_activation *a, const char *name, size_t len)
{
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_sockets; i++)
                if (strlen(a->sockets[i].name) == len && memcmp(a->sockets[i].name, name, len) == 0)
                        return &a->sockets[i];
        return NULL;
}

const char *rd_activated_family_name(const rd_activated *s)
{
        switch (s->family) {
        case AF_UNIX:
                return "unix";
        case AF_INET:
                return "inet";
        case AF_INET6:
                return "inet6";
        default:
                return "other";
        }
}

const char *rd_activated_type_name(const rd_activated *s)
{
        switch (s->type) {
        case SOCK_STREAM:
                return "stream";
        case SOCK_DGRAM:
                return "dgram";
        case SOCK_SEQPACKET:
                return "seqpacket";
        default:
                return "other";
        }
}

void rd_activated_release(void *userdata)
{
        rd_activated *s = userdata;

        s->taken = false;
        log_info("activated socket '%s' is back in the pool", s->name);
}

void rd_activation_write(const rd_activation *a, rd_writer *w)
{
        size_t n = a ? a->n_sockets : 0;

        rd_write_array(w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                const rd_activated *s = &a->sockets[i];

                rd_write_map(w, 5);
                rd_write_kv_str(w, "name", s->name);
                rd_write_kv_str(w, "family", rd_activated_family_name(s));
                rd_write_kv_str(w, "type", rd_activated_type_name(s));
                rd_write_str(w, "address");
                rd_write_address(w, &s->address);
                rd_write_kv_bool(w, "taken", s->taken);
        }
}
