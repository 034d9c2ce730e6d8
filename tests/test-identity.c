/* SPDX-License-Identifier: MIT */
/*
 * Who acts for whom on a root reactord: a non-root client's children run as
 * that client, never as root; it may not ask for another user, take over
 * another user's process or join another user's named listener. Root
 * clients may do all of it.
 *
 * The test needs root (as CI runs it) to start a root reactord and to become
 * `nobody` for the unprivileged client; as any other user it says so and
 * checks nothing.
 */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "reactord/client.h"
#include "reactord/process.h"
#include "reactord/stream.h"

#define WAIT_SEC 20.0

static uid_t nobody_uid;
static gid_t nobody_gid;

static bool can_run(void)
{
        struct passwd *pw;

        if (geteuid() != 0) {
                fprintf(stderr, "test-identity: not root: a root reactord cannot be started; "
                                "nothing checked\n");
                return false;
        }
        pw = getpwnam("nobody");
        ck_assert_msg(pw, "no user nobody");
        nobody_uid = pw->pw_uid;
        nobody_gid = pw->pw_gid;
        return true;
}

/* Start a root reactord whose bus `nobody` can reach too. */
static void daemon_start(void)
{
        char bus[PATH_MAX];

        fixture_daemon_start("test-identity");
        snprintf(bus, sizeof(bus), "%s/bus", fixture_tmpdir);
        ck_assert_int_eq(chmod(fixture_tmpdir, 0711), 0);
        ck_assert_int_eq(chmod(bus, 0666), 0);
}

static rd_client *client_new(const char *name)
{
        rd_client_options opts = { .name = name, .timeout = 60 };
        rd_client *c = NULL;
        int r = rd_client_new(fixture_endpoint, &opts, &c);

        return r < 0 ? NULL : c;
}

/* Spawn a shell that writes its `id -u` and `id -g` to OUT_DIR/id. */
static int spawn_id_writer(rd_client *c, const char *out_dir)
{
        char script[4 * PATH_MAX + 64];
        const char *argv[] = { "/bin/sh", "-c", script, NULL };
        rd_spawn_options o = RD_SPAWN_OPTIONS_INIT;

        snprintf(script, sizeof(script),
                 "id -u >%s/id.tmp && id -g >>%s/id.tmp && mv %s/id.tmp %s/id", out_dir, out_dir,
                 out_dir, out_dir);
        o.stdin_mode = o.stdout_mode = o.stderr_mode = RD_SPAWN_NULL;
        return rd_client_spawn(c, argv, &o, NULL, NULL);
}

/* Wait for OUT_DIR/id; false when it did not come. */
static bool wait_id_file(const char *out_dir)
{
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/id", out_dir);
        for (double deadline = fixture_now() + WAIT_SEC; access(path, F_OK) < 0; usleep(10000))
                if (fixture_now() >= deadline)
                        return false;
        return true;
}

/* ---- the unprivileged side, in a child process that became nobody ------------------------ */

#define EXPECT(cond)                                                                               \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "test-identity (as nobody): %s:%d: %s\n", __FILE__,        \
                                __LINE__, #cond);                                                  \
                        return 1;                                                                  \
                }                                                                                  \
        } while (0)

/* Everything the client may and may not do; 0 when all went as expected. */
static int nobody_main(const char *out_dir)
{
        const char *argv_other[] = { "/bin/true", NULL };
        rd_spawn_options opts = RD_SPAWN_OPTIONS_INIT;
        rd_listen_options lopts = { .name = "nobody-web" };
        rd_client *c = client_new("nobody"), *d;
        uint64_t h;

        EXPECT(c);
        /* Its child runs as it (the test reads what it wrote); waited for, as the
         * session's end stops the session's processes. */
        EXPECT(spawn_id_writer(c, out_dir) == 0);
        EXPECT(wait_id_file(out_dir));

        /* Asking for root, or any other user, is refused. */
        opts.uid = 0;
        opts.gid = 0;
        EXPECT(rd_client_spawn(c, argv_other, &opts, NULL, NULL) == -EPERM);
        opts.uid = nobody_uid;
        opts.gid = nobody_gid;
        EXPECT(rd_client_spawn(c, argv_other, &opts, NULL, NULL) == -EPERM);

        /* Root's kept orphan and root's named listener are not its to take or join. */
        EXPECT(rd_client_process_take(c, "root-kept", &h) == -EPERM);
        EXPECT(rd_client_listener_join(c, "root-web", &h) == -EPERM);

        /* Its own named listener another session of the same user may join. */
        EXPECT(rd_client_tcp_listen(c, "127.0.0.1", 0, &lopts, &h, NULL) == 0);
        d = client_new("nobody-2");
        EXPECT(d);
        EXPECT(rd_client_listener_join(d, "nobody-web", &h) == 0);
        rd_client_free(d);
        rd_client_free(c);
        return 0;
}

static int run_as_nobody(const char *out_dir)
{
        int status;
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(nobody_gid, nobody_gid, nobody_gid) < 0 ||
                    setresuid(nobody_uid, nobody_uid, nobody_uid) < 0)
                        _exit(90);
                _exit(nobody_main(out_dir));
        }
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The two numbers the child's script wrote, once it has. */
static void read_ids(const char *out_dir, unsigned long *uid, unsigned long *gid)
{
        char path[PATH_MAX];
        FILE *f;

        ck_assert_msg(wait_id_file(out_dir), "no id file in %s", out_dir);
        snprintf(path, sizeof(path), "%s/id", out_dir);
        f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(fscanf(f, "%lu %lu", uid, gid), 2);
        fclose(f);
        unlink(path);
}

START_TEST(test_non_root_client)
{
        const char *argv_sleep[] = { "/bin/sleep", "300", NULL };
        rd_spawn_options opts = RD_SPAWN_OPTIONS_INIT;
        rd_listen_options lopts = { .name = "root-web" };
        char out_dir[PATH_MAX];
        unsigned long uid, gid;
        rd_client *root, *keeper, *other;
        uint64_t h;

        if (!can_run())
                return;
        daemon_start();
        snprintf(out_dir, sizeof(out_dir), "%s/out", fixture_tmpdir);
        ck_assert_int_eq(mkdir(out_dir, 0777), 0);
        ck_assert_int_eq(chmod(out_dir, 0777), 0);

        /* Root keeps a process under a name, then leaves it orphaned; and names a listener. */
        keeper = client_new("root-keeper");
        ck_assert_ptr_nonnull(keeper);
        opts.orphan = RD_SPAWN_ORPHAN_KEEP;
        opts.name = "root-kept";
        opts.stdin_mode = opts.stdout_mode = opts.stderr_mode = RD_SPAWN_NULL;
        ck_assert_int_eq(rd_client_spawn(keeper, argv_sleep, &opts, NULL, NULL), 0);
        rd_client_free(keeper);
        root = client_new("root");
        ck_assert_ptr_nonnull(root);
        ck_assert_int_eq(rd_client_tcp_listen(root, "127.0.0.1", 0, &lopts, &h, NULL), 0);

        ck_assert_int_eq(run_as_nobody(out_dir), 0);
        read_ids(out_dir, &uid, &gid);
        ck_assert_uint_eq(uid, nobody_uid);
        ck_assert_uint_eq(gid, nobody_gid);

        /* Root may take the process over and join the listener; its own children stay root's. */
        other = client_new("root-2");
        ck_assert_ptr_nonnull(other);
        ck_assert_int_eq(rd_client_listener_join(other, "root-web", &h), 0);
        ck_assert_int_eq(rd_client_process_take(other, "root-kept", &h), 0);
        ck_assert_int_eq(rd_client_process_stop(other, h, 0, -1), 0); /* it is still "keep" */
        ck_assert_int_eq(spawn_id_writer(other, out_dir), 0);
        read_ids(out_dir, &uid, &gid);
        ck_assert_uint_eq(uid, 0);
        ck_assert_uint_eq(gid, 0);
        rd_client_free(other);
        rd_client_free(root);
        fixture_daemon_stop();
}
END_TEST

static Suite *identity_suite(void)
{
        Suite *s = suite_create("identity");
        TCase *tc = tcase_create("root");

        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, test_non_root_client);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(identity_suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
