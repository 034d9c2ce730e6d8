/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_writer: encodes msgpack into a growable buffer. The framing helpers write
 * the heads of the three msgpack-rpc shapes reactord speaks; the caller then
 * writes exactly `n_fields` key/value pairs of the params/result/payload map.
 *
 *   request       [0, msgid, method, [ {params} ]]
 *   response      [1, msgid, nil,    {result} ]       (success)
 *                 [1, msgid, {code, message}, nil]    (failure)
 *   notification  [2, name,  [ {payload} ]]
 *
 * Allocation failure is sticky: later writes do nothing and rd_writer_failed()
 * reports it, so encoders need not check every call.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"

typedef struct rd_writer {
        char *data;  /* owned; NULL until the first write */
        size_t size; /* bytes written */
        size_t capacity;
        bool failed; /* an allocation failed; contents are incomplete */
} rd_writer;

#define RD_WRITER_INIT                                                                             \
        {                                                                                          \
                NULL, 0, 0, false                                                                  \
        }

RD_EXPORT void rd_writer_done(rd_writer *w);
/* Forget the contents, keep the allocation. */
static inline void rd_writer_reset(rd_writer *w)
{
        w->size = 0;
        w->failed = false;
}
static inline bool rd_writer_failed(const rd_writer *w)
{
        return w->failed;
}
/* Give the buffer away: returns it (caller frees) and leaves the writer empty. */
char *rd_writer_steal(rd_writer *w, size_t *size);

RD_EXPORT void rd_write_nil(rd_writer *w);
RD_EXPORT void rd_write_bool(rd_writer *w, bool v);
RD_EXPORT void rd_write_int(rd_writer *w, int64_t v);
RD_EXPORT void rd_write_uint(rd_writer *w, uint64_t v);
RD_EXPORT void rd_write_double(rd_writer *w, double v);
RD_EXPORT void rd_write_str(rd_writer *w, const char *s); /* NULL writes nil */
RD_EXPORT void rd_write_strn(rd_writer *w, const char *s, size_t n);
RD_EXPORT void rd_write_bin(rd_writer *w, const void *p, size_t n);
RD_EXPORT void rd_write_array(rd_writer *w, uint32_t n);
RD_EXPORT void rd_write_map(rd_writer *w, uint32_t n);
/* Append bytes that already are msgpack. */
RD_EXPORT void rd_write_raw(rd_writer *w, const void *p, size_t n);

/* Durations travel as seconds (a float); reactord keeps microseconds. */
RD_EXPORT void rd_write_duration(rd_writer *w, uint64_t usec);

/* Key/value helpers for the maps every message carries. */
RD_EXPORT void rd_write_kv_uint(rd_writer *w, const char *key, uint64_t v);
RD_EXPORT void rd_write_kv_int(rd_writer *w, const char *key, int64_t v);
RD_EXPORT void rd_write_kv_str(rd_writer *w, const char *key, const char *v);
RD_EXPORT void rd_write_kv_bool(rd_writer *w, const char *key, bool v);
RD_EXPORT void rd_write_kv_double(rd_writer *w, const char *key, double v);
RD_EXPORT void rd_write_kv_duration(rd_writer *w, const char *key, uint64_t usec);

/* Message heads. */
RD_EXPORT void rd_write_request(rd_writer *w, uint64_t msgid, const char *method,
                                uint32_t n_fields);
RD_EXPORT void rd_write_notification(rd_writer *w, const char *name, uint32_t n_fields);
RD_EXPORT void rd_write_result(rd_writer *w, uint64_t msgid, uint32_t n_fields);
/* A complete error response. `err` is a -errno; `message` may be NULL. */
RD_EXPORT void rd_write_error(rd_writer *w, uint64_t msgid, int err, const char *message);
