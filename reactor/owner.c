/* SPDX-License-Identifier: MIT */
#include "handle.h"

int rd_owner_new(rd_reactor *r, void *userdata, size_t max_handles, rd_owner **ret)
{
        rd_owner *o;

        assert_return(r && ret, -EINVAL);

        o = calloc(1, sizeof(*o));
        if (!o)
                return -ENOMEM;
        o->reactor = r;
        o->userdata = userdata;
        o->max_handles = max_handles;
        rd_list_init(&o->handles);
        rd_list_init(&o->stalled);
        *ret = o;
        return 0;
}

rd_owner *rd_owner_free(rd_owner *o)
{
        if (!o)
                return NULL;
        while (!rd_list_empty(&o->handles)) {
                rd_handle *h = rd_container_of(o->handles.next, rd_handle, owner_link);
                /* A resource that outlives its owner moves to the orphanage; the rest close. */
                if (o == o->reactor->orphanage || !h->ops->orphan || !h->ops->orphan(h))
                        rd_handle_close(h);
        }
        free(o);
        return NULL;
}

void *rd_owner_get_userdata(const rd_owner *o)
{
        return o->userdata;
}

size_t rd_owner_count(const rd_owner *o)
{
        return o->n_handles;
}

void rd_owner_resume(rd_owner *o)
{
        rd_list batch;

        if (rd_list_empty(&o->stalled))
                return;

        /*
         * Take the whole stalled list first: a handle that runs out of credit
         * again re-links itself into o->stalled, and must wait for the next
         * resume rather than spin here.
         */
        batch = o->stalled;
        batch.next->prev = &batch;
        batch.prev->next = &batch;
        rd_list_init(&o->stalled);

        while (!rd_list_empty(&batch)) {
                rd_handle *h = rd_container_of(batch.next, rd_handle, stall_link);
                rd_list_remove(&h->stall_link);
                h->ops->resume(h);
        }
}

void rd_owner_write_resources(rd_owner *o, rd_writer *w)
{
        rd_write_array(w, (uint32_t)o->n_handles);
        RD_LIST_FOREACH (i, &o->handles) {
                rd_handle *h = rd_container_of(i, rd_handle, owner_link);
                uint32_t n = h->ops->describe ? h->ops->describe(h, w, true) : 0;

                rd_write_map(w, 2 + n);
                rd_write_kv_uint(w, "handle", h->id);
                rd_write_kv_str(w, "kind", rd_handle_kind_name(h->kind));
                if (n)
                        h->ops->describe(h, w, false);
        }
}
