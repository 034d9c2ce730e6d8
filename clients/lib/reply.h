/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_reply: a response that outlives the frame it came in. It keeps its own
 * copy of the message's bytes and its own decoder, so the result stays valid
 * while the client goes on receiving frames.
 */

#include <stddef.h>

#include "basic/macro.h"
#include "reactord/client.h"

/*
 * Copy the encoded response `data[0..size)` (exactly one msgpack-rpc response)
 * and decode it again. Returns 0 and a reply the caller frees with
 * rd_reply_free(), -ENOMEM, or -EBADMSG/-EPROTO if the bytes are not a response.
 */
int rd__reply_new(const void *data, size_t size, rd_reply **ret);

DEFINE_CLEANUP_FUNC(rd_reply, rd_reply_free)
