/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "basic/hashmap.h"
#include "basic/macro.h"

/* Values are never NULL in a map: integer keys store key + 1 as the pointer. */
#define P(x) ((void *)(uintptr_t)((x) + 1))

/*
 * Hot loops compare with a plain `if` and fail through this: every ck_assert
 * records its location, which would dominate the run time (under valgrind most).
 */
#define EXPECT(cond)                                                                               \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        ck_abort_msg("expected %s", #cond);                                        \
        } while (0)

/* A deterministic generator, so that a failing sequence can be replayed. */
static uint64_t rng_state;

static uint64_t rng(void)
{
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return rng_state;
}

START_TEST(test_put_get_remove)
{
        rd_hashmap m = RD_HASHMAP_INIT;

        ck_assert_uint_eq(rd_hashmap_size(&m), 0);
        ck_assert_ptr_null(rd_hashmap_get(&m, 1, NULL, NULL));
        ck_assert_ptr_null(rd_hashmap_remove(&m, 1, NULL, NULL));

        ck_assert_int_eq(rd_hashmap_put(&m, 1, NULL, NULL, P(1)), 0);
        ck_assert_int_eq(rd_hashmap_put(&m, 2, NULL, NULL, P(2)), 0);
        ck_assert_int_eq(rd_hashmap_put(&m, 0, NULL, NULL, P(0)), 0);
        ck_assert_int_eq(rd_hashmap_put(&m, UINT64_MAX, NULL, NULL, P(7)), 0);
        ck_assert_uint_eq(rd_hashmap_size(&m), 4);

        ck_assert_ptr_eq(rd_hashmap_get(&m, 0, NULL, NULL), P(0));
        ck_assert_ptr_eq(rd_hashmap_get(&m, 1, NULL, NULL), P(1));
        ck_assert_ptr_eq(rd_hashmap_get(&m, 2, NULL, NULL), P(2));
        ck_assert_ptr_eq(rd_hashmap_get(&m, UINT64_MAX, NULL, NULL), P(7));
        ck_assert_ptr_null(rd_hashmap_get(&m, 3, NULL, NULL));

        ck_assert_ptr_eq(rd_hashmap_remove(&m, 1, NULL, NULL), P(1));
        ck_assert_ptr_null(rd_hashmap_remove(&m, 1, NULL, NULL));
        ck_assert_ptr_null(rd_hashmap_get(&m, 1, NULL, NULL));
        ck_assert_ptr_eq(rd_hashmap_get(&m, 2, NULL, NULL), P(2));
        ck_assert_uint_eq(rd_hashmap_size(&m), 3);

        /* A removed key can be inserted again. */
        ck_assert_int_eq(rd_hashmap_put(&m, 1, NULL, NULL, P(11)), 0);
        ck_assert_ptr_eq(rd_hashmap_get(&m, 1, NULL, NULL), P(11));

        rd_hashmap_done(&m);
        ck_assert_ptr_null(m.slots);
        ck_assert_uint_eq(m.capacity, 0);
        ck_assert_uint_eq(rd_hashmap_size(&m), 0);
        /* done() leaves a map that can be used again. */
        ck_assert_int_eq(rd_hashmap_put(&m, 5, NULL, NULL, P(5)), 0);
        ck_assert_ptr_eq(rd_hashmap_get(&m, 5, NULL, NULL), P(5));
        rd_hashmap_done(&m);
}
END_TEST

START_TEST(test_exists_and_null)
{
        rd_hashmap m = RD_HASHMAP_INIT;

        ck_assert_int_eq(rd_hashmap_put(&m, 42, NULL, NULL, P(1)), 0);
        ck_assert_int_eq(rd_hashmap_put(&m, 42, NULL, NULL, P(2)), -EEXIST);
        /* The first value stays. */
        ck_assert_ptr_eq(rd_hashmap_get(&m, 42, NULL, NULL), P(1));
        ck_assert_uint_eq(rd_hashmap_size(&m), 1);
        /* NULL marks an empty slot: it cannot be stored. */
        ck_assert_int_eq(rd_hashmap_put(&m, 43, NULL, NULL, NULL), -EINVAL);
        ck_assert_uint_eq(rd_hashmap_size(&m), 1);
        rd_hashmap_done(&m);
}
END_TEST

START_TEST(test_growth)
{
        enum { N = 100000 };
        rd_hashmap m = RD_HASHMAP_INIT;

        for (uint64_t k = 1; k <= N; k++) {
                EXPECT(rd_hashmap_put(&m, k, NULL, NULL, P(k)) == 0);
                /* The load factor stays at or below 1/2. */
                EXPECT(rd_hashmap_size(&m) * 2 <= m.capacity);
        }
        ck_assert_uint_eq(rd_hashmap_size(&m), N);
        ck_assert_uint_eq(m.capacity & (m.capacity - 1), 0);
        for (uint64_t k = 1; k <= N; k++)
                EXPECT(rd_hashmap_get(&m, k, NULL, NULL) == P(k));
        ck_assert_ptr_null(rd_hashmap_get(&m, 0, NULL, NULL));
        ck_assert_ptr_null(rd_hashmap_get(&m, N + 1, NULL, NULL));

        for (uint64_t k = 1; k <= N; k += 2)
                EXPECT(rd_hashmap_remove(&m, k, NULL, NULL) == P(k));
        ck_assert_uint_eq(rd_hashmap_size(&m), N / 2);
        for (uint64_t k = 1; k <= N; k++)
                EXPECT(rd_hashmap_get(&m, k, NULL, NULL) == (k % 2 ? NULL : P(k)));
        for (uint64_t k = 2; k <= N; k += 2)
                EXPECT(rd_hashmap_remove(&m, k, NULL, NULL) == P(k));
        ck_assert_uint_eq(rd_hashmap_size(&m), 0);
        rd_hashmap_done(&m);
}
END_TEST

/* Compare the map with the reference array `ref` (ref[k] is the value under key k, or NULL). */
static void check_int_map(const rd_hashmap *m, void *const *ref, size_t n)
{
        size_t count = 0;

        for (size_t k = 0; k < n; k++) {
                EXPECT(rd_hashmap_get(m, k, NULL, NULL) == ref[k]);
                count += ref[k] != NULL;
        }
        EXPECT(rd_hashmap_size(m) == count);
}

START_TEST(test_random_int_keys)
{
        /* Few keys in a small table: long probe runs that wrap around the end. */
        enum { KEYS = 48, OPS = 20000 };
        rd_hashmap m = RD_HASHMAP_INIT;
        void *ref[KEYS] = { 0 };

        rng_state = UINT64_C(0x9e3779b97f4a7c15) + (uint64_t)_i;
        for (int op = 0; op < OPS; op++) {
                uint64_t k = rng() % KEYS;
                if (rng() % 2) {
                        int r = rd_hashmap_put(&m, k, NULL, NULL, P(op));
                        EXPECT(r == (ref[k] ? -EEXIST : 0));
                        if (r == 0)
                                ref[k] = P(op);
                } else {
                        EXPECT(rd_hashmap_remove(&m, k, NULL, NULL) == ref[k]);
                        ref[k] = NULL;
                }
                check_int_map(&m, ref, KEYS);
        }
        rd_hashmap_done(&m);
}
END_TEST

/* Entries that share a handful of 64-bit keys and are told apart by id. */
struct entry {
        uint64_t key;
        unsigned id;
};

static bool entry_match(const void *value, const void *key)
{
        return ((const struct entry *)value)->id == *(const unsigned *)key;
}

START_TEST(test_collisions)
{
        /* Every entry hashes to one of 3 home slots: removal must shift whole runs back. */
        enum { N = 200, OPS = 30000 };
        rd_hashmap m = RD_HASHMAP_INIT;
        struct entry e[N];
        bool in[N] = { false };

        rng_state = UINT64_C(0xdeadbeefcafe) + (uint64_t)_i;
        for (unsigned i = 0; i < N; i++)
                e[i] = (struct entry){ .key = i % 3, .id = i };

        for (int op = 0; op < OPS; op++) {
                unsigned i = (unsigned)(rng() % N);
                if (rng() % 3) {
                        int r = rd_hashmap_put(&m, e[i].key, entry_match, &i, &e[i]);
                        EXPECT(r == (in[i] ? -EEXIST : 0));
                        in[i] = true;
                } else {
                        EXPECT(rd_hashmap_remove(&m, e[i].key, entry_match, &i) ==
                               (in[i] ? &e[i] : NULL));
                        in[i] = false;
                }
                if (op % 16 != 0 && op < OPS - 1)
                        continue;
                size_t count = 0;
                for (unsigned j = 0; j < N; j++) {
                        EXPECT(rd_hashmap_get(&m, e[j].key, entry_match, &j) ==
                               (in[j] ? &e[j] : NULL));
                        count += in[j];
                }
                EXPECT(rd_hashmap_size(&m) == count);
        }
        /* Empty it completely, checking the rest after each removal. */
        for (unsigned i = 0; i < N; i++) {
                EXPECT(rd_hashmap_remove(&m, e[i].key, entry_match, &i) == (in[i] ? &e[i] : NULL));
                in[i] = false;
                for (unsigned j = i + 1; j < N; j++)
                        EXPECT(rd_hashmap_get(&m, e[j].key, entry_match, &j) ==
                               (in[j] ? &e[j] : NULL));
        }
        ck_assert_uint_eq(rd_hashmap_size(&m), 0);
        rd_hashmap_done(&m);
}
END_TEST

START_TEST(test_iterate)
{
        enum { N = 1000 };
        rd_hashmap m = RD_HASHMAP_INIT;
        unsigned seen[N + 1] = { 0 };
        size_t i = 0, count = 0;
        void *v;

        /* An empty map yields nothing, also before its first allocation. */
        ck_assert_ptr_null(rd_hashmap_next(&m, &i));

        for (uint64_t k = 1; k <= N; k++)
                ck_assert_int_eq(rd_hashmap_put(&m, k, NULL, NULL, P(k)), 0);
        for (uint64_t k = 1; k <= N; k += 3)
                ck_assert_ptr_nonnull(rd_hashmap_remove(&m, k, NULL, NULL));

        i = 0;
        while ((v = rd_hashmap_next(&m, &i))) {
                uintptr_t k = (uintptr_t)v - 1;
                ck_assert_uint_ge(k, 1);
                ck_assert_uint_le(k, N);
                seen[k]++;
                count++;
        }
        /* Exhausted: stays at the end. */
        ck_assert_ptr_null(rd_hashmap_next(&m, &i));
        ck_assert_uint_eq(count, rd_hashmap_size(&m));
        for (uint64_t k = 1; k <= N; k++)
                ck_assert_uint_eq(seen[k], (k - 1) % 3 == 0 ? 0 : 1);
        rd_hashmap_done(&m);
}
END_TEST

struct named {
        const char *name;
        int n;
};

static bool named_match(const void *value, const void *key)
{
        return strcmp(((const struct named *)value)->name, key) == 0;
}

static uint64_t hash_str(const char *s)
{
        return rd_hash_bytes(s, strlen(s));
}

START_TEST(test_byte_keys)
{
        rd_hashmap m = RD_HASHMAP_INIT;
        struct named items[] = {
                { "timer", 1 }, { "signal", 2 }, { "process", 3 }, { "", 4 }, { "timer2", 5 },
        };
        char key[32];

        for (size_t i = 0; i < ELEMENTSOF(items); i++)
                ck_assert_int_eq(rd_hashmap_put(&m, hash_str(items[i].name), named_match,
                                                items[i].name, &items[i]),
                                 0);
        /* A different buffer holding the same bytes finds the entry: keys are compared, not
         * pointers. */
        strcpy(key, "signal");
        ck_assert_ptr_eq(rd_hashmap_get(&m, hash_str(key), named_match, key), &items[1]);
        strcpy(key, "timer");
        ck_assert_int_eq(rd_hashmap_put(&m, hash_str(key), named_match, key, &items[4]), -EEXIST);
        ck_assert_ptr_null(rd_hashmap_get(&m, hash_str("time"), named_match, "time"));
        ck_assert_ptr_eq(rd_hashmap_get(&m, hash_str(""), named_match, ""), &items[3]);

        /* Two names forced under one 64-bit key are still told apart by the match function. */
        struct named a = { "alpha", 10 }, b = { "beta", 11 };
        ck_assert_int_eq(rd_hashmap_put(&m, 7, named_match, "alpha", &a), 0);
        ck_assert_int_eq(rd_hashmap_put(&m, 7, named_match, "beta", &b), 0);
        ck_assert_ptr_eq(rd_hashmap_get(&m, 7, named_match, "alpha"), &a);
        ck_assert_ptr_eq(rd_hashmap_get(&m, 7, named_match, "beta"), &b);
        ck_assert_ptr_null(rd_hashmap_get(&m, 7, named_match, "gamma"));
        ck_assert_ptr_eq(rd_hashmap_remove(&m, 7, named_match, "alpha"), &a);
        ck_assert_ptr_eq(rd_hashmap_get(&m, 7, named_match, "beta"), &b);
        ck_assert_uint_eq(rd_hashmap_size(&m), ELEMENTSOF(items) + 1);
        rd_hashmap_done(&m);
}
END_TEST

START_TEST(test_hash_bytes)
{
        /* Exactly the first n bytes count, and each of them does (NUL included). */
        ck_assert_uint_eq(rd_hash_bytes("", 0), rd_hash_bytes("x", 0));
        ck_assert_uint_eq(rd_hash_bytes("abc", 3), rd_hash_bytes("abcd", 3));
        ck_assert_uint_ne(rd_hash_bytes("abc", 3), rd_hash_bytes("abd", 3));
        ck_assert_uint_ne(rd_hash_bytes("ab", 2), rd_hash_bytes("ba", 2));
        ck_assert_uint_ne(rd_hash_bytes("a\0b", 3), rd_hash_bytes("a\0c", 3));
        ck_assert_uint_ne(rd_hash_bytes("a", 1), rd_hash_bytes("a\0", 2));
}
END_TEST

static Suite *hashmap_suite(void)
{
        Suite *s = suite_create("hashmap");
        TCase *tc = tcase_create("basic");
        tcase_add_test(tc, test_put_get_remove);
        tcase_add_test(tc, test_exists_and_null);
        tcase_add_test(tc, test_growth);
        tcase_add_test(tc, test_iterate);
        tcase_add_test(tc, test_byte_keys);
        tcase_add_test(tc, test_hash_bytes);
        suite_add_tcase(s, tc);

        tc = tcase_create("random");
        tcase_add_loop_test(tc, test_random_int_keys, 0, 4);
        tcase_add_loop_test(tc, test_collisions, 0, 4);
        suite_add_tcase(s, tc);
        return s;
}

int main(void)
{
        SRunner *sr = srunner_create(hashmap_suite());
        srunner_run_all(sr, CK_ENV);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
