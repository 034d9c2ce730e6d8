/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * rd_decoder: splits one ZeroMQ frame into the msgpack-rpc messages it carries
 * (a frame holds one or more messages back to back) and checks their shape.
 *
 * Decoded values point into the frame and into the decoder's zone: both must
 * stay alive while they are used. rd_decoder_begin() on the next frame, or
 * rd_decoder_free(), invalidates every value handed out before.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "basic/macro.h"
#include "value.h"

typedef enum rd_msg_type {
        RD_MSG_REQUEST = 0,      /* [0, msgid, method, [params]] */
        RD_MSG_RESPONSE = 1,     /* [1, msgid, error, result] */
        RD_MSG_NOTIFICATION = 2, /* [2, name, [payload]] */
} rd_msg_type;

typedef struct rd_msg {
        rd_msg_type type;
        bool has_msgid;         /* a msgid could be read (on -EPROTO: a request's msgid only) */
        uint64_t msgid;         /* requests and responses */
        const char *name;       /* method or event name; not NUL-terminated */
        size_t name_len;        /* length of name */
        const rd_value *params; /* request/notification map; NULL when the array was empty */
        const rd_value *error;  /* response: nil or {code, message} */
        const rd_value *result; /* response: the result */
        size_t size;            /* encoded size of this message in bytes */
} rd_msg;

typedef struct rd_decoder rd_decoder;

RD_EXPORT int rd_decoder_new(rd_decoder **ret);
RD_EXPORT rd_decoder *rd_decoder_free(rd_decoder *d);

/*
 * Start on a new frame. The frame is borrowed and must outlive the values
 * decoded from it. Returns 0, or -EBADMSG when the frame can be seen at once
 * not to be msgpack (or claims containers larger than itself) from its first
 * byte. Bad bytes further on are reported by rd_decoder_next() once the
 * messages before them have been decoded.
 */
RD_EXPORT int rd_decoder_begin(rd_decoder *d, const void *frame, size_t size);

/*
 * Decode the next message of the frame.
 *   1        a well-formed message is in *msg
 *   0        the frame is consumed
 *  -EBADMSG  the rest of the frame is not msgpack (or is truncated, or nests
 *            deeper than 32 levels); stop. msg->has_msgid tells whether the
 *            bad message starts with a readable request head.
 *  -EPROTO   a msgpack value that is not a msgpack-rpc message; msg->has_msgid
 *            tells whether a request's msgid could be read. Decoding may go on.
 */
RD_EXPORT int rd_decoder_next(rd_decoder *d, rd_msg *msg);

/* Bytes of the current frame not yet decoded. */
RD_EXPORT size_t rd_decoder_remaining(const rd_decoder *d);

/*
 * Read a request's msgid from the first bytes of a frame without decoding it
 * (for frames refused whole, e.g. oversized ones). Returns 0 or -EINVAL.
 */
RD_EXPORT int rd_peek_msgid(const void *frame, size_t size, uint64_t *msgid);

/* Is `msg`'s name equal to `s`? */
static inline bool rd_msg_name_is(const rd_msg *msg, const char *s, size_t n)
{
        return msg->name_len == n && __builtin_memcmp(msg->name, s, n) == 0;
}
