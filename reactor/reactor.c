/* SPDX-License-Identifier: MIT */
#include <assert.h>

#include "handle.h"

static const char *const kind_names[_RD_HANDLE_KIND_MAX] = {
        [RD_HANDLE_TIMER] = "timer",
};

const char *rd_handle_kind_name(rd_handle_kind kind)
{
        return (unsigned)kind < _RD_HANDLE_KIND_MAX ? kind_names[kind] : "?";
}

int rd_reactor_new(sd_event *event, rd_emit_fn emit, void *userdata, rd_reactor **ret)
{
        rd_reactor *r;
        int k;

        assert_return(event && emit && ret, -EINVAL);

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->emit = emit;
        r->emit_userdata = userdata;
        r->next_id = 1;
        k = rd__timers_init(r);
        if (k < 0) {
                rd_reactor_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

rd_reactor *rd_reactor_free(rd_reactor *r)
{
        if (!r)
                return NULL;
        /* Owners close their handles; a reactor outliving none is a caller bug. */
        assert(rd_hashmap_size(&r->handles) == 0);
        rd__timers_done(r);
        rd_hashmap_done(&r->handles);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

sd_event *rd_reactor_get_event(rd_reactor *r)
{
        return r->event;
}

size_t rd_reactor_count(const rd_reactor *r, rd_handle_kind kind)
{
        return (unsigned)kind < _RD_HANDLE_KIND_MAX ? r->count[kind] : 0;
}
