/* SPDX-License-Identifier: MIT */
#pragma once

#ifndef RD_EXPORT
#define RD_EXPORT __attribute__((visibility("default")))
#endif

/*
 * rd_value: a read-only view of one decoded msgpack value. Values are borrowed
 * from the rd_decoder (and the frame) that produced them and stay valid until
 * that decoder decodes the next frame or is freed. Every accessor accepts NULL
 * and reports a type mismatch instead of guessing.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_value rd_value;

typedef enum rd_value_type {
        RD_VALUE_NONE = 0, /* no value (a NULL rd_value) */
        RD_VALUE_NIL,
        RD_VALUE_BOOL,
        RD_VALUE_UINT, /* a non-negative integer */
        RD_VALUE_INT,  /* a negative integer */
        RD_VALUE_FLOAT,
        RD_VALUE_STR,
        RD_VALUE_BIN,
        RD_VALUE_ARRAY,
        RD_VALUE_MAP,
        RD_VALUE_EXT,
} rd_value_type;

RD_EXPORT rd_value_type rd_value_type_of(const rd_value *v);
/* "nil", "bool", "integer", "float", "str", "bin", "array", "map", "ext" or "missing". */
RD_EXPORT const char *rd_value_type_name(rd_value_type t);

/* Each returns 0, or -EINVAL when the value has another type or does not fit. */
RD_EXPORT int rd_value_bool(const rd_value *v, bool *ret);
RD_EXPORT int rd_value_uint(const rd_value *v, uint64_t *ret);
RD_EXPORT int rd_value_int(const rd_value *v, int64_t *ret);
/* Any number (integer or float) as a double. */
RD_EXPORT int rd_value_double(const rd_value *v, double *ret);
/* The bytes of a str (not NUL-terminated; never NULL, even when empty). */
RD_EXPORT int rd_value_str(const rd_value *v, const char **ret, size_t *len);
/* The bytes of a bin, or of a str (binary-safe readers accept both). */
RD_EXPORT int rd_value_bin(const rd_value *v, const void **ret, size_t *len);

/* Arrays and maps: element counts, or 0 for other types. */
RD_EXPORT size_t rd_value_len(const rd_value *v);
RD_EXPORT const rd_value *rd_value_at(const rd_value *v, size_t i);
/* A map's i-th key and value. */
RD_EXPORT const rd_value *rd_value_key_at(const rd_value *v, size_t i);
RD_EXPORT const rd_value *rd_value_val_at(const rd_value *v, size_t i);
/* A map's value under a string key, or NULL. */
RD_EXPORT const rd_value *rd_value_get(const rd_value *v, const char *key);

/* Does a str value equal `s`? */
RD_EXPORT bool rd_value_str_eq(const rd_value *v, const char *s);

/* Shorthands for a map field: return `def` when missing or mistyped. */
RD_EXPORT uint64_t rd_value_get_uint(const rd_value *map, const char *key, uint64_t def);
RD_EXPORT double rd_value_get_double(const rd_value *map, const char *key, double def);

#ifdef __cplusplus
}
#endif
