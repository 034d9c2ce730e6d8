/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The JSON view of msgpack values (PROTOCOL.md, "JSON view"), for the tools
 * that speak JSON: maps are objects, arrays arrays, str strings, numbers
 * numbers, nil null, and bin the object {"$bin": "<base64>"}. An object of
 * exactly that form is read back as bin; {"$ext": TYPE, "$bin": "<base64>"}
 * (exactly those two keys) is read back as a msgpack ext of that type.
 *
 * Pure code: no I/O, no global state. Numbers are read and written in the C
 * locale whatever the process's locale is. Both functions are safe to call
 * from any thread.
 */

#include <stddef.h>

#include "basic/macro.h"
#include "value.h"
#include "writer.h"

/* Containers nested deeper than this are refused by rd_json_to_msgpack(). */
#define RD_JSON_MAX_DEPTH 64

/*
 * Parse exactly one JSON value from `json[0..len)` (whitespace around it is
 * allowed, anything else after it is an error) and append it to `w` as one
 * msgpack value. Integers that fit 64 bits become integers (uint when >= 0,
 * int when negative), every other number a float64; strings may use every JSON
 * escape, \uXXXX surrogate pairs included, and must be valid UTF-8.
 *
 * Returns 0, -EINVAL when the text is not valid JSON (a number out of the
 * float range, a lone surrogate, bad base64 in a $bin object, nesting deeper
 * than RD_JSON_MAX_DEPTH, ...), with a message naming the byte offset in
 * `err` (may be NULL), or -ENOMEM. On failure nothing is appended to `w`.
 */
RD_EXPORT int rd_json_to_msgpack(const char *json, size_t len, rd_writer *w, char *err,
                                 size_t errlen);

/*
 * Render `v` (NULL renders as null) as compact JSON in *ret, a NUL-terminated
 * string the caller frees. Strings are escaped (\" \\ \b \f \n \r \t, other
 * control characters as \u00XX) and each byte that is not part of valid UTF-8
 * becomes U+FFFD. Floats keep enough digits to read back the same double and
 * always look like floats ("1.0", "1e+300"); infinities and NaN, which JSON
 * cannot express, become null. A map key that is not a str is rendered as
 * JSON and the text used as the key.
 *
 * Returns 0, -EINVAL when `ret` is NULL, or -ENOMEM.
 */
RD_EXPORT int rd_json_from_value(const rd_value *v, char **ret);
