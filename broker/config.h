/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_config: reactord's configuration file. One setting a line, `key = value`;
 * `#` starts a comment line; blank lines are skipped. Keys: endpoint,
 * log-level, max-sessions, max-handles, max-frame, max-processes,
 * max-write-buffer, lease (default session lease, seconds), window (default
 * credit window, bytes), curve-secret-key (reactord's CURVE key file) and
 * curve-allow (the directory of allowed client keys), both absolute paths. A
 * file with an unknown key, a bad value or a line without `=` is refused as a
 * whole.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "broker.h"

typedef struct rd_config {
        char *endpoint;          /* owned; NULL when not set */
        int log_level;           /* an rd_log_level, or -1 when not set */
        size_t max_sessions;     /* 0 when not set */
        size_t max_handles;      /* 0 when not set */
        size_t max_frame;        /* bytes; 0 when not set */
        size_t max_processes;    /* process instances per session; 0 when not set */
        size_t max_write_buffer; /* bytes per session; 0 when not set */
        uint64_t lease;          /* default session lease, µs; 0 when not set */
        uint64_t window;         /* default credit window, bytes; 0 when not set */
        char *curve_secret_key;  /* owned; NULL when not set */
        char *curve_allow;       /* owned; NULL when not set */
} rd_config;

/* Nothing set. */
#define RD_CONFIG_EMPTY                                                                            \
        {                                                                                          \
                .log_level = -1                                                                    \
        }

/*
 * Parse the lines of `f` into `*ret` (which must be RD_CONFIG_EMPTY or hold
 * earlier settings, which later lines override). `name` is used in messages.
 * Returns 0, -EINVAL for a bad line, or another -errno for a read error; on
 * failure *ret_error (if not NULL) is set to "name:line: reason", owned by the
 * caller, and *ret is left unchanged.
 */
int rd_config_parse(FILE *f, const char *name, rd_config *ret, char **ret_error);

/*
 * Read the file at `path` as rd_config_parse() does. A file that does not
 * exist is -ENOENT, or an empty configuration (0) when `missing_ok`. On
 * failure *ret_error (if not NULL) is set to a message owned by the caller.
 */
int rd_config_load(const char *path, bool missing_ok, rd_config *ret, char **ret_error);

/*
 * The default file: /etc/reactord/reactord.conf for root, else
 * $XDG_CONFIG_HOME/reactord/reactord.conf or ~/.config/reactord/reactord.conf.
 * A string the caller frees; NULL on ENOMEM or when there is no home.
 */
char *rd_config_default_path(void);

/* Settings of `src` override those of `dst`. Returns 0 or -ENOMEM. */
int rd_config_merge(rd_config *dst, const rd_config *src);

/*
 * Copy what is set into `limits` (the other fields are left as they are). The
 * CURVE paths are borrowed from `c`, which must outlive their use.
 */
void rd_config_apply_limits(const rd_config *c, rd_broker_limits *limits);

/* Free what `c` owns and reset it to RD_CONFIG_EMPTY. Accepts NULL. */
void rd_config_done(rd_config *c);
