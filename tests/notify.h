/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The service manager's side of sd_notify(3), for tests that start reactord
 * with NOTIFY_SOCKET pointing at them.
 */

#include <stdbool.h>
#include <stddef.h>

/* Bind a datagram socket at `dir`/notify; its path goes to `path`. Returns the fd. */
int notify_listen(const char *dir, char *path, size_t size);

/* Whether a datagram containing `what` arrives on `fd` within `timeout` seconds; others are
 * skipped. */
bool notify_next(int fd, const char *what, double timeout);
