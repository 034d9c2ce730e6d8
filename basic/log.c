/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

static rd_log_level max_level = RD_LOG_NOTICE;
static const char *log_ident;
static rd_log_sink_fn log_sink;
static void *log_sink_userdata;

static const char *const level_names[] = {
        [RD_LOG_ERR] = "error", [RD_LOG_WARNING] = "warning", [RD_LOG_NOTICE] = "notice",
        [RD_LOG_INFO] = "info", [RD_LOG_DEBUG] = "debug",
};

int rd_log_level_from_string(const char *s)
{
        if (!s)
                return -EINVAL;
        for (size_t i = RD_LOG_ERR; i < ELEMENTSOF(level_names); i++)
                if (strcmp(s, level_names[i]) == 0)
                        return (int)i;
        if (strcmp(s, "err") == 0)
                return RD_LOG_ERR;
        if (strcmp(s, "warn") == 0)
                return RD_LOG_WARNING;
        return -EINVAL;
}

const char *rd_log_level_to_string(rd_log_level level)
{
        if (level < RD_LOG_ERR || level > RD_LOG_DEBUG)
                return "?";
        return level_names[level];
}

void rd_log_set_level(rd_log_level level)
{
        max_level = level;
}

rd_log_level rd_log_get_level(void)
{
        return max_level;
}

void rd_log_set_ident(const char *ident)
{
        log_ident = ident;
}

void rd_log_set_sink(rd_log_sink_fn sink, void *userdata)
{
        log_sink = sink;
        log_sink_userdata = userdata;
}

void rd_log_fields_add(rd_log_fields *f, const char *key, const char *fmt, ...)
{
        size_t room = sizeof(f->buf) - f->used;
        va_list ap;
        int n;

        if (f->n >= RD_LOG_FIELDS_MAX || room == 0)
                return;
        va_start(ap, fmt);
        n = vsnprintf(f->buf + f->used, room, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= room)
                return; /* did not fit: left out, the space is reused */
        f->field[f->n++] = (rd_log_field){ key, f->buf + f->used };
        f->used += (size_t)n + 1;
}

void rd_log_write_stderr(const rd_log_record *rec)
{
        fprintf(stderr, "%s%s%s: %s\n", rec->ident ? rec->ident : "", rec->ident ? ": " : "",
                rd_log_level_to_string(rec->level), rec->message);
}

bool rd_log_stderr_is_journal(void)
{
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;
        int n = 0;

        if (!e || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int rd_log_internalv(rd_log_level level, int ret, const char *file, int line, const char *func,
                     const rd_log_fields *fields, const char *fmt, va_list ap)
{
        char message[1024];
        int saved = errno;
        rd_log_record rec = {
                .level = level,
                .ident = log_ident,
                .file = file,
                .line = line,
                .func = func,
                .fields = fields ? fields->field : NULL,
                .n_fields = fields ? fields->n : 0,
                .message = message,
        };

        /* Format first so that the line reaches stderr in one write(). */
        vsnprintf(message, sizeof(message), fmt, ap);
        if (log_sink)
                log_sink(&rec, log_sink_userdata);
        else
                rd_log_write_stderr(&rec);
        errno = saved;
        return ret;
}

int rd_log_internal(rd_log_level level, int ret, const char *file, int line, const char *func,
                    const rd_log_fields *fields, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        ret = rd_log_internalv(level, ret, file, line, func, fields, fmt, ap);
        va_end(ap);
        return ret;
}
