/* SPDX-License-Identifier: MIT */
/*
 * The configuration file: parsed whole, so that a bad line leaves the caller's
 * settings untouched and a reload either applies everything or nothing.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "basic/string-util.h"

/* Bounds of the values a file may give (the limits a session may ask for). */
#define LEASE_MIN_SEC  0.05
#define LEASE_MAX_SEC  3600.0
#define WINDOW_MIN     UINT64_C(4096)
#define WINDOW_MAX     (UINT64_C(64) * 1024 * 1024)
#define MAX_FRAME_MIN  1024
#define MAX_WBUF_MIN   1024
#define SIZE_VALUE_MAX (SIZE_MAX / 16)

#define streq(a, b) (strcmp((a), (b)) == 0)

static int parse_size(const char *s, size_t min, size_t *ret)
{
        char *end;
        unsigned long long v;

        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v < min || v > SIZE_VALUE_MAX)
                return -EINVAL;
        *ret = (size_t)v;
        return 0;
}

static int parse_lease(const char *s, uint64_t *ret)
{
        char *end;
        double v;

        if (!isdigit((unsigned char)*s) && *s != '.')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || *end || !isfinite(v) || v < LEASE_MIN_SEC || v > LEASE_MAX_SEC)
                return -EINVAL;
        *ret = (uint64_t)(v * (double)USEC_PER_SEC + 0.5);
        return 0;
}

static int parse_window(const char *s, uint64_t *ret)
{
        size_t v;

        if (parse_size(s, (size_t)WINDOW_MIN, &v) < 0 || v > WINDOW_MAX)
                return -EINVAL;
        *ret = v;
        return 0;
}

/* Apply one `key = value` to `c`; on failure, a reason in `why`. */
static int set_key(rd_config *c, const char *key, const char *value, char *why, size_t n)
{
        size_t sz;
        uint64_t u;
        int k;

        if (streq(key, "endpoint")) {
                char *p;

                if ((strncmp(value, "ipc://", 6) != 0 && strncmp(value, "tcp://", 6) != 0) ||
                    !value[6]) {
                        snprintf(why, n, "invalid endpoint '%s' (an ipc:// or tcp:// URI)", value);
                        return -EINVAL;
                }
                p = strdup(value);
                if (!p)
                        return -ENOMEM;
                free(c->endpoint);
                c->endpoint = p;
        } else if (streq(key, "curve-secret-key") || streq(key, "curve-allow")) {
                char **field = streq(key, "curve-allow") ? &c->curve_allow : &c->curve_secret_key;
                char *p;

                /* The file may be read from a service's working directory: no relative paths. */
                if (value[0] != '/') {
                        snprintf(why, n, "invalid %s '%s' (an absolute path)", key, value);
                        return -EINVAL;
                }
                p = strdup(value);
                if (!p)
                        return -ENOMEM;
                free(*field);
                *field = p;
        } else if (streq(key, "log-level")) {
                k = rd_log_level_from_string(value);
                if (k < 0) {
                        snprintf(why, n,
                                 "invalid log-level '%s' (error, warning, notice, info or debug)",
                                 value);
                        return -EINVAL;
                }
                c->log_level = k;
        } else if (streq(key, "max-sessions") || streq(key, "max-handles") ||
                   streq(key, "max-frame")) {
                bool frame = streq(key, "max-frame");

                if (parse_size(value, frame ? MAX_FRAME_MIN : 1, &sz) < 0) {
                        snprintf(why, n, "invalid %s '%s' (a number, at least %d)", key, value,
                                 frame ? MAX_FRAME_MIN : 1);
                        return -EINVAL;
                }
                *(frame                        ? &c->max_frame
                  : streq(key, "max-sessions") ? &c->max_sessions
                                               : &c->max_handles) = sz;
        } else if (streq(key, "max-processes") || streq(key, "max-write-buffer")) {
                bool bytes = streq(key, "max-write-buffer");

                if (parse_size(value, bytes ? MAX_WBUF_MIN : 1, &sz) < 0) {
                        snprintf(why, n, "invalid %s '%s' (a number, at least %d)", key, value,
                                 bytes ? MAX_WBUF_MIN : 1);
                        return -EINVAL;
                }
                *(bytes ? &c->max_write_buffer : &c->max_processes) = sz;
        } else if (streq(key, "lease")) {
                if (parse_lease(value, &u) < 0) {
                        snprintf(why, n, "invalid lease '%s' (seconds, 0.05 to 3600)", value);
                        return -EINVAL;
                }
                c->lease = u;
        } else if (streq(key, "window")) {
                if (parse_window(value, &u) < 0) {
                        snprintf(why, n, "invalid window '%s' (bytes, 4096 to 67108864)", value);
                        return -EINVAL;
                }
                c->window = u;
        } else {
                snprintf(why, n, "unknown key '%s'", key);
                return -EINVAL;
        }
        return 0;
}

static void set_error(char **ret_error, const char *fmt, ...) _printf_(2, 3);
static void set_error(char **ret_error, const char *fmt, ...)
{
        va_list ap;

        if (!ret_error)
                return;
        va_start(ap, fmt);
        if (vasprintf(ret_error, fmt, ap) < 0)
                *ret_error = NULL;
        va_end(ap);
}

int rd_config_parse(FILE *f, const char *name, rd_config *ret, char **ret_error)
{
        _cleanup_free_ char *line = NULL;
        rd_config c = RD_CONFIG_EMPTY;
        size_t size = 0;
        unsigned lineno = 0;
        int k = 0;

        assert_return(f && name && ret, -EINVAL);

        if (ret_error)
                *ret_error = NULL;
        /* Parse into a copy: the caller's settings change only if every line is good. */
        k = rd_config_merge(&c, ret);
        if (k < 0)
                goto fail_errno;
        for (;;) {
                char why[256], *p, *eq, *key, *value;
                ssize_t n;

                errno = 0;
                n = getline(&line, &size, f);
                if (n < 0) {
                        if (ferror(f)) {
                                k = errno > 0 ? -errno : -EIO;
                                goto fail_errno;
                        }
                        break;
                }
                lineno++;
                p = rd_strip(line);
                if (!*p || *p == '#')
                        continue;
                eq = strchr(p, '=');
                if (!eq) {
                        set_error(ret_error, "%s:%u: missing '=' (lines are 'key = value')", name,
                                  lineno);
                        k = -EINVAL;
                        goto fail;
                }
                *eq = '\0';
                key = rd_strip(p);
                value = rd_strip(eq + 1);
                if (!*key) {
                        set_error(ret_error, "%s:%u: missing key before '='", name, lineno);
                        k = -EINVAL;
                        goto fail;
                }
                if (!*value) {
                        set_error(ret_error, "%s:%u: missing value for '%s'", name, lineno, key);
                        k = -EINVAL;
                        goto fail;
                }
                k = set_key(&c, key, value, why, sizeof(why));
                if (k == -EINVAL) {
                        set_error(ret_error, "%s:%u: %s", name, lineno, why);
                        goto fail;
                }
                if (k < 0)
                        goto fail_errno;
        }
        rd_config_done(ret);
        *ret = c;
        return 0;

fail_errno:
        set_error(ret_error, "%s: %s", name, strerror(-k));
fail:
        rd_config_done(&c);
        return k;
}

int rd_config_load(const char *path, bool missing_ok, rd_config *ret, char **ret_error)
{
        FILE *f;
        int k;

        assert_return(path && ret, -EINVAL);

        if (ret_error)
                *ret_error = NULL;
        f = fopen(path, "re");
        if (!f) {
                k = -errno;
                if (k == -ENOENT && missing_ok)
                        return 0;
                set_error(ret_error, "%s: %s", path, strerror(-k));
                return k;
        }
        k = rd_config_parse(f, path, ret, ret_error);
        fclose(f);
        return k;
}

char *rd_config_default_path(void)
{
        const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
        char *p;

        if (geteuid() == 0)
                return strdup("/etc/reactord/reactord.conf");
        /* As the XDG base directory specification says, a relative value is ignored. */
        if (xdg && xdg[0] == '/')
                return asprintf(&p, "%s/reactord/reactord.conf", xdg) < 0 ? NULL : p;
        if (home && home[0] == '/')
                return asprintf(&p, "%s/.config/reactord/reactord.conf", home) < 0 ? NULL : p;
        return NULL;
}

int rd_config_merge(rd_config *dst, const rd_config *src)
{
        assert_return(dst && src, -EINVAL);

        if (src->endpoint) {
                char *p = strdup(src->endpoint);

                if (!p)
                        return -ENOMEM;
                free(dst->endpoint);
                dst->endpoint = p;
        }
        if (src->curve_secret_key || src->curve_allow) {
                char *key = src->curve_secret_key ? strdup(src->curve_secret_key) : NULL;
                char *allow = src->curve_allow ? strdup(src->curve_allow) : NULL;

                if ((src->curve_secret_key && !key) || (src->curve_allow && !allow)) {
                        free(key);
                        free(allow);
                        return -ENOMEM;
                }
                if (key) {
                        free(dst->curve_secret_key);
                        dst->curve_secret_key = key;
                }
                if (allow) {
                        free(dst->curve_allow);
                        dst->curve_allow = allow;
                }
        }
        if (src->log_level >= 0)
                dst->log_level = src->log_level;
        if (src->max_sessions)
                dst->max_sessions = src->max_sessions;
        if (src->max_handles)
                dst->max_handles = src->max_handles;
        if (src->max_frame)
                dst->max_frame = src->max_frame;
        if (src->max_processes)
                dst->max_processes = src->max_processes;
        if (src->max_write_buffer)
                dst->max_write_buffer = src->max_write_buffer;
        if (src->lease)
                dst->lease = src->lease;
        if (src->window)
                dst->window = src->window;
        return 0;
}

void rd_config_apply_limits(const rd_config *c, rd_broker_limits *limits)
{
        if (c->max_sessions)
                limits->max_sessions = c->max_sessions;
        if (c->max_handles)
                limits->max_handles = c->max_handles;
        if (c->max_frame)
                limits->max_frame = c->max_frame;
        if (c->max_processes)
                limits->max_processes = c->max_processes;
        if (c->max_write_buffer)
                limits->max_write_buffer = c->max_write_buffer;
        if (c->lease)
                limits->default_lease = c->lease;
        if (c->window)
                limits->default_window = c->window;
        if (c->curve_secret_key)
                limits->curve_secret_key = c->curve_secret_key;
        if (c->curve_allow)
                limits->curve_allow = c->curve_allow;
}

void rd_config_done(rd_config *c)
{
        if (!c)
                return;
        free(c->endpoint);
        free(c->curve_secret_key);
        free(c->curve_allow);
        *c = (rd_config)RD_CONFIG_EMPTY;
}
