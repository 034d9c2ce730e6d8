/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small macros shared by the daemon and the client library, in the spirit of
 * systemd's src/basic/macro.h: argument checks that return -errno, cleanup
 * attributes and ownership transfer helpers.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>

#define RD_EXPORT __attribute__((visibility("default")))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

/* The struct of type `type` whose member `member` is at `ptr`. */
#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define _likely_(x)    (__builtin_expect(!!(x), 1))
#define _unlikely_(x)  (__builtin_expect(!!(x), 0))
#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))

/* Check a public function's argument; on failure return `r` (a -errno). */
#define assert_return(expr, r)                                                                     \
        do {                                                                                       \
                if (_unlikely_(!(expr)))                                                           \
                        return (r);                                                                \
        } while (0)

/* Hand a pointer or fd over to someone else: the local cleanup sees NULL/-EBADF. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p_ = (p);                                                           \
                (p) = NULL;                                                                        \
                _p_;                                                                               \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd_ = (fd);                                                                   \
                (fd) = -EBADF;                                                                     \
                _fd_;                                                                              \
        })

static inline void freep(void *p)
{
        free(*(void **)p);
}

static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}

#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Define a cleanup helper `name##p` for a type freed by `fn` (which accepts NULL). */
#define DEFINE_CLEANUP_FUNC(type, fn)                                                              \
        static inline void fn##p(type **p)                                                         \
        {                                                                                          \
                if (*p)                                                                            \
                        fn(*p);                                                                    \
        }

#define USEC_PER_SEC  UINT64_C(1000000)
#define USEC_PER_MSEC UINT64_C(1000)
#define NSEC_PER_USEC UINT64_C(1000)
#define USEC_INFINITY UINT64_MAX

/* Positive errno from a -errno return, for messages. */
#define ERRNO_ABS(r) ((r) < 0 ? -(r) : (r))
