/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Logging for the daemon and its tools: one line per message on stderr,
 * prefixed with the level. Levels follow syslog's names and order.
 *
 * A record may carry structured fields beside its text (the session, the
 * client, the handle, the method it is about), named as journal fields
 * ("REACTORD_SESSION"), and always knows where it was logged (file, line,
 * function). The plain stderr line shows the text only; a sink set with
 * rd_log_set_sink() gets everything (reactord sends it to the journal, see
 * broker/journal.h). basic/ knows no broker types: callers pass the fields as
 * strings.
 */

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

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

/* One structured field of a record. */
typedef struct rd_log_field {
        const char *key;   /* journal field name: A-Z, 0-9 and '_' ("REACTORD_SESSION") */
        const char *value; /* its value */
} rd_log_field;

/* Fields per record at most (beyond MESSAGE, PRIORITY, CODE_* and SYSLOG_IDENTIFIER). */
#define RD_LOG_FIELDS_MAX 8

/* The fields of one record being put together; values are copied into `buf`. */
typedef struct rd_log_fields {
        rd_log_field field[RD_LOG_FIELDS_MAX]; /* the fields, in the order added */
        size_t n;                              /* how many */
        char buf[768];                         /* their values */
        size_t used;                           /* bytes of buf in use */
} rd_log_fields;

#define RD_LOG_FIELDS_INIT                                                                         \
        {                                                                                          \
                .n = 0, .used = 0                                                                  \
        }

/*
 * Add `key` (a string that outlives the record: a literal) with a printf-style
 * value, copied. A field that does not fit (more than RD_LOG_FIELDS_MAX, or
 * its value past `buf`) is left out: a log line is never worth failing for.
 */
void rd_log_fields_add(rd_log_fields *f, const char *key, const char *fmt, ...) _printf_(3, 4);

/* One record, as a sink receives it; everything is borrowed for the call. */
typedef struct rd_log_record {
        rd_log_level level;         /* its level */
        const char *ident;          /* rd_log_set_ident()'s name, or NULL */
        const char *file;           /* __FILE__ where it was logged */
        int line;                   /* __LINE__ */
        const char *func;           /* __func__ */
        const rd_log_field *fields; /* structured fields (may be none) */
        size_t n_fields;            /* how many */
        const char *message;        /* the text */
} rd_log_record;

typedef void (*rd_log_sink_fn)(const rd_log_record *rec, void *userdata);

/*
 * Send every record to `sink` (NULL: back to stderr, the default). The sink
 * runs in the logging thread and must not log itself; it may call
 * rd_log_write_stderr() to fall back to the plain line.
 */
void rd_log_set_sink(rd_log_sink_fn sink, void *userdata);

/* The default sink: "ident: level: message" on stderr, in one write. Fields are not shown. */
void rd_log_write_stderr(const rd_log_record *rec);

/*
 * Is stderr a stream into the journal? The service manager says so in
 * $JOURNAL_STREAM ("DEVICE:INODE" of the stream it connected), which must
 * match stderr's own fstat(): a child that inherited the variable but not
 * the fd gets false. See systemd.exec(5).
 */
bool rd_log_stderr_is_journal(void);

/*
 * Log a record; returns `ret` so that callers can `return rd_log_...(r, ...)`.
 * `fields` may be NULL. Use the macros, which fill in the place.
 */
int rd_log_internal(rd_log_level level, int ret, const char *file, int line, const char *func,
                    const rd_log_fields *fields, const char *fmt, ...) _printf_(7, 8);
int rd_log_internalv(rd_log_level level, int ret, const char *file, int line, const char *func,
                     const rd_log_fields *fields, const char *fmt, va_list ap) _printf_(7, 0);

/* Where a record was logged, for functions that log on their caller's behalf. */
#define RD_LOG_SITE __FILE__, __LINE__, __func__

/* Log with structured fields (an rd_log_fields *, may be NULL); returns `r`. */
#define rd_log_full(level, r, fields, ...)                                                         \
        (rd_log_enabled(level) ? rd_log_internal((level), (r), RD_LOG_SITE, (fields), __VA_ARGS__) \
                               : (r))
#define rd_log(level, ...)          rd_log_full((level), 0, NULL, __VA_ARGS__)
#define rd_log_errno(level, r, ...) rd_log_full((level), (r), NULL, __VA_ARGS__)

#define log_error(...)   rd_log(RD_LOG_ERR, __VA_ARGS__)
#define log_warning(...) rd_log(RD_LOG_WARNING, __VA_ARGS__)
#define log_notice(...)  rd_log(RD_LOG_NOTICE, __VA_ARGS__)
#define log_info(...)    rd_log(RD_LOG_INFO, __VA_ARGS__)
#define log_debug(...)   rd_log(RD_LOG_DEBUG, __VA_ARGS__)

/* These return `r` (a -errno) so that an error path reads `return log_error_errno(r, ...)`. */
#define log_error_errno(r, ...)   rd_log_errno(RD_LOG_ERR, (r), __VA_ARGS__)
#define log_warning_errno(r, ...) rd_log_errno(RD_LOG_WARNING, (r), __VA_ARGS__)
#define log_debug_errno(r, ...)   rd_log_errno(RD_LOG_DEBUG, (r), __VA_ARGS__)
