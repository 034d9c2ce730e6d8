/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "error.h"

static const struct {
        int err;
        const char *name;
        const char *message;
} table[] = {
        { EINVAL, "EINVAL", "invalid argument" },
        { ENOENT, "ENOENT", "no such handle or object" },
        { EPERM, "EPERM", "operation not permitted" },
        { EACCES, "EACCES", "permission denied" },
        { EAGAIN, "EAGAIN", "resource temporarily unavailable, try again later" },
        { EPROTO, "EPROTO", "protocol error" },
        { EBADMSG, "EBADMSG", "frame is not valid msgpack" },
        { E2BIG, "E2BIG", "frame or argument too large" },
        { ENOTSUP, "ENOTSUP", "not supported" },
        { ENOSYS, "ENOSYS", "unknown method" },
        { ENOTCONN, "ENOTCONN", "no session: send session.hello first" },
        { EALREADY, "EALREADY", "session already established" },
        { EMFILE, "EMFILE", "too many handles" },
        { EUSERS, "EUSERS", "too many sessions" },
        { ENOMEM, "ENOMEM", "out of memory" },
        { EEXIST, "EEXIST", "already exists" },
        { EBUSY, "EBUSY", "resource busy" },
        { ECANCELED, "ECANCELED", "operation cancelled" },
        { ETIMEDOUT, "ETIMEDOUT", "timed out" },
        { ESHUTDOWN, "ESHUTDOWN", "reactord is shutting down" },
        { EADDRINUSE, "EADDRINUSE", "address already in use" },
        { EADDRNOTAVAIL, "EADDRNOTAVAIL", "address not available" },
        { EAFNOSUPPORT, "EAFNOSUPPORT", "address family not supported" },
        { ENAMETOOLONG, "ENAMETOOLONG", "name too long" },
        { ECONNREFUSED, "ECONNREFUSED", "connection refused" },
        { ECONNRESET, "ECONNRESET", "connection reset by peer" },
        { ECONNABORTED, "ECONNABORTED", "connection aborted" },
        { EPIPE, "EPIPE", "the stream is shut for writing" },
        { EHOSTUNREACH, "EHOSTUNREACH", "host unreachable" },
        { ENETUNREACH, "ENETUNREACH", "network unreachable" },
        { EMSGSIZE, "EMSGSIZE", "message too long" },
        { ENODEV, "ENODEV", "no such interface" },
        { ENOTDIR, "ENOTDIR", "a path component is not a directory" },
        { ENOEXEC, "ENOEXEC", "not an executable format" },
        { ESRCH, "ESRCH", "no such process" },
        { EIO, "EIO", "input/output error" },
};

static int find(int err)
{
        err = ERRNO_ABS(err);
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (table[i].err == err)
                        return (int)i;
        return -1;
}

const char *rd_error_name(int err)
{
        int i = find(err);
        return i >= 0 ? table[i].name : "EIO";
}

const char *rd_error_message(int err)
{
        int i = find(err);
        return i >= 0 ? table[i].message : strerror(ERRNO_ABS(err));
}

int rd_error_from_name(const char *name, size_t n)
{
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (strlen(table[i].name) == n && memcmp(table[i].name, name, n) == 0)
                        return -table[i].err;
        return -EIO;
}
