/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The default bus endpoint, computed the same way by reactord and its clients
 * (PROTOCOL.md §1): $XDG_RUNTIME_DIR/reactord/bus, else /run/reactord/bus for
 * root, else /tmp/reactord-$UID/bus, all as ipc:// URIs.
 */

/* A malloc'd "ipc://..." string, or NULL on ENOMEM. Does not look at $REACTORD_ENDPOINT. */
char *rd_endpoint_default(void);

/* The file system path of an ipc:// endpoint (borrowed from `endpoint`), or NULL. */
const char *rd_endpoint_ipc_path(const char *endpoint);
