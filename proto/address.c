/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "address.h"

int rd_address_from_ip(const char *host, uint16_t port, int family, rd_address *ret)
{
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ret->sa;
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ret->sa;
        struct in_addr a4;

        *ret = (rd_address){ 0 };
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
                if (family == AF_INET)
                        return -EAFNOSUPPORT;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                ret->len = sizeof(*s6);
                return 0;
        }
        if (inet_pton(AF_INET, host, &a4) != 1)
                return -EINVAL;
        if (family == AF_INET6) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                s6->sin6_addr.s6_addr[10] = 0xff;
                s6->sin6_addr.s6_addr[11] = 0xff;
                memcpy(&s6->sin6_addr.s6_addr[12], &a4, 4);
                ret->len = sizeof(*s6);
                return 0;
        }
        s4->sin_family = AF_INET;
        s4->sin_port = htons(port);
        s4->sin_addr = a4;
        ret->len = sizeof(*s4);
        return 0;
}

int rd_address_from_unix(const char *name, size_t len, bool abstract, rd_address *ret)
{
        struct sockaddr_un *su = (struct sockaddr_un *)&ret->sa;
        size_t off = abstract ? 1 : 0;

        *ret = (rd_address){ 0 };
        /* A path needs its NUL; an abstract name its leading NUL. */
        if (len == 0 || len + 1 > sizeof(su->sun_path) || memchr(name, '\0', len))
                return len == 0 || memchr(name, '\0', len) ? -EINVAL : -ENAMETOOLONG;
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path + off, name, len);
        ret->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + off + len + !abstract);
        return 0;
}

uint16_t rd_address_port(const rd_address *a)
{
        if (a->sa.ss_family == AF_INET)
                return ntohs(((const struct sockaddr_in *)&a->sa)->sin_port);
        if (a->sa.ss_family == AF_INET6)
                return ntohs(((const struct sockaddr_in6 *)&a->sa)->sin6_port);
        return 0;
}

static size_t unix_name_len(const rd_address *a)
{
        return a->len > offsetof(struct sockaddr_un, sun_path)
                       ? a->len - offsetof(struct sockaddr_un, sun_path)
                       : 0;
}

uint32_t rd_address_n_fields(const rd_address *a)
{
        switch (a->len ? a->sa.ss_family : AF_UNSPEC) {
        case AF_INET:
        case AF_INET6:
                return 2;
        case AF_UNIX: {
                const struct sockaddr_un *su = (const struct sockaddr_un *)&a->sa;
                size_t n = unix_name_len(a);
                bool named = n > 0 && !(n == 1 && su->sun_path[0] == '\0');
                return (a->has_cred ? 3 : 0) + named;
        }
        default:
                return 0;
        }
}

void rd_write_address_fields(rd_writer *w, const rd_address *a)
{
        char host[INET6_ADDRSTRLEN];

        switch (a->len ? a->sa.ss_family : AF_UNSPEC) {
        case AF_INET: {
                const struct sockaddr_in *s4 = (const struct sockaddr_in *)&a->sa;
                inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
                rd_write_kv_str(w, "host", host);
                rd_write_kv_uint(w, "port", ntohs(s4->sin_port));
                return;
        }
        case AF_INET6: {
                const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->sa;
                if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
                        inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host, sizeof(host));
                else
                        inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
                rd_write_kv_str(w, "host", host);
                rd_write_kv_uint(w, "port", ntohs(s6->sin6_port));
                return;
        }
        case AF_UNIX: {
                const struct sockaddr_un *su = (const struct sockaddr_un *)&a->sa;
                size_t n = unix_name_len(a);
                bool named = n > 0 && !(n == 1 && su->sun_path[0] == '\0');

                if (named && su->sun_path[0] == '\0') {
                        rd_write_str(w, "abstract");
                        rd_write_strn(w, su->sun_path + 1, n - 1);
                } else if (named) {
                        rd_write_str(w, "path");
                        rd_write_strn(w, su->sun_path, strnlen(su->sun_path, n));
                }
                if (a->has_cred) {
                        rd_write_kv_int(w, "pid", a->pid);
                        rd_write_kv_uint(w, "uid", a->uid);
                        rd_write_kv_uint(w, "gid", a->gid);
                }
                return;
        }
        default:
                return;
        }
}

void rd_write_address(rd_writer *w, const rd_address *a)
{
        rd_write_map(w, rd_address_n_fields(a));
        rd_write_address_fields(w, a);
}
