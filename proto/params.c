/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>

#include "params.h"

static const char *const type_names[_RD_PARAM_TYPE_MAX] = {
        [RD_PARAM_UINT] = "uint",     [RD_PARAM_INT] = "int",
        [RD_PARAM_NUMBER] = "number", [RD_PARAM_DURATION] = "duration",
        [RD_PARAM_BOOL] = "bool",     [RD_PARAM_STR] = "str",
        [RD_PARAM_BIN] = "bin",       [RD_PARAM_HANDLE] = "handle",
        [RD_PARAM_MAP] = "map",       [RD_PARAM_ARRAY] = "array",
        [RD_PARAM_ANY] = "any",
};

static const char *const expected[_RD_PARAM_TYPE_MAX] = {
        [RD_PARAM_UINT] = "a non-negative integer",
        [RD_PARAM_INT] = "an integer",
        [RD_PARAM_NUMBER] = "a number",
        [RD_PARAM_DURATION] = "a duration in seconds (a number >= 0)",
        [RD_PARAM_BOOL] = "a bool",
        [RD_PARAM_STR] = "a str",
        [RD_PARAM_BIN] = "a bin or str",
        [RD_PARAM_HANDLE] = "a handle (an integer >= 1)",
        [RD_PARAM_MAP] = "a map",
        [RD_PARAM_ARRAY] = "an array",
        [RD_PARAM_ANY] = "a value",
};

const char *rd_param_type_name(rd_param_type t)
{
        return (unsigned)t < _RD_PARAM_TYPE_MAX ? type_names[t] : "?";
}

static int convert(const rd_value *v, rd_param_type type, rd_arg *a)
{
        double d;

        switch (type) {
        case RD_PARAM_UINT:
                return rd_value_uint(v, &a->u);
        case RD_PARAM_HANDLE:
                if (rd_value_uint(v, &a->u) < 0 || a->u == 0)
                        return -EINVAL;
                return 0;
        case RD_PARAM_INT:
                return rd_value_int(v, &a->i);
        case RD_PARAM_NUMBER:
                if (rd_value_double(v, &a->d) < 0 || !isfinite(a->d))
                        return -EINVAL;
                return 0;
        case RD_PARAM_DURATION:
                if (rd_value_double(v, &d) < 0 || !(d >= 0) ||
                    d > (double)RD_DURATION_MAX_USEC / 1e6)
                        return -EINVAL;
                a->usec = (uint64_t)llround(d * 1e6);
                return 0;
        case RD_PARAM_BOOL:
                return rd_value_bool(v, &a->b);
        case RD_PARAM_STR:
                return rd_value_str(v, &a->s.p, &a->s.n);
        case RD_PARAM_BIN: {
                const void *p;
                int r = rd_value_bin(v, &p, &a->s.n);
                a->s.p = p;
                return r;
        }
        case RD_PARAM_MAP:
                if (rd_value_type_of(v) != RD_VALUE_MAP)
                        return -EINVAL;
                a->v = v;
                return 0;
        case RD_PARAM_ARRAY:
                if (rd_value_type_of(v) != RD_VALUE_ARRAY)
                        return -EINVAL;
                a->v = v;
                return 0;
        case RD_PARAM_ANY:
                a->v = v;
                return 0;
        default:
                return -EINVAL;
        }
}

int rd_params_parse(const rd_value *map, const rd_param *spec, size_t n, rd_arg *out, char *err,
                    size_t errlen)
{
        for (size_t i = 0; i < n; i++) {
                const rd_value *v = rd_value_get(map, spec[i].name);

                out[i] = (rd_arg){ 0 };
                /* nil counts as absent: lets JSON clients write "every": null. */
                if (!v || rd_value_type_of(v) == RD_VALUE_NIL) {
                        if (spec[i].required) {
                                snprintf(err, errlen, "param '%s' (%s) is required", spec[i].name,
                                         type_names[spec[i].type]);
                                return -EINVAL;
                        }
                        continue;
                }
                if (convert(v, spec[i].type, &out[i]) < 0) {
                        snprintf(err, errlen, "param '%s': expected %s, got %s", spec[i].name,
                                 expected[spec[i].type], rd_value_type_name(rd_value_type_of(v)));
                        return -EINVAL;
                }
                out[i].present = true;
        }
        return 0;
}

void rd_params_write_spec(rd_writer *w, const rd_param *spec, size_t n)
{
        rd_write_array(w, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
                rd_write_map(w, 4);
                rd_write_kv_str(w, "name", spec[i].name);
                rd_write_kv_str(w, "type", type_names[spec[i].type]);
                rd_write_kv_bool(w, "required", spec[i].required);
                rd_write_kv_str(w, "doc", spec[i].doc);
        }
}
