/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <msgpack.h>
#include <string.h>

#include "value.h"

/* An rd_value is a msgpack_object; the type stays opaque outside proto/. */
static inline const msgpack_object *O(const rd_value *v)
{
        return (const msgpack_object *)v;
}
static inline const rd_value *V(const msgpack_object *o)
{
        return (const rd_value *)o;
}

rd_value_type rd_value_type_of(const rd_value *v)
{
        if (!v)
                return RD_VALUE_NONE;
        switch (O(v)->type) {
        case MSGPACK_OBJECT_NIL:
                return RD_VALUE_NIL;
        case MSGPACK_OBJECT_BOOLEAN:
                return RD_VALUE_BOOL;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                return RD_VALUE_UINT;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                return RD_VALUE_INT;
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                return RD_VALUE_FLOAT;
        case MSGPACK_OBJECT_STR:
                return RD_VALUE_STR;
        case MSGPACK_OBJECT_BIN:
                return RD_VALUE_BIN;
        case MSGPACK_OBJECT_ARRAY:
                return RD_VALUE_ARRAY;
        case MSGPACK_OBJECT_MAP:
                return RD_VALUE_MAP;
        case MSGPACK_OBJECT_EXT:
                return RD_VALUE_EXT;
        }
        return RD_VALUE_NONE;
}

const char *rd_value_type_name(rd_value_type t)
{
        static const char *const names[] = {
                [RD_VALUE_NONE] = "missing", [RD_VALUE_NIL] = "nil",     [RD_VALUE_BOOL] = "bool",
                [RD_VALUE_UINT] = "integer", [RD_VALUE_INT] = "integer", [RD_VALUE_FLOAT] = "float",
                [RD_VALUE_STR] = "str",      [RD_VALUE_BIN] = "bin",     [RD_VALUE_ARRAY] = "array",
                [RD_VALUE_MAP] = "map",      [RD_VALUE_EXT] = "ext",
        };
        return (unsigned)t < ELEMENTSOF(names) ? names[t] : "?";
}

int rd_value_bool(const rd_value *v, bool *ret)
{
        assert_return(v && O(v)->type == MSGPACK_OBJECT_BOOLEAN, -EINVAL);
        *ret = O(v)->via.boolean;
        return 0;
}

int rd_value_uint(const rd_value *v, uint64_t *ret)
{
        assert_return(v && O(v)->type == MSGPACK_OBJECT_POSITIVE_INTEGER, -EINVAL);
        *ret = O(v)->via.u64;
        return 0;
}

int rd_value_int(const rd_value *v, int64_t *ret)
{
        assert_return(v, -EINVAL);
        if (O(v)->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
                *ret = O(v)->via.i64;
                return 0;
        }
        assert_return(O(v)->type == MSGPACK_OBJECT_POSITIVE_INTEGER, -EINVAL);
        assert_return(O(v)->via.u64 <= INT64_MAX, -EINVAL);
        *ret = (int64_t)O(v)->via.u64;
        return 0;
}

int rd_value_double(const rd_value *v, double *ret)
{
        assert_return(v, -EINVAL);
        switch (O(v)->type) {
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
                *ret = O(v)->via.f64;
                return 0;
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
                *ret = (double)O(v)->via.u64;
                return 0;
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
                *ret = (double)O(v)->via.i64;
                return 0;
        default:
                return -EINVAL;
        }
}

/*
 * msgpack-c gives an empty str a NULL pointer. Hand out "" instead: callers
 * pass these bytes to memcmp(), memchr() and memcpy(), which must not get NULL
 * even for zero bytes (found by tests/fuzz/fuzz-decoder).
 */
static const char *str_bytes(const msgpack_object *o)
{
        return o->via.str.ptr ? o->via.str.ptr : "";
}

int rd_value_str(const rd_value *v, const char **ret, size_t *len)
{
        assert_return(v && O(v)->type == MSGPACK_OBJECT_STR, -EINVAL);
        *ret = str_bytes(O(v));
        *len = O(v)->via.str.size;
        return 0;
}

int rd_value_bin(const rd_value *v, const void **ret, size_t *len)
{
        assert_return(v, -EINVAL);
        if (O(v)->type == MSGPACK_OBJECT_STR) {
                *ret = str_bytes(O(v));
                *len = O(v)->via.str.size;
                return 0;
        }
        assert_return(O(v)->type == MSGPACK_OBJECT_BIN, -EINVAL);
        *ret = O(v)->via.bin.ptr ? O(v)->via.bin.ptr : ""; /* as for str, should it be NULL */
        *len = O(v)->via.bin.size;
        return 0;
}

size_t rd_value_len(const rd_value *v)
{
        if (!v)
                return 0;
        if (O(v)->type == MSGPACK_OBJECT_ARRAY)
                return O(v)->via.array.size;
        if (O(v)->type == MSGPACK_OBJECT_MAP)
                return O(v)->via.map.size;
        return 0;
}

const rd_value *rd_value_at(const rd_value *v, size_t i)
{
        if (!v || O(v)->type != MSGPACK_OBJECT_ARRAY || i >= O(v)->via.array.size)
                return NULL;
        return V(&O(v)->via.array.ptr[i]);
}

const rd_value *rd_value_key_at(const rd_value *v, size_t i)
{
        if (!v || O(v)->type != MSGPACK_OBJECT_MAP || i >= O(v)->via.map.size)
                return NULL;
        return V(&O(v)->via.map.ptr[i].key);
}

const rd_value *rd_value_val_at(const rd_value *v, size_t i)
{
        if (!v || O(v)->type != MSGPACK_OBJECT_MAP || i >= O(v)->via.map.size)
                return NULL;
        return V(&O(v)->via.map.ptr[i].val);
}

bool rd_value_str_eq(const rd_value *v, const char *s)
{
        if (!v || O(v)->type != MSGPACK_OBJECT_STR)
                return false;
        size_t n = strlen(s);
        return O(v)->via.str.size == n && memcmp(str_bytes(O(v)), s, n) == 0;
}

const rd_value *rd_value_get(const rd_value *v, const char *key)
{
        if (!v || O(v)->type != MSGPACK_OBJECT_MAP)
                return NULL;
        /* Maps are small (a handful of named fields): a linear scan beats hashing. */
        for (uint32_t i = 0; i < O(v)->via.map.size; i++)
                if (rd_value_str_eq(V(&O(v)->via.map.ptr[i].key), key))
                        return V(&O(v)->via.map.ptr[i].val);
        return NULL;
}

uint64_t rd_value_get_uint(const rd_value *map, const char *key, uint64_t def)
{
        uint64_t u;
        return rd_value_uint(rd_value_get(map, key), &u) < 0 ? def : u;
}

double rd_value_get_double(const rd_value *map, const char *key, double def)
{
        double d;
        return rd_value_double(rd_value_get(map, key), &d) < 0 ? def : d;
}
