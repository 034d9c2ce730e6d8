/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Typed, named parameters. A method declares its parameters once as an array
 * of rd_param; rd_params_parse() checks a request's params map against it and
 * fills one rd_arg per declared parameter. The same declaration is written out
 * by rd_params_write_spec() for reactor.methods, so the catalogue clients read
 * and the checks the daemon applies cannot drift apart.
 *
 * Unknown keys are ignored (forward compatibility); a missing required key, or
 * a key of the wrong type, is -EINVAL with a message naming the key.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "value.h"
#include "writer.h"

typedef enum rd_param_type {
        RD_PARAM_UINT,     /* non-negative integer */
        RD_PARAM_INT,      /* integer */
        RD_PARAM_NUMBER,   /* integer or float */
        RD_PARAM_DURATION, /* seconds, integer or float, >= 0; kept as microseconds */
        RD_PARAM_BOOL,
        RD_PARAM_STR,
        RD_PARAM_BIN,    /* bin (str accepted too) */
        RD_PARAM_HANDLE, /* a handle: integer >= 1 */
        RD_PARAM_MAP,
        RD_PARAM_ARRAY,
        RD_PARAM_ANY,      /* any value; the handler checks it */
        _RD_PARAM_TYPE_MAX,
} rd_param_type;

typedef struct rd_param {
        const char *name;   /* key in the params map */
        rd_param_type type; /* expected wire type */
        bool required;      /* absent => -EINVAL */
        const char *doc;    /* one line for reactor.methods and PROTOCOL.md */
} rd_param;

typedef struct rd_arg {
        bool present; /* the key was in the map */
        union {
                uint64_t u;    /* UINT, HANDLE */
                int64_t i;     /* INT */
                double d;      /* NUMBER */
                uint64_t usec; /* DURATION */
                bool b;        /* BOOL */
                struct {
                        const char *p;
                        size_t n;
                } s;               /* STR, BIN: borrowed bytes */
                const rd_value *v; /* MAP, ARRAY, ANY */
        };
} rd_arg;

/* Durations above this (about 30 years) are refused: they would overflow clocks. */
#define RD_DURATION_MAX_USEC (UINT64_C(1000000000) * USEC_PER_SEC)

/*
 * Check `map` (may be NULL: no params) against `spec[0..n)`, filling `out[0..n)`.
 * Returns 0, or -EINVAL with a message in `err` ("param 'after': expected a
 * duration in seconds, got str").
 */
int rd_params_parse(const rd_value *map, const rd_param *spec, size_t n, rd_arg *out, char *err,
                    size_t errlen);

/* "uint", "int", "number", "duration", "bool", "str", "bin", "handle", "map", "array", "any". */
const char *rd_param_type_name(rd_param_type t);

/* Write `spec` as an array of {name, type, required, doc} maps. */
void rd_params_write_spec(rd_writer *w, const rd_param *spec, size_t n);
