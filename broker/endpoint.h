/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Claiming an ipc:// endpoint for one reactord. A lock file beside the socket
 * ("bus.lock") is held with flock() for the daemon's lifetime: a second
 * reactord finds it locked and refuses to start, and a lock left by a dead
 * one is free again, so its stale socket file can be replaced. libzmq would
 * otherwise unlink and steal a live socket file on bind.
 */

/*
 * Create the endpoint's directory (mode 0700) if missing, take the lock and
 * remove a stale socket file. Returns the lock fd (keep it open while serving),
 * -EADDRINUSE when another process serves the endpoint (a message is logged),
 * or another -errno. Endpoints that are not ipc:// need no claim: returns -EBADF.
 */
int rd_endpoint_claim(const char *endpoint);

/* Remove the socket file and drop the lock. Accepts lock_fd < 0. */
void rd_endpoint_release(const char *endpoint, int lock_fd);
