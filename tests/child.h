/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Helper processes for integration tests: a forked child runs a function and
 * talks to the test through two pipes. Children get SIGKILL if the test
 * process dies; child_cleanup() kills the rest and closes the pipes.
 */

#include <stddef.h>
#include <sys/types.h>

/* Runs in the child; it must not ck_assert() or exit() (the test's cleanup would run). */
typedef void (*child_fn)(int in, int out, const void *arg);

/* Fork a child running fn(in, out, arg). *to_child and *from_child are the test's pipe ends. */
pid_t child_start(child_fn fn, const void *arg, int *to_child, int *from_child);
/* SIGKILL and reap a child started here. */
void child_kill(pid_t pid);
/* Read exactly `n` bytes that a child sends up its pipe (fails the test after 20 s). */
void child_read(int fd, void *buf, size_t n);
/* Kill every child still running and close every pipe end. Idempotent. */
void child_cleanup(void);
