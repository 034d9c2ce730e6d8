/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The fuzz targets. Each defines LLVMFuzzerTestOneInput(); libFuzzer calls it
 * in a -Dfuzz=true (clang) build, and replay.c calls it on the committed corpus
 * and regression inputs in every build.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test: a failure is a finding, so crash loudly. */
#define fuzz_assert(expr)                                                                          \
        do {                                                                                       \
                if (!(expr)) {                                                                     \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n", __FILE__, __LINE__,       \
                                #expr);                                                            \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)
