/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging for the daemon and its tools: one line per message on stderr,
 * prefixed with the level. Levels follow syslog's names and order.
 */

#include <stdarg.h>
#include <stdbool.h>

#include "macro.h"

typedef enum rd_log_level {
        RD_LOG_ERR = 3,
        RD_LOG_WARNING = 4,
        RD_LOG_NOTICE = 5,
        RD_LOG_INFO = 6,
        RD_LOG_DEBUG = 7,
} rd_log_level;

/* Parse "error", "warning", "notice", "info" or "debug"; returns the level or -EINVAL. */
int rd_log_level_from_string(const char *s);
const char *rd_log_level_to_string(rd_log_level level);

void rd_log_set_level(rd_log_level level);
rd_log_level rd_log_get_level(void);
/* Program name printed before each line (default: none). The string is borrowed. */
void rd_log_set_ident(const char *ident);

static inline bool rd_log_enabled(rd_log_level level)
{
        return level <= rd_log_get_level();
}

/* Log a line; returns `ret` so that callers can `return rd_log_...(r, ...)`. */
int rd_log_internal(rd_log_level level, int ret, const char *fmt, ...) _printf_(3, 4);

#define rd_log(level, ...) (rd_log_enabled(level) ? rd_log_internal((level), 0, __VA_ARGS__) : 0)
#define rd_log_errno(level, r, ...)                                                                \
        (rd_log_enabled(level) ? rd_log_internal((level), (r), __VA_ARGS__) : (r))

#define log_error(...)   rd_log(RD_LOG_ERR, __VA_ARGS__)
#define log_warning(...) rd_log(RD_LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  rd_log(RD_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    rd_log(RD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)   rd_log(RD_LOG_DEBUG, __VA_ARGS__)

/* These return `r` (a -errno) so that an error path reads `return log_error_errno(r, ...)`. */
#define log_error_errno(r, ...)   rd_log_errno(RD_LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) rd_log_errno(RD_LOG_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...)   rd_log_errno(RD_LOG_DEBUG, (r), __VA_ARGS__)
