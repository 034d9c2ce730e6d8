/* SPDX-License-Identifier: MIT */
/* Process methods (PROTOCOL.md §4, "processes"). */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "reactor/process.h"

extern char **environ;

#define MAX_ARGS 4096

/* Param indices of process.spawn, in the order the dispatch table declares them. */
enum {
        P_ARGV,
        P_ENV,
        P_ENV_INHERIT,
        P_CWD,
        P_UID,
        P_GID,
        P_STDIN,
        P_STDOUT,
        P_STDERR,
        P_PTY,
        P_ROWS,
        P_COLS,
        P_FDS,
        P_GROUP,
        P_RESTART,
        P_BACKOFF_MIN,
        P_BACKOFF_MAX,
        P_RESTART_LIMIT,
        P_RESTART_WINDOW,
        P_INSTANCES,
        P_READY,
        P_ORPHAN,
        P_NAME,
};

static void strv_free(char **v)
{
        for (char **i = v; i && *i; i++)
                free(*i);
        free(v);
}
DEFINE_CLEANUP_FUNC(char *, strv_free)

/* A str value as a new C string; NULL when it is not a str or holds a NUL. */
static char *dup_str(const rd_value *v)
{
        const char *p;
        size_t n;

        if (rd_value_str(v, &p, &n) < 0 || memchr(p, '\0', n))
                return NULL;
        return strndup(p, n);
}

static int one_of(rd_call *c, const rd_arg *a, const char *param, const char *const *choices,
                  int def)
{
        if (!a->present)
                return def;
        for (int i = 0; choices[i]; i++)
                if (a->s.n == strlen(choices[i]) && memcmp(a->s.p, choices[i], a->s.n) == 0)
                        return i;
        return rd_call_fail(c, -EINVAL, "param '%s': unknown value '%.*s'", param, (int)a->s.n,
                            a->s.p);
}

static int build_argv(rd_call *c, char ***ret)
{
        const rd_value *v = c->args[P_ARGV].v;
        size_t n = rd_value_len(v);
        char **argv;

        if (n == 0 || n > MAX_ARGS)
                return rd_call_fail(c, -EINVAL, "param 'argv': needs 1..%d strings", MAX_ARGS);
        argv = calloc(n + 1, sizeof(char *));
        if (!argv)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (!(argv[i] = dup_str(rd_value_at(v, i)))) {
                        strv_free(argv);
                        return rd_call_fail(c, -EINVAL,
                                            "param 'argv': element %zu is not a str without NUL",
                                            i);
                }
        if (argv[0][0] == '\0') {
                strv_free(argv);
                return rd_call_fail(c, -EINVAL, "param 'argv': the program name is empty");
        }
        *ret = argv;
        return 0;
}

/* Start from reactord's environment or from nothing, then apply the `env` map. */
static int build_env(rd_call *c, char ***ret)
{
        const rd_value *map = c->args[P_ENV].present ? c->args[P_ENV].v : NULL;
        bool inherit = c->args[P_ENV_INHERIT].present && c->args[P_ENV_INHERIT].b;
        size_t n_base = 0, n = 0, n_map = rd_value_len(map);
        char **env;

        while (inherit && environ[n_base])
                n_base++;
        env = calloc(n_base + n_map + 1, sizeof(char *));
        if (!env)
                return -ENOMEM;
        for (size_t i = 0; i < n_base; i++)
                if (!(env[n++] = strdup(environ[i]))) {
                        strv_free(env);
                        return -ENOMEM;
                }
        for (size_t i = 0; i < n_map; i++) {
                _cleanup_free_ char *key = dup_str(rd_value_key_at(map, i));
                _cleanup_free_ char *value = dup_str(rd_value_val_at(map, i));
                size_t klen;
                char *kv;

                if (!key || !value || !key[0] || strchr(key, '=')) {
                        strv_free(env);
                        return rd_call_fail(
                                c, -EINVAL,
                                "param 'env': entry %zu must map a name without '=' to a str", i);
                }
                if (asprintf(&kv, "%s=%s", key, value) < 0) {
                        strv_free(env);
                        return -ENOMEM;
                }
                /* Replace an inherited entry of the same name. */
                klen = strlen(key);
                size_t j;
                for (j = 0; j < n; j++)
                        if (strncmp(env[j], kv, klen + 1) == 0)
                                break;
                if (j < n) {
                        free(env[j]);
                        env[j] = kv;
                } else
                        env[n++] = kv;
        }
        *ret = env;
        return 0;
}

static int build_fds(rd_call *c, rd_spawn *sp)
{
        const rd_value *map = c->args[P_FDS].v;
        size_t n = rd_value_len(map);

        if (n > RD_PROCESS_MAX_FDS)
                return rd_call_fail(c, -EINVAL, "param 'fds': at most %d", RD_PROCESS_MAX_FDS);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *key = dup_str(rd_value_key_at(map, i));
                uint64_t handle;
                char *end;
                long target;

                if (!key || rd_value_uint(rd_value_val_at(map, i), &handle) < 0)
                        return rd_call_fail(c, -EINVAL,
                                            "param 'fds': expected {\"3\": handle, ...}");
                target = strtol(key, &end, 10);
                if (*end || end == key || target < 3 || target > 1023)
                        return rd_call_fail(c, -EINVAL,
                                            "param 'fds': child fd '%s' must be 3..1023", key);
                for (size_t j = 0; j < sp->n_fds; j++)
                        if (sp->fd_target[j] == target)
                                return rd_call_fail(c, -EINVAL, "param 'fds': fd %ld given twice",
                                                    target);
                sp->fd_target[sp->n_fds] = (int)target;
                sp->fd_handle[sp->n_fds] = handle;
                sp->n_fds++;
        }
        return 0;
}

int rd_api_process_spawn(rd_call *c)
{
        static const char *const stdio_modes[] = { "pipe", "null", "inherit", NULL };
        static const char *const restarts[] = { "never", "on-failure", "always", NULL };
        static const char *const orphans[] = { "stop", "keep", NULL };
        _cleanup_(strv_freep) char **argv = NULL, **env = NULL;
        _cleanup_free_ char *cwd = NULL, *name = NULL;
        const rd_arg *a = c->args;
        rd_spawn sp = {
                .group = a[P_GROUP].present ? a[P_GROUP].b : true,
                .pty = a[P_PTY].present && a[P_PTY].b,
                .ready = a[P_READY].present && a[P_READY].b,
                .backoff_min =
                        a[P_BACKOFF_MIN].present ? a[P_BACKOFF_MIN].usec : 100 * USEC_PER_MSEC,
                .backoff_max = a[P_BACKOFF_MAX].present ? a[P_BACKOFF_MAX].usec : 30 * USEC_PER_SEC,
                .restart_limit = a[P_RESTART_LIMIT].present ? (unsigned)a[P_RESTART_LIMIT].u : 5,
                .restart_window =
                        a[P_RESTART_WINDOW].present ? a[P_RESTART_WINDOW].usec : 60 * USEC_PER_SEC,
                .instances = a[P_INSTANCES].present ? (unsigned)a[P_INSTANCES].u : 1,
        };
        pid_t pids[RD_PROCESS_MAX_INSTANCES];
        char err[256];
        uint64_t id;
        int k;

        for (int i = 0; i < 3; i++) {
                k = one_of(c, &a[P_STDIN + i],
                           i == 0   ? "stdin"
                           : i == 1 ? "stdout"
                                    : "stderr",
                           stdio_modes, RD_STDIO_PIPE);
                if (k < 0)
                        return k;
                sp.stdio[i] = (rd_stdio)k;
        }
        if ((k = one_of(c, &a[P_RESTART], "restart", restarts, RD_RESTART_NEVER)) < 0)
                return k;
        sp.restart = (rd_restart)k;
        if ((k = one_of(c, &a[P_ORPHAN], "orphan", orphans, 0)) < 0)
                return k;
        sp.keep_orphan = k == 1;
        if (sp.instances < 1 || sp.instances > RD_PROCESS_MAX_INSTANCES)
                return rd_call_fail(c, -EINVAL, "param 'instances': must be 1..%d",
                                    RD_PROCESS_MAX_INSTANCES);
        if ((a[P_ROWS].present && (a[P_ROWS].u == 0 || a[P_ROWS].u > 10000)) ||
            (a[P_COLS].present && (a[P_COLS].u == 0 || a[P_COLS].u > 10000)))
                return rd_call_fail(c, -EINVAL, "params 'rows' and 'cols': must be 1..10000");
        sp.rows = a[P_ROWS].present ? (unsigned short)a[P_ROWS].u : 24;
        sp.cols = a[P_COLS].present ? (unsigned short)a[P_COLS].u : 80;
        if (sp.backoff_min == 0)
                return rd_call_fail(c, -EINVAL, "param 'backoff_min': must be > 0");

        if (a[P_UID].present || a[P_GID].present) {
                rd_session *s = c->session;
                /* Only root may ask, and only a root reactord can do it. */
                if (geteuid() != 0 || !s->has_cred || s->peer_uid != 0)
                        return rd_call_fail(
                                c, -EPERM,
                                "uid/gid: only a root client of a root reactord may change them");
                if (a[P_UID].u > UINT32_MAX - 1 || a[P_GID].u > UINT32_MAX - 1)
                        return rd_call_fail(c, -EINVAL, "uid/gid: out of range");
                sp.set_uid = a[P_UID].present;
                sp.set_gid = a[P_GID].present;
                sp.uid = (uid_t)a[P_UID].u;
                sp.gid = (gid_t)a[P_GID].u;
        } else if (geteuid() == 0 && !rd_session_peer_is_root(c->session)) {
                rd_session *s = c->session;
                /* A root reactord runs a non-root client's child as the client, never as root. */
                if (!s->has_cred)
                        return rd_call_fail(c, -EPERM,
                                            "a client whose user is unknown (tcp://) cannot spawn "
                                            "on a root reactord");
                sp.set_uid = sp.set_gid = true;
                sp.uid = s->peer_uid;
                sp.gid = s->peer_gid;
        }
        if ((k = build_argv(c, &argv)) < 0 || (k = build_env(c, &env)) < 0)
                return k;
        sp.argv = argv;
        sp.env = env;
        if (a[P_CWD].present) {
                if (!(cwd = strndup(a[P_CWD].s.p, a[P_CWD].s.n)) || strlen(cwd) != a[P_CWD].s.n)
                        return rd_call_fail(c, -EINVAL, "param 'cwd': must not hold a NUL");
                sp.cwd = cwd;
        }
        if (a[P_NAME].present) {
                if (!(name = strndup(a[P_NAME].s.p, a[P_NAME].s.n)) ||
                    strlen(name) != a[P_NAME].s.n || !name[0] || strlen(name) > 255)
                        return rd_call_fail(c, -EINVAL, "param 'name': 1..255 bytes without NUL");
                sp.name = name;
        }
        if (a[P_FDS].present && (k = build_fds(c, &sp)) < 0)
                return k;

        k = rd_process_spawn(c->broker->reactor, c->session->owner, &sp, &id, pids, err,
                             sizeof(err));
        if (k == -EMFILE)
                return rd_api_handle_error(c, k, 0, "");
        if (k == -EDQUOT)
                return rd_call_fail(c, -EAGAIN,
                                    "max_processes: %s; wait for a process.ended {final: true}",
                                    err);
        if (k < 0)
                return rd_call_fail(c, k, "%s", err[0] ? err : strerror(-k));

        rd_call_reply(c, 2);
        rd_write_kv_uint(c->w, "handle", id);
        rd_write_str(c->w, "pids");
        rd_write_array(c->w, sp.instances);
        for (unsigned i = 0; i < sp.instances; i++)
                rd_write_int(c->w, pids[i]);
        return 0;
}

static int instance_of(rd_call *c, const rd_arg *a, int *ret)
{
        if (!a->present) {
                *ret = -1;
                return 0;
        }
        if (a->u >= RD_PROCESS_MAX_INSTANCES)
                return rd_call_fail(c, -EINVAL, "param 'instance': out of range");
        *ret = (int)a->u;
        return 0;
}

static int process_error(rd_call *c, int k)
{
        if (k == -EPIPE)
                return rd_call_fail(c, k, "stdin is closed or not a pipe");
        if (k == -EAGAIN)
                return rd_call_fail(c, k, "stdin buffer is full; wait for process.drained");
        if (k == -EDQUOT)
                return rd_call_fail(c, -EAGAIN,
                                    "the session's write buffers are at max_write_buffer; wait "
                                    "for process.drained");
        if (k == -EMSGSIZE)
                return rd_call_fail(c, k,
                                    "the write is larger than the session's max_write_buffer");
        if (k == -ESRCH)
                return rd_call_fail(c, k, "no running instance to signal");
        if (k == -EINVAL)
                return rd_call_fail(c, k, "param 'instance': no such instance");
        return rd_api_handle_error(c, k, c->args[0].u, "process");
}

int rd_api_process_write(rd_call *c)
{
        size_t buffered;
        int inst = -1, k;

        if ((k = instance_of(c, &c->args[2], &inst)) < 0)
                return k;
        k = rd_process_write(c->broker->reactor, c->session->owner, c->args[0].u, inst,
                             c->args[1].s.p, c->args[1].s.n, &buffered);
        if (k < 0)
                return process_error(c, k);
        rd_call_reply(c, 1);
        rd_write_kv_uint(c->w, "buffered", buffered);
        return 0;
}

int rd_api_process_close_stdin(rd_call *c)
{
        int inst = -1, k;

        if ((k = instance_of(c, &c->args[1], &inst)) < 0)
                return k;
        k = rd_process_close_stdin(c->broker->reactor, c->session->owner, c->args[0].u, inst);
        return k < 0 ? process_error(c, k) : 0;
}

/* A signal given as a name ("TERM", "SIGTERM") or a number. */
static int signal_of(rd_call *c, const rd_arg *a, int def, int *ret)
{
        const char *p;
        size_t n;
        uint64_t u;

        if (!a->present)
                *ret = def;
        else if (rd_value_uint(a->v, &u) == 0 && u >= 1 && u < NSIG)
                *ret = (int)u;
        else if (rd_value_str(a->v, &p, &n) == 0 && (*ret = rd_signal_from_string(p, n)) > 0)
                ;
        else
                return rd_call_fail(c, -EINVAL,
                                    "param 'signal': expected a name such as \"TERM\" or a number");
        return 0;
}

int rd_api_process_signal(rd_call *c)
{
        int signo = SIGTERM, inst = -1, k;

        if ((k = signal_of(c, &c->args[1], SIGTERM, &signo)) < 0 ||
            (k = instance_of(c, &c->args[3], &inst)) < 0)
                return k;
        k = rd_process_signal(c->broker->reactor, c->session->owner, c->args[0].u, inst, signo,
                              c->args[2].present && c->args[2].b);
        return k < 0 ? process_error(c, k) : 0;
}

int rd_api_process_stop(rd_call *c)
{
        int signo = SIGTERM, k;

        if ((k = signal_of(c, &c->args[1], SIGTERM, &signo)) < 0)
                return k;
        k = rd_process_stop(c->broker->reactor, c->session->owner, c->args[0].u, signo,
                            c->args[2].present ? c->args[2].usec : 10 * USEC_PER_SEC);
        return k < 0 ? process_error(c, k) : 0;
}

int rd_api_process_take(rd_call *c)
{
        _cleanup_free_ char *name = strndup(c->args[0].s.p, c->args[0].s.n);
        uint64_t id;
        int k;

        if (!name)
                return -ENOMEM;
        k = rd_process_take(c->broker->reactor, c->session->owner, name, &id);
        if (k == -ENOENT)
                return rd_call_fail(c, k, "no process named '%s'", name);
        if (k == -EBUSY)
                return rd_call_fail(c, k, "process '%s' belongs to a live session", name);
        if (k == -EDQUOT)
                return rd_call_fail(c, -EAGAIN,
                                    "process '%s': its instances would pass the session's "
                                    "max_processes",
                                    name);
        if (k < 0)
                return rd_api_handle_error(c, k, 0, "");
        rd_call_reply(c, 1);
        rd_write_kv_uint(c->w, "handle", id);
        return 0;
}

/* process.list's owner fields: the session, and its peer's uid and pid when known. */
static void write_owner(rd_writer *w, rd_owner *o)
{
        rd_session *s = o ? rd_owner_get_userdata(o) : NULL;

        rd_write_str(w, "owner");
        if (s)
                rd_write_uint(w, s->id);
        else
                rd_write_nil(w);
        rd_write_str(w, "owner_uid");
        if (s && s->has_cred)
                rd_write_uint(w, s->peer_uid);
        else
                rd_write_nil(w);
        rd_write_str(w, "owner_pid");
        if (s && s->has_cred)
                rd_write_uint(w, (uint64_t)s->peer_pid);
        else
                rd_write_nil(w);
}

int rd_api_process_list(rd_call *c)
{
        rd_call_reply(c, 1);
        rd_write_str(c->w, "processes");
        rd_process_write_list(c->broker->reactor, c->w, write_owner);
        return 0;
}
