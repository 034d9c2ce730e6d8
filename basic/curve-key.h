/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * CURVE key files, as `reactorctl keygen --out NAME` writes them and as
 * reactord and its clients read them (PROTOCOL.md, "Security"):
 *
 *   NAME.pub   one line: the 40-character Z85 public key.
 *   NAME.key   mode 0600; `public-key = Z85` and `secret-key = Z85` lines,
 *              and comment lines starting with '#'.
 *
 * The reader takes either form wherever a key is read. This module only
 * parses and writes text: checking that a secret key matches its public key
 * and turning Z85 into bytes is libzmq's, done by the callers that link it.
 */

#include <stdbool.h>
#include <stddef.h>

/* Characters of a Z85-encoded CURVE key (32 bytes). */
#define RD_CURVE_KEY_Z85_LEN 40

typedef struct rd_curve_key {
        char public_key[RD_CURVE_KEY_Z85_LEN + 1]; /* Z85, or "" when the file has none */
        char secret_key[RD_CURVE_KEY_Z85_LEN + 1]; /* Z85, or "" when the file has none */
} rd_curve_key;

/* Whether `s` (`n` bytes) is a Z85 key: exactly 40 characters of the Z85 alphabet. */
bool rd_curve_key_is_z85(const char *s, size_t n);

/*
 * Read the key file at `path` into *ret. Returns 0, -EINVAL when the file is
 * not in either form above (or holds a key twice), or the -errno of opening
 * or reading it. A file holding neither key is -EINVAL too.
 */
int rd_curve_key_read(const char *path, rd_curve_key *ret);

/*
 * Write NAME.key (mode 0600, both keys) and NAME.pub (mode 0644, the public
 * key) for `name` (a path without the suffix). Neither file may exist yet:
 * -EEXIST, and nothing is written. Returns 0 or -errno; on failure neither
 * file is left behind.
 */
int rd_curve_key_write(const char *name, const rd_curve_key *key);
