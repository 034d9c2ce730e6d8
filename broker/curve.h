/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_curve: CURVE security for the bus (PROTOCOL.md, "Security"). reactord's
 * key pair makes the ROUTER a CURVE server, so every connection is encrypted
 * and the server is authenticated; a ZAP handler (ZeroMQ RFC 27) decides
 * which clients may complete the handshake. The handler is a REP socket bound
 * to inproc://zeromq.zap.01 in the broker's context, served by the event
 * loop through its ZMQ_FD like the ROUTER: no thread. It admits a client only
 * when its public key is in one of the files NAME.pub of the allow directory,
 * and gives the connection the User-Id NAME, which its session then shows.
 */

#include <stdbool.h>
#include <stddef.h>
#include <systemd/sd-event.h>

typedef struct rd_curve rd_curve;

/*
 * Read reactord's key pair from `key_path` (a NAME.key file) and the allowed
 * client keys from `allow_dir`, and bind the ZAP handler in `zctx`, watched
 * on `event`. Call before any socket of `zctx` binds, so that no handshake
 * can happen without the handler. Every failure is logged. Returns 0 or
 * -errno; on success the caller owns *ret.
 */
int rd_curve_new(sd_event *event, void *zctx, const char *key_path, const char *allow_dir,
                 rd_curve **ret);
/* Close the handler (before the context is terminated) and free. Accepts NULL; returns NULL. */
rd_curve *rd_curve_free(rd_curve *c);

/* Make `socket` a CURVE server with reactord's key. Call before it binds. Returns 0 or -errno. */
int rd_curve_apply(rd_curve *c, void *socket);

/*
 * Read the allow directory again, from `allow_dir` (which may name another
 * directory than before). On failure the keys in effect are kept. Returns
 * the number of keys now allowed, or -errno (logged).
 */
int rd_curve_reload(rd_curve *c, const char *allow_dir);

/* Whether `user`, a User-Id this handler gave a connection, is still allowed. */
bool rd_curve_allows(const rd_curve *c, const char *user);
