/* SPDX-License-Identifier: MIT */
#include <assert.h>

#include "handle.h"
#include "io.h"
#include "resolver.h"

static const char *const kind_names[_RD_HANDLE_KIND_MAX] = {
        [RD_HANDLE_TIMER] = "timer",
        [RD_HANDLE_LISTENER] = "listener",
        [RD_HANDLE_STREAM] = "stream",
        [RD_HANDLE_UDP] = "udp",
        [RD_HANDLE_PROCESS] = "process",
};

const char *rd_handle_kind_name(rd_handle_kind kind)
{
        return (unsigned)kind < _RD_HANDLE_KIND_MAX ? kind_names[kind] : "?";
}

int rd_reactor_new(sd_event *event, const rd_reactor_sink *sink, rd_reactor **ret)
{
        rd_reactor *r;
        int k;

        assert_return(event && sink && sink->emit && sink->has_credit && ret, -EINVAL);

        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->event = sd_event_ref(event);
        r->sink = *sink;
        r->next_id = 1;
        r->io_fd = -EBADF;
        r->read_buffer = malloc(RD_READ_MAX);
        if (!r->read_buffer) {
                rd_reactor_free(r);
                return -ENOMEM;
        }
        k = rd_owner_new(r, NULL, SIZE_MAX, &r->orphanage);
        if (k >= 0)
                k = rd__timers_init(r);
        if (k >= 0)
                k = rd__io_init(r);
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
        /* Orphans go with the reactor; every other owner must be gone already. */
        r->orphanage = rd_owner_free(r->orphanage);
        assert(rd_hashmap_size(&r->handles) == 0);
        rd__processes_done(r);
        rd__timers_done(r);
        rd__resolver_done(r);
        rd__io_done(r);
        rd_hashmap_done(&r->handles);
        rd_hashmap_done(&r->listener_names);
        free(r->read_buffer);
        sd_event_unref(r->event);
        free(r);
        return NULL;
}

size_t rd_reactor_count(const rd_reactor *r, rd_handle_kind kind)
{
        return (unsigned)kind < _RD_HANDLE_KIND_MAX ? r->count[kind] : 0;
}
