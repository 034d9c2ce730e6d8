/* SPDX-License-Identifier: MIT */
/*
 * Replays inputs through a fuzz target's LLVMFuzzerTestOneInput(), one Check
 * test per file, so the committed corpus and every crash found so far run in
 * every build (gcc or clang, with or without sanitizers, under valgrind), not
 * only in a libFuzzer build:
 *
 *     test-fuzz-TARGET DIR...
 *
 * Every regular file in each DIR is an input (names starting with '.' are
 * skipped); a DIR that does not exist holds none. A target that crashes or
 * breaks an invariant aborts, which Check reports as an error of that file's
 * test (with CK_FORK=no, as under valgrind, the run stops there).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static char **files;
static size_t n_files;

static int compare(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(const char *dir)
{
        struct dirent *e;
        DIR *d = opendir(dir);

        if (!d) {
                if (errno != ENOENT) {
                        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                        exit(EXIT_FAILURE);
                }
                return;
        }
        while ((e = readdir(d))) {
                char *path;

                if (e->d_name[0] == '.' || (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
                        continue;
                if (asprintf(&path, "%s/%s", dir, e->d_name) < 0 ||
                    !(files = reallocarray(files, n_files + 1, sizeof(*files)))) {
                        fprintf(stderr, "out of memory\n");
                        exit(EXIT_FAILURE);
                }
                files[n_files++] = path;
        }
        closedir(d);
}

START_TEST(test_replay)
{
        const char *path = files[_i];
        FILE *f = fopen(path, "re");
        uint8_t *data = NULL;
        size_t size = 0, cap = 0, n;

        ck_assert_msg(f, "%s: %s", path, strerror(errno));
        do {
                if (size == cap) {
                        cap = cap ? 2 * cap : 4096;
                        data = realloc(data, cap);
                        ck_assert_ptr_nonnull(data);
                }
                n = fread(data + size, 1, cap - size, f);
                size += n;
        } while (n > 0);
        ck_assert_msg(!ferror(f), "%s: read error", path);
        fclose(f);

        /* Named before it runs: a crash report then says which input it was. */
        fprintf(stderr, "replaying %s (%zu bytes)\n", path, size);
        ck_assert_int_eq(LLVMFuzzerTestOneInput(data, size), 0);
        free(data);
}
END_TEST

int main(int argc, char **argv)
{
        Suite *s = suite_create("fuzz-replay");
        TCase *tc = tcase_create("inputs");
        SRunner *sr;
        int failed;

        for (int i = 1; i < argc; i++)
                collect(argv[i]);
        if (n_files > 0)
                qsort(files, n_files, sizeof(*files), compare);
        tcase_add_loop_test(tc, test_replay, 0, (int)n_files);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
