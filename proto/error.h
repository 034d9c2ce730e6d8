/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The one table that turns a -errno into a wire error code ("EINVAL") and
 * back. Codes outside the table travel as "EIO". PROTOCOL.md lists the same
 * codes with their meanings.
 */

#include "basic/macro.h"

/* "EINVAL" for -EINVAL (or EINVAL); "EIO" for anything not in the table. */
RD_EXPORT const char *rd_error_name(int err);
/* A short human sentence for the code, for replies that carry no better message. */
RD_EXPORT const char *rd_error_message(int err);
/* -errno for a wire code, or -EIO when unknown. `n` is the code's length. */
RD_EXPORT int rd_error_from_name(const char *name, size_t n);
