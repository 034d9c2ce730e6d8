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
 * The group whose members may reach a root reactord (the system bus). When
 * reactord runs as root and the group exists, a directory it creates for the
 * endpoint is 0750 root:RD_BUS_GROUP and the socket 0660 root:RD_BUS_GROUP;
 * otherwise both are the owner's only (0700, and the umask's socket).
 * Membership lets a user ask the daemon for anything it can do, spawning
 * processes as root included.
 */
#define RD_BUS_GROUP "reactord"

/*
 * Create the endpoint's directory (mode 0700, or 0750 with the bus group as
 * above) if missing, take the lock and remove a stale socket file. A directory
 * that exists is left as it is. Returns the lock fd (keep it open while
 * serving), -EADDRINUSE when another process serves the endpoint (a message is
 * logged), or another -errno. Endpoints that are not ipc:// need no claim:
 * returns -EBADF.
 */
int rd_endpoint_claim(const char *endpoint);

/*
 * After binding: as root with the bus group, make the socket file 0660
 * root:RD_BUS_GROUP. Does nothing (returns 0) when not root, when the group
 * does not exist, or for endpoints that are not ipc://. Returns 0 or -errno
 * (logged).
 */
int rd_endpoint_grant(const char *endpoint);

/* Remove the socket file and drop the lock. Accepts lock_fd < 0. */
void rd_endpoint_release(const char *endpoint, int lock_fd);
