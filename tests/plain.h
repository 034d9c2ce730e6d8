/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Plain POSIX steps the integration suites share: a TCP connection to a
 * loopback port, and waiting for a process to exit.
 */

#include <stdint.h>
#include <sys/types.h>

/* A blocking TCP connection to 127.0.0.1:`port`; fails the test when refused. */
int plain_tcp_connect(uint16_t port);

/* Wait up to `timeout` seconds for `pid` to exit: its wait status, or -1 when it did not. */
int plain_wait_exit(pid_t pid, double timeout);
