/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * An open-addressing hash map from a 64-bit key to a pointer (linear probing,
 * backward-shift deletion, power-of-two capacity). Keys that are not 64-bit
 * integers are hashed by the caller (rd_hash_bytes) and told apart by a match
 * function on the stored values, so a map never copies or owns its keys.
 *
 * The map owns neither keys nor values. Not safe for concurrent use.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rd_hashmap {
        struct rd_hashmap_slot *slots; /* capacity entries; NULL while empty */
        size_t capacity;               /* power of two, or 0 */
        size_t size;                   /* occupied slots */
} rd_hashmap;

/* Does `value` (stored under the same key) belong to `key`? NULL compares the 64-bit keys only. */
typedef bool (*rd_hashmap_match_fn)(const void *value, const void *key);

#define RD_HASHMAP_INIT                                                                            \
        {                                                                                          \
                NULL, 0, 0                                                                         \
        }

void rd_hashmap_done(rd_hashmap *m);

/* Insert; returns 0, -EEXIST if an entry matches already, or -ENOMEM. */
int rd_hashmap_put(rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match, const void *match_key,
                   void *value);
/* Look up; returns the value or NULL. */
void *rd_hashmap_get(const rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match,
                     const void *match_key);
/* Remove and return the value, or NULL when absent. */
void *rd_hashmap_remove(rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match,
                        const void *match_key);

static inline size_t rd_hashmap_size(const rd_hashmap *m)
{
        return m->size;
}

/* Iterate: `*i` starts at 0; returns the next value or NULL at the end. No changes while iterating.
 */
void *rd_hashmap_next(const rd_hashmap *m, size_t *i);

/* A 64-bit hash of a byte string (FNV-1a with a final avalanche). */
uint64_t rd_hash_bytes(const void *p, size_t n);
