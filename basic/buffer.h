/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_buffer: a FIFO of bytes (a write buffer). Appends go to the end,
 * consumption advances the start; space is reclaimed by moving the live bytes
 * down when that is cheaper than growing.
 */

#include <stddef.h>

typedef struct rd_buffer {
        char *data;   /* owned allocation, or NULL */
        size_t start; /* first live byte */
        size_t end;   /* one past the last live byte */
        size_t capacity;
} rd_buffer;

#define RD_BUFFER_INIT                                                                             \
        {                                                                                          \
                NULL, 0, 0, 0                                                                      \
        }

static inline size_t rd_buffer_size(const rd_buffer *b)
{
        return b->end - b->start;
}

static inline const char *rd_buffer_head(const rd_buffer *b)
{
        return b->data + b->start;
}

/* Append `n` bytes. Returns 0 or -ENOMEM (nothing appended). */
int rd_buffer_append(rd_buffer *b, const void *p, size_t n);
/* Drop `n` bytes from the front (n <= size). */
void rd_buffer_consume(rd_buffer *b, size_t n);
/* Free the storage. */
void rd_buffer_done(rd_buffer *b);
