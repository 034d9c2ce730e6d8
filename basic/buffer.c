/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buffer.h"

int rd_buffer_append(rd_buffer *b, const void *p, size_t n)
{
        size_t live = rd_buffer_size(b);

        if (b->capacity - b->end < n) {
                if (b->start > 0 && b->capacity - live >= n && live <= b->start) {
                        /* Enough room overall, and the live bytes are few: slide them down. */
                        memmove(b->data, b->data + b->start, live);
                } else {
                        size_t ncap = b->capacity ? b->capacity : 4096;
                        char *nd;

                        while (ncap - live < n)
                                ncap *= 2;
                        nd = malloc(ncap);
                        if (!nd)
                                return -ENOMEM;
                        if (live)
                                memcpy(nd, b->data + b->start, live);
                        free(b->data);
                        b->data = nd;
                        b->capacity = ncap;
                }
                b->start = 0;
                b->end = live;
        }
        memcpy(b->data + b->end, p, n);
        b->end += n;
        return 0;
}

void rd_buffer_consume(rd_buffer *b, size_t n)
{
        b->start += n;
        if (b->start == b->end) {
                b->start = b->end = 0;
                /* An idle stream should not keep a big buffer. */
                if (b->capacity > 256 * 1024) {
                        free(b->data);
                        *b = (rd_buffer)RD_BUFFER_INIT;
                }
        }
}

void rd_buffer_done(rd_buffer *b)
{
        free(b->data);
        *b = (rd_buffer)RD_BUFFER_INIT;
}
