/* SPDX-License-Identifier: MIT */
#include <msgpack.h>
#include <string.h>

#include "decoder.h"

struct rd_decoder {
        msgpack_zone zone; /* holds the decoded objects; cleared per frame */
        const char *frame; /* borrowed */
        size_t size;       /* frame size */
        size_t offset;     /* bytes consumed */
        size_t end;        /* decode up to here: the first absurd container header, or size */
};

#define ZONE_CHUNK 8192

int rd_decoder_new(rd_decoder **ret)
{
        rd_decoder *d;

        assert_return(ret, -EINVAL);
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        if (!msgpack_zone_init(&d->zone, ZONE_CHUNK)) {
                free(d);
                return -ENOMEM;
        }
        *ret = d;
        return 0;
}

rd_decoder *rd_decoder_free(rd_decoder *d)
{
        if (!d)
                return NULL;
        msgpack_zone_destroy(&d->zone);
        free(d);
        return NULL;
}

static uint32_t be16(const uint8_t *p)
{
        return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Walk the frame token by token and find the first array or map header after
 * which the elements still owed by all open containers outnumber the bytes
 * left (each element takes at least one byte). msgpack-c allocates a
 * container's element table before reading its elements; without this check a
 * 5-byte header could ask for gigabytes, and nested headers could each ask for
 * the whole frame. Returns 0, or -EBADMSG with that header's offset in *bad.
 */
static int check_sizes(const uint8_t *p, size_t n, size_t *bad)
{
        size_t i = 0, owed = 0;

        while (i < n) {
                uint8_t b = p[i];
                size_t head = 1, body = 0, count = 0, weight = 0;

                if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1))
                        head = 1;
                else if (b >= 0x80 && b <= 0x9f)
                        count = b & 0x0f, weight = b <= 0x8f ? 2 : 1; /* fixmap / fixarray */
                else if (b >= 0xa0 && b <= 0xbf)
                        body = b & 0x1f;
                else {
                        static const uint8_t fixed[] = {
                                [0xca - 0xca] = 5, [0xcb - 0xca] = 9,  [0xcc - 0xca] = 2,
                                [0xcd - 0xca] = 3, [0xce - 0xca] = 5,  [0xcf - 0xca] = 9,
                                [0xd0 - 0xca] = 2, [0xd1 - 0xca] = 3,  [0xd2 - 0xca] = 5,
                                [0xd3 - 0xca] = 9, [0xd4 - 0xca] = 3,  [0xd5 - 0xca] = 4,
                                [0xd6 - 0xca] = 6, [0xd7 - 0xca] = 10, [0xd8 - 0xca] = 18,
                        };
                        size_t left = n - i;
                        switch (b) {
                        case 0xc1:
                                *bad = i;
                                return -EBADMSG;
                        case 0xc4: /* bin 8 */
                        case 0xd9: /* str 8 */
                                if (left < 2)
                                        return 0;
                                head = 2, body = p[i + 1];
                                break;
                        case 0xc5:
                        case 0xda:
                                if (left < 3)
                                        return 0;
                                head = 3, body = be16(p + i + 1);
                                break;
                        case 0xc6:
                        case 0xdb:
                                if (left < 5)
                                        return 0;
                                head = 5, body = be32(p + i + 1);
                                break;
                        case 0xc7: /* ext 8 */
                                if (left < 2)
                                        return 0;
                                head = 3, body = p[i + 1];
                                break;
                        case 0xc8:
                                if (left < 3)
                                        return 0;
                                head = 4, body = be16(p + i + 1);
                                break;
                        case 0xc9:
                                if (left < 5)
                                        return 0;
                                head = 6, body = be32(p + i + 1);
                                break;
                        case 0xdc: /* array 16 */
                        case 0xde: /* map 16 */
                                if (left < 3)
                                        return 0;
                                head = 3, count = be16(p + i + 1), weight = b == 0xdc ? 1 : 2;
                                break;
                        case 0xdd:
                        case 0xdf:
                                if (left < 5)
                                        return 0;
                                head = 5, count = be32(p + i + 1), weight = b == 0xdd ? 1 : 2;
                                break;
                        default:
                                head = fixed[b - 0xca];
                                break;
                        }
                }
                /* Truncation is the unpacker's to report; only absurd counts stop here. */
                if (head > n - i)
                        return 0;
                if (owed > 0)
                        owed--; /* this token is one of the elements owed */
                owed += count * weight;
                if (owed > n - i - head) {
                        *bad = i;
                        return -EBADMSG;
                }
                if (body > n - i - head)
                        return 0;
                i += head + body;
        }
        return 0;
}

int rd_decoder_begin(rd_decoder *d, const void *frame, size_t size)
{
        assert_return(d, -EINVAL);
        assert_return(frame || size == 0, -EINVAL);

        msgpack_zone_clear(&d->zone);
        d->frame = frame;
        d->size = size;
        d->offset = 0;
        d->end = size;
        /* Messages before a bad header are still decoded; rd_decoder_next() fails on reaching it.
         */
        if (check_sizes(frame, size, &d->end) < 0 && d->end == 0) {
                d->offset = size; /* nothing further to decode */
                return -EBADMSG;
        }
        return 0;
}

size_t rd_decoder_remaining(const rd_decoder *d)
{
        return d->size - d->offset;
}

/* A params/payload array: `[]` or `[{...}]`. */
static int take_params(const msgpack_object *o, const rd_value **ret)
{
        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 1)
                return -EPROTO;
        if (o->via.array.size == 0) {
                *ret = NULL;
                return 0;
        }
        if (o->via.array.ptr[0].type != MSGPACK_OBJECT_MAP)
                return -EPROTO;
        *ret = (const rd_value *)&o->via.array.ptr[0];
        return 0;
}

static int shape(const msgpack_object *o, rd_msg *msg)
{
        const msgpack_object *a;
        uint32_t n;

        if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size < 2)
                return -EPROTO;
        a = o->via.array.ptr;
        n = o->via.array.size;
        if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 > RD_MSG_NOTIFICATION)
                return -EPROTO;
        msg->type = (rd_msg_type)a[0].via.u64;

        switch (msg->type) {
        case RD_MSG_REQUEST:
        case RD_MSG_RESPONSE:
                if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                        return -EPROTO;
                msg->msgid = a[1].via.u64;
                /* A bad request gets an error response; a bad response gets nothing. */
                msg->has_msgid = msg->type == RD_MSG_REQUEST;
                if (n != 4)
                        return -EPROTO;
                if (msg->type == RD_MSG_RESPONSE) {
                        msg->error = (const rd_value *)&a[2];
                        msg->result = (const rd_value *)&a[3];
                        if (a[2].type != MSGPACK_OBJECT_NIL && a[2].type != MSGPACK_OBJECT_MAP)
                                return -EPROTO;
                        msg->has_msgid = true;
                        return 0;
                }
                if (a[2].type != MSGPACK_OBJECT_STR || a[2].via.str.size == 0)
                        return -EPROTO;
                msg->name = a[2].via.str.ptr;
                msg->name_len = a[2].via.str.size;
                return take_params(&a[3], &msg->params);
        case RD_MSG_NOTIFICATION:
                if (n != 3 || a[1].type != MSGPACK_OBJECT_STR || a[1].via.str.size == 0)
                        return -EPROTO;
                msg->name = a[1].via.str.ptr;
                msg->name_len = a[1].via.str.size;
                return take_params(&a[2], &msg->params);
        }
        return -EPROTO;
}

int rd_decoder_next(rd_decoder *d, rd_msg *msg)
{
        msgpack_object obj;
        size_t start;

        assert_return(d && msg, -EINVAL);
        *msg = (rd_msg){ 0 };
        start = d->offset;
        if (d->offset >= d->size)
                return 0;
        if (d->offset >= d->end) {
                d->offset = d->size;
                return -EBADMSG;
        }

        switch (msgpack_unpack(d->frame, d->end, &d->offset, &d->zone, &obj)) {
        case MSGPACK_UNPACK_SUCCESS:
        case MSGPACK_UNPACK_EXTRA_BYTES:
                break;
        default: /* parse error, truncation, nesting deeper than msgpack-c's 32 levels */
                /* A request's head may still be readable: then its caller can be answered. */
                msg->has_msgid = rd_peek_msgid(d->frame + start, d->size - start, &msg->msgid) >= 0;
                d->offset = d->size;
                return -EBADMSG;
        }
        msg->size = d->offset - start;
        return shape(&obj, msg) < 0 ? -EPROTO : 1;
}

int rd_peek_msgid(const void *frame, size_t size, uint64_t *msgid)
{
        const uint8_t *p = frame;

        assert_return(frame && msgid, -EINVAL);
        /* fixarray(4), request type 0, then an unsigned msgid of any width. */
        if (size < 3 || p[0] != 0x94 || p[1] != 0x00)
                return -EINVAL;
        if (p[2] <= 0x7f) {
                *msgid = p[2];
                return 0;
        }
        size_t w = p[2] == 0xcc ? 1 : p[2] == 0xcd ? 2 : p[2] == 0xce ? 4 : p[2] == 0xcf ? 8 : 0;
        if (w == 0 || size < 3 + w)
                return -EINVAL;
        uint64_t v = 0;
        for (size_t i = 0; i < w; i++)
                v = v << 8 | p[3 + i];
        *msgid = v;
        return 0;
}
