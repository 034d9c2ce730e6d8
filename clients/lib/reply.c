/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "proto/decoder.h"
#include "reply.h"

struct rd_reply {
        rd_decoder *decoder;    /* owns the decoded values */
        void *data;             /* owned copy of the response's bytes */
        const rd_value *result; /* the result map, borrowed from decoder */
};

int rd__reply_new(const void *data, size_t size, rd_reply **ret)
{
        rd_reply *r;
        rd_msg msg;
        int k;

        assert_return(data && ret, -EINVAL);
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->data = malloc(size ? size : 1);
        if (!r->data) {
                rd_reply_free(r);
                return -ENOMEM;
        }
        memcpy(r->data, data, size);
        k = rd_decoder_new(&r->decoder);
        if (k >= 0)
                k = rd_decoder_begin(r->decoder, r->data, size);
        if (k >= 0)
                k = rd_decoder_next(r->decoder, &msg);
        if (k >= 0 && (k == 0 || msg.type != RD_MSG_RESPONSE))
                k = -EPROTO;
        if (k < 0) {
                rd_reply_free(r);
                return k;
        }
        r->result = msg.result;
        *ret = r;
        return 0;
}

const rd_value *rd_reply_result(const rd_reply *r)
{
        return r ? r->result : NULL;
}

rd_reply *rd_reply_free(rd_reply *r)
{
        if (!r)
                return NULL;
        rd_decoder_free(r->decoder);
        free(r->data);
        free(r);
        return NULL;
}
