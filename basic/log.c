/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "log.h"

static rd_log_level max_level = RD_LOG_NOTICE;
static const char *log_ident;

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

int rd_log_internal(rd_log_level level, int ret, const char *fmt, ...)
{
        char line[1024];
        va_list ap;
        int saved = errno;

        /* Format first so that the line reaches stderr in one write(). */
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);

        fprintf(stderr, "%s%s%s: %s\n", log_ident ? log_ident : "", log_ident ? ": " : "",
                rd_log_level_to_string(level), line);
        errno = saved;
        return ret;
}
