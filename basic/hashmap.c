/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "hashmap.h"

struct rd_hashmap_slot {
        uint64_t key; /* the caller's 64-bit key */
        void *value;  /* NULL marks an empty slot */
};

/* splitmix64's finaliser: spreads sequential handles over the table. */
static uint64_t mix(uint64_t x)
{
        x ^= x >> 30;
        x *= UINT64_C(0xbf58476d1ce4e5b9);
        x ^= x >> 27;
        x *= UINT64_C(0x94d049bb133111eb);
        x ^= x >> 31;
        return x;
}

uint64_t rd_hash_bytes(const void *p, size_t n)
{
        const unsigned char *s = p;
        uint64_t h = UINT64_C(0xcbf29ce484222325);

        for (size_t i = 0; i < n; i++) {
                h ^= s[i];
                h *= UINT64_C(0x100000001b3);
        }
        return mix(h);
}

static bool matches(const struct rd_hashmap_slot *s, uint64_t key, rd_hashmap_match_fn match,
                    const void *match_key)
{
        return s->key == key && (!match || match(s->value, match_key));
}

void rd_hashmap_done(rd_hashmap *m)
{
        free(m->slots);
        *m = (rd_hashmap)RD_HASHMAP_INIT;
}

static int grow(rd_hashmap *m)
{
        size_t ncap = m->capacity ? m->capacity * 2 : 16;
        struct rd_hashmap_slot *old = m->slots, *n;

        n = calloc(ncap, sizeof(*n));
        if (!n)
                return -ENOMEM;
        for (size_t i = 0; i < m->capacity; i++) {
                if (!old[i].value)
                        continue;
                size_t j = mix(old[i].key) & (ncap - 1);
                while (n[j].value)
                        j = (j + 1) & (ncap - 1);
                n[j] = old[i];
        }
        free(old);
        m->slots = n;
        m->capacity = ncap;
        return 0;
}

int rd_hashmap_put(rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match, const void *match_key,
                   void *value)
{
        int r;

        if (!value)
                return -EINVAL;
        /* Keep the load factor at or below 1/2: probes stay short. */
        if ((m->size + 1) * 2 > m->capacity) {
                r = grow(m);
                if (r < 0)
                        return r;
        }
        size_t mask = m->capacity - 1;
        for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
                struct rd_hashmap_slot *s = &m->slots[i];
                if (!s->value) {
                        s->key = key;
                        s->value = value;
                        m->size++;
                        return 0;
                }
                if (matches(s, key, match, match_key))
                        return -EEXIST;
        }
}

static struct rd_hashmap_slot *find(const rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match,
                                    const void *match_key)
{
        if (m->size == 0)
                return NULL;
        size_t mask = m->capacity - 1;
        for (size_t i = mix(key) & mask;; i = (i + 1) & mask) {
                struct rd_hashmap_slot *s = &m->slots[i];
                if (!s->value)
                        return NULL;
                if (matches(s, key, match, match_key))
                        return s;
        }
}

void *rd_hashmap_get(const rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match,
                     const void *match_key)
{
        struct rd_hashmap_slot *s = find(m, key, match, match_key);
        return s ? s->value : NULL;
}

void *rd_hashmap_remove(rd_hashmap *m, uint64_t key, rd_hashmap_match_fn match,
                        const void *match_key)
{
        struct rd_hashmap_slot *s = find(m, key, match, match_key);
        if (!s)
                return NULL;

        void *value = s->value;
        size_t mask = m->capacity - 1;
        size_t hole = (size_t)(s - m->slots);

        /* Backward-shift deletion: pull later members of the probe run into the hole. */
        for (size_t j = (hole + 1) & mask; m->slots[j].value; j = (j + 1) & mask) {
                size_t home = mix(m->slots[j].key) & mask;
                /* Move j into the hole unless its home lies cyclically in (hole, j]. */
                bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
                if (stays)
                        continue;
                m->slots[hole] = m->slots[j];
                hole = j;
        }
        m->slots[hole].value = NULL;
        m->size--;
        return value;
}

void *rd_hashmap_next(const rd_hashmap *m, size_t *i)
{
        for (; *i < m->capacity; (*i)++)
                if (m->slots[*i].value)
                        return m->slots[(*i)++].value;
        return NULL;
}
