/* SPDX-License-Identifier: MIT */
#include <msgpack.h>
#include <string.h>

#include "error.h"
#include "writer.h"

void rd_writer_done(rd_writer *w)
{
        free(w->data);
        *w = (rd_writer)RD_WRITER_INIT;
}

char *rd_writer_steal(rd_writer *w, size_t *size)
{
        char *p = w->data;
        if (size)
                *size = w->size;
        *w = (rd_writer)RD_WRITER_INIT;
        return p;
}

/* The msgpack_packer callback: append to the buffer, doubling as needed. */
static int append(void *data, const char *buf, size_t len)
{
        rd_writer *w = data;

        if (_unlikely_(w->failed))
                return -1;
        if (_unlikely_(w->capacity - w->size < len)) {
                size_t ncap = w->capacity ? w->capacity : 256;
                while (ncap - w->size < len)
                        ncap *= 2;
                char *n = realloc(w->data, ncap);
                if (!n) {
                        w->failed = true;
                        return -1;
                }
                w->data = n;
                w->capacity = ncap;
        }
        memcpy(w->data + w->size, buf, len);
        w->size += len;
        return 0;
}

#define PACKER(w) msgpack_packer pk = { (w), append }

void rd_write_nil(rd_writer *w)
{
        PACKER(w);
        msgpack_pack_nil(&pk);
}

void rd_write_bool(rd_writer *w, bool v)
{
        PACKER(w);
        if (v)
                msgpack_pack_true(&pk);
        else
                msgpack_pack_false(&pk);
}

void rd_write_int(rd_writer *w, int64_t v)
{
        PACKER(w);
        msgpack_pack_int64(&pk, v);
}

void rd_write_uint(rd_writer *w, uint64_t v)
{
        PACKER(w);
        msgpack_pack_uint64(&pk, v);
}

void rd_write_double(rd_writer *w, double v)
{
        PACKER(w);
        msgpack_pack_double(&pk, v);
}

void rd_write_strn(rd_writer *w, const char *s, size_t n)
{
        PACKER(w);
        msgpack_pack_str_with_body(&pk, s, n);
}

void rd_write_str(rd_writer *w, const char *s)
{
        if (!s)
                rd_write_nil(w);
        else
                rd_write_strn(w, s, strlen(s));
}

void rd_write_bin(rd_writer *w, const void *p, size_t n)
{
        PACKER(w);
        msgpack_pack_bin_with_body(&pk, p, n);
}

void rd_write_array(rd_writer *w, uint32_t n)
{
        PACKER(w);
        msgpack_pack_array(&pk, n);
}

void rd_write_map(rd_writer *w, uint32_t n)
{
        PACKER(w);
        msgpack_pack_map(&pk, n);
}

void rd_write_raw(rd_writer *w, const void *p, size_t n)
{
        append(w, p, n);
}

void rd_write_duration(rd_writer *w, uint64_t usec)
{
        rd_write_double(w, (double)usec / 1e6);
}

void rd_write_kv_uint(rd_writer *w, const char *key, uint64_t v)
{
        rd_write_str(w, key);
        rd_write_uint(w, v);
}

void rd_write_kv_int(rd_writer *w, const char *key, int64_t v)
{
        rd_write_str(w, key);
        rd_write_int(w, v);
}

void rd_write_kv_str(rd_writer *w, const char *key, const char *v)
{
        rd_write_str(w, key);
        rd_write_str(w, v);
}

void rd_write_kv_bool(rd_writer *w, const char *key, bool v)
{
        rd_write_str(w, key);
        rd_write_bool(w, v);
}

void rd_write_kv_double(rd_writer *w, const char *key, double v)
{
        rd_write_str(w, key);
        rd_write_double(w, v);
}

void rd_write_kv_duration(rd_writer *w, const char *key, uint64_t usec)
{
        rd_write_str(w, key);
        rd_write_duration(w, usec);
}

void rd_write_request(rd_writer *w, uint64_t msgid, const char *method, uint32_t n_fields)
{
        rd_write_array(w, 4);
        rd_write_uint(w, 0);
        rd_write_uint(w, msgid);
        rd_write_str(w, method);
        rd_write_array(w, 1);
        rd_write_map(w, n_fields);
}

void rd_write_notification(rd_writer *w, const char *name, uint32_t n_fields)
{
        rd_write_array(w, 3);
        rd_write_uint(w, 2);
        rd_write_str(w, name);
        rd_write_array(w, 1);
        rd_write_map(w, n_fields);
}

void rd_write_result(rd_writer *w, uint64_t msgid, uint32_t n_fields)
{
        rd_write_array(w, 4);
        rd_write_uint(w, 1);
        rd_write_uint(w, msgid);
        rd_write_nil(w);
        rd_write_map(w, n_fields);
}

void rd_write_error(rd_writer *w, uint64_t msgid, int err, const char *message)
{
        rd_write_array(w, 4);
        rd_write_uint(w, 1);
        rd_write_uint(w, msgid);
        rd_write_map(w, 2);
        rd_write_kv_str(w, "code", rd_error_name(err));
        rd_write_kv_str(w, "message", message ? message : rd_error_message(err));
        rd_write_nil(w);
}
