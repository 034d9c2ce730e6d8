/* SPDX-License-Identifier: MIT */
/*
 * Processes over reactord. Each call builds its params as rd_kv fields and
 * makes one synchronous call. process.spawn's arrays and maps (argv, env,
 * fds) are encoded here with the library's msgpack writer and travel as
 * RD_KV_RAW fields; the event routing lives in client.c with every other
 * event.
 */
#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "basic/macro.h"
#include "proto/writer.h"
#include "reactord/process.h"
#include "reply.h"

/* Room for every field of process.spawn. */
#define SPAWN_FIELDS 24

/* The most instances process.spawn accepts. */
#define INSTANCES_MAX 64

static const char *const stdio_names[] = {
        [RD_SPAWN_PIPE] = "pipe",
        [RD_SPAWN_NULL] = "null",
        [RD_SPAWN_INHERIT] = "inherit",
};

static const char *const restart_names[] = {
        [RD_SPAWN_RESTART_NEVER] = "never",
        [RD_SPAWN_RESTART_ON_FAILURE] = "on-failure",
        [RD_SPAWN_RESTART_ALWAYS] = "always",
};

static const char *const orphan_names[] = {
        [RD_SPAWN_ORPHAN_STOP] = "stop",
        [RD_SPAWN_ORPHAN_KEEP] = "keep",
};

/* The length of the KEY of a "KEY=VALUE" entry, or -EINVAL without '=' or with an empty KEY. */
static int env_key_len(const char *entry)
{
        const char *eq = strchr(entry, '=');

        if (!eq || eq == entry || eq - entry > INT_MAX)
                return -EINVAL;
        return (int)(eq - entry);
}

/* Is env[i] overridden by a later entry with the same KEY? */
static bool env_overridden(const char *const *env, size_t i)
{
        int k = env_key_len(env[i]);

        for (size_t j = i + 1; env[j]; j++)
                if (env_key_len(env[j]) == k && memcmp(env[i], env[j], (size_t)k + 1) == 0)
                        return true;
        return false;
}

/* `env` as a msgpack map str -> str, the last of equal KEYs winning. */
static int write_env(rd_writer *w, const char *const *env)
{
        size_t n = 0;

        for (size_t i = 0; env[i]; i++) {
                if (env_key_len(env[i]) < 0)
                        return -EINVAL;
                if (!env_overridden(env, i))
                        n++;
        }
        if (n > UINT32_MAX)
                return -E2BIG;
        rd_write_map(w, (uint32_t)n);
        for (size_t i = 0; env[i]; i++) {
                int k = env_key_len(env[i]);
                if (env_overridden(env, i))
                        continue;
                rd_write_strn(w, env[i], (size_t)k);
                rd_write_str(w, env[i] + k + 1);
        }
        return 0;
}

/* `fds` as a msgpack map from the child fd number (as a string) to a handle. */
static int write_fds(rd_writer *w, const rd_spawn_fd *fds, size_t n)
{
        char key[16];

        if (n > UINT32_MAX)
                return -E2BIG;
        rd_write_map(w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                if (fds[i].child_fd < 0 || fds[i].handle == 0)
                        return -EINVAL;
                for (size_t j = 0; j < i; j++)
                        if (fds[j].child_fd == fds[i].child_fd)
                                return -EINVAL;
                snprintf(key, sizeof(key), "%d", fds[i].child_fd);
                rd_write_str(w, key);
                rd_write_uint(w, fds[i].handle);
        }
        return 0;
}

static bool options_valid(const rd_spawn_options *o)
{
        return (unsigned)o->stdin_mode < ELEMENTSOF(stdio_names) &&
               (unsigned)o->stdout_mode < ELEMENTSOF(stdio_names) &&
               (unsigned)o->stderr_mode < ELEMENTSOF(stdio_names) &&
               (unsigned)o->restart < ELEMENTSOF(restart_names) &&
               (unsigned)o->orphan < ELEMENTSOF(orphan_names) && o->instances <= INSTANCES_MAX &&
               (o->fds || o->n_fds == 0) && !isnan(o->backoff_min) && !isnan(o->backoff_max) &&
               !isnan(o->restart_window) && (!o->cwd || *o->cwd) && (!o->name || *o->name);
}

int rd_client_spawn(rd_client *c, const char *const *argv, const rd_spawn_options *opts,
                    uint64_t *handle, pid_t *pid)
{
        _cleanup_(rd_writer_done) rd_writer w = RD_WRITER_INIT;
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        const rd_spawn_options defaults = RD_SPAWN_OPTIONS_INIT;
        const rd_spawn_options *o = opts ? opts : &defaults;
        size_t argc = 0, at_env, at_fds, end, n = 0;
        const rd_value *res, *pids;
        rd_kv kv[SPAWN_FIELDS];
        uint64_t h, p = 0;
        int r;

        assert_return(c, -EINVAL);
        assert_return(argv && argv[0] && *argv[0], -EINVAL);
        assert_return(options_valid(o), -EINVAL);

        /* argv, env and fds go into one buffer, one after the other. */
        while (argv[argc])
                argc++;
        assert_return(argc <= UINT32_MAX, -E2BIG);
        rd_write_array(&w, (uint32_t)argc);
        for (size_t i = 0; i < argc; i++)
                rd_write_str(&w, argv[i]);
        at_env = w.size;
        if (o->env) {
                r = write_env(&w, o->env);
                if (r < 0)
                        return r;
        }
        at_fds = w.size;
        if (o->n_fds > 0) {
                r = write_fds(&w, o->fds, o->n_fds);
                if (r < 0)
                        return r;
        }
        end = w.size;
        if (rd_writer_failed(&w))
                return -ENOMEM;

        kv[n++] = RD_RAW("argv", w.data, at_env);
        if (at_fds > at_env)
                kv[n++] = RD_RAW("env", w.data + at_env, at_fds - at_env);
        if (o->env_inherit)
                kv[n++] = RD_BOOL("env_inherit", true);
        if (o->cwd)
                kv[n++] = RD_STR("cwd", o->cwd);
        if (o->uid != (uid_t)-1)
                kv[n++] = RD_UINT("uid", o->uid);
        if (o->gid != (gid_t)-1)
                kv[n++] = RD_UINT("gid", o->gid);
        if (o->stdin_mode != RD_SPAWN_PIPE)
                kv[n++] = RD_STR("stdin", stdio_names[o->stdin_mode]);
        if (o->stdout_mode != RD_SPAWN_PIPE)
                kv[n++] = RD_STR("stdout", stdio_names[o->stdout_mode]);
        if (o->stderr_mode != RD_SPAWN_PIPE)
                kv[n++] = RD_STR("stderr", stdio_names[o->stderr_mode]);
        if (o->pty)
                kv[n++] = RD_BOOL("pty", true);
        if (o->rows > 0)
                kv[n++] = RD_UINT("rows", o->rows);
        if (o->cols > 0)
                kv[n++] = RD_UINT("cols", o->cols);
        if (end > at_fds)
                kv[n++] = RD_RAW("fds", w.data + at_fds, end - at_fds);
        if (!o->group)
                kv[n++] = RD_BOOL("group", false);
        if (o->restart != RD_SPAWN_RESTART_NEVER)
                kv[n++] = RD_STR("restart", restart_names[o->restart]);
        if (o->backoff_min >= 0)
                kv[n++] = RD_DOUBLE("backoff_min", o->backoff_min);
        if (o->backoff_max >= 0)
                kv[n++] = RD_DOUBLE("backoff_max", o->backoff_max);
        if (o->restart_limit >= 0)
                kv[n++] = RD_UINT("restart_limit", (uint64_t)o->restart_limit);
        if (o->restart_window >= 0)
                kv[n++] = RD_DOUBLE("restart_window", o->restart_window);
        if (o->instances > 0)
                kv[n++] = RD_UINT("instances", o->instances);
        if (o->ready)
                kv[n++] = RD_BOOL("ready", true);
        if (o->orphan != RD_SPAWN_ORPHAN_STOP)
                kv[n++] = RD_STR("orphan", orphan_names[o->orphan]);
        if (o->name)
                kv[n++] = RD_STR("name", o->name);
        assert(n <= ELEMENTSOF(kv));

        r = rd_client_call(c, "process.spawn", kv, n, &reply);
        if (r < 0)
                return r;
        res = rd_reply_result(reply);
        if (rd_value_uint(rd_value_get(res, "handle"), &h) < 0 || h == 0)
                return -EPROTO;
        pids = rd_value_get(res, "pids");
        if (rd_value_len(pids) > 0 &&
            (rd_value_uint(rd_value_at(pids, 0), &p) < 0 || p > (uint64_t)INT32_MAX))
                return -EPROTO;
        if (handle)
                *handle = h;
        if (pid)
                *pid = (pid_t)p;
        return 0;
}

/* ---- talking to a process ----------------------------------------------------------------- */

/* {handle}, then {instance} when one is given: the head of most process.* params. */
static size_t handle_fields(rd_kv *kv, uint64_t handle, int instance)
{
        size_t n = 0;

        kv[n++] = RD_UINT("handle", handle);
        if (instance >= 0)
                kv[n++] = RD_UINT("instance", (uint64_t)instance);
        return n;
}

int rd_client_process_write(rd_client *c, uint64_t handle, int instance, const void *data,
                            size_t len)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        uint64_t buffered;
        rd_kv kv[3];
        size_t n;
        int r;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(instance >= -1, -EINVAL);
        assert_return(data || len == 0, -EINVAL);

        n = handle_fields(kv, handle, instance);
        kv[n++] = RD_BIN("data", data, len);
        r = rd_client_call(c, "process.write", kv, n, &reply);
        if (r < 0)
                return r;
        if (rd_value_uint(rd_value_get(rd_reply_result(reply), "buffered"), &buffered) < 0)
                return -EPROTO;
        return buffered > INT_MAX ? INT_MAX : (int)buffered;
}

int rd_client_process_write_async(rd_client *c, uint64_t handle, int instance, const void *data,
                                  size_t len, rd_reply_fn cb, void *userdata)
{
        rd_kv kv[3];
        size_t n;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(instance >= -1, -EINVAL);
        assert_return(data || len == 0, -EINVAL);

        n = handle_fields(kv, handle, instance);
        kv[n++] = RD_BIN("data", data, len);
        return rd_client_call_async(c, "process.write", kv, n, cb, userdata);
}

int rd_client_process_close_stdin(rd_client *c, uint64_t handle, int instance)
{
        rd_kv kv[2];
        size_t n;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(instance >= -1, -EINVAL);

        n = handle_fields(kv, handle, instance);
        return rd_client_call(c, "process.close_stdin", kv, n, NULL);
}

/* process.signal with the signal field already made: a number or a name. */
static int process_signal(rd_client *c, uint64_t handle, rd_kv signal, bool group, int instance)
{
        rd_kv kv[4];
        size_t n;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(instance >= -1, -EINVAL);

        n = handle_fields(kv, handle, instance);
        kv[n++] = signal;
        if (group)
                kv[n++] = RD_BOOL("group", true);
        return rd_client_call(c, "process.signal", kv, n, NULL);
}

int rd_client_process_signal(rd_client *c, uint64_t handle, int signo, bool group, int instance)
{
        assert_return(signo > 0, -EINVAL);

        return process_signal(c, handle, RD_UINT("signal", (uint64_t)signo), group, instance);
}

int rd_client_process_signal_name(rd_client *c, uint64_t handle, const char *name, bool group,
                                  int instance)
{
        assert_return(name && *name, -EINVAL);

        return process_signal(c, handle, RD_STR("signal", name), group, instance);
}

int rd_client_process_stop(rd_client *c, uint64_t handle, int signo, double timeout)
{
        rd_kv kv[3];
        size_t n = 0;

        assert_return(c, -EINVAL);
        assert_return(handle > 0, -EINVAL);
        assert_return(signo >= 0, -EINVAL);
        assert_return(!isnan(timeout) && timeout != INFINITY, -EINVAL);

        kv[n++] = RD_UINT("handle", handle);
        if (signo > 0)
                kv[n++] = RD_UINT("signal", (uint64_t)signo);
        if (timeout >= 0)
                kv[n++] = RD_DOUBLE("timeout", timeout);
        return rd_client_call(c, "process.stop", kv, n, NULL);
}

int rd_client_process_take(rd_client *c, const char *name, uint64_t *handle)
{
        _cleanup_(rd_reply_freep) rd_reply *reply = NULL;
        uint64_t h;
        int r;

        assert_return(c, -EINVAL);
        assert_return(name && *name, -EINVAL);

        r = rd_client_callv(c, "process.take", &reply, RD_STR("name", name));
        if (r < 0)
                return r;
        if (rd_value_uint(rd_value_get(rd_reply_result(reply), "handle"), &h) < 0 || h == 0)
                return -EPROTO;
        if (handle)
                *handle = h;
        return 0;
}

/* ---- event payloads ----------------------------------------------------------------------- */

static bool event_is(const rd_client_event *ev, const char *name)
{
        return ev && ev->name && strcmp(ev->name, name) == 0;
}

int rd_client_event_instance(const rd_client_event *ev)
{
        uint64_t i;

        if (!ev || rd_value_uint(rd_value_get(ev->payload, "instance"), &i) < 0 || i > INT_MAX)
                return -EINVAL;
        return (int)i;
}

pid_t rd_client_event_pid(const rd_client_event *ev)
{
        uint64_t p;

        if (!ev || rd_value_uint(rd_value_get(ev->payload, "pid"), &p) < 0 ||
            p > (uint64_t)INT32_MAX)
                return 0;
        return (pid_t)p;
}

int rd_client_event_output(const rd_client_event *ev, int *fd, const void **data, size_t *len)
{
        uint64_t f;
        int r;

        assert_return(event_is(ev, "process.output"), -EINVAL);
        assert_return(data, -EINVAL);
        assert_return(len, -EINVAL);

        if (rd_value_uint(rd_value_get(ev->payload, "fd"), &f) < 0 || f > INT_MAX)
                return -EINVAL;
        r = rd_value_bin(rd_value_get(ev->payload, "data"), data, len);
        if (r < 0)
                return r;
        if (fd)
                *fd = (int)f;
        return 0;
}

int rd_client_event_exited(const rd_client_event *ev, int *code, int *signo, bool *core)
{
        uint64_t v;
        bool dumped = false;

        assert_return(event_is(ev, "process.exited"), -EINVAL);

        if (rd_value_uint(rd_value_get(ev->payload, "signal"), &v) >= 0 && v > 0 && v <= INT_MAX) {
                (void)rd_value_bool(rd_value_get(ev->payload, "core"), &dumped);
                if (code)
                        *code = -1;
                if (signo)
                        *signo = (int)v;
                if (core)
                        *core = dumped;
                return 0;
        }
        if (rd_value_uint(rd_value_get(ev->payload, "code"), &v) < 0 || v > INT_MAX)
                return -EINVAL;
        if (code)
                *code = (int)v;
        if (signo)
                *signo = 0;
        if (core)
                *core = false;
        return 0;
}

bool rd_client_event_final(const rd_client_event *ev)
{
        bool final;

        return event_is(ev, "process.ended") &&
               rd_value_bool(rd_value_get(ev->payload, "final"), &final) >= 0 && final;
}
