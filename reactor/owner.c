/* SPDX-License-Identifier: MIT */
#include <assert.h>

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
        o->max_processes = SIZE_MAX;
        o->max_write_buffer = SIZE_MAX;
        o->uid = geteuid();
        o->privileged = true;
        rd_list_init(&o->handles);
        rd_list_init(&o->stalled);
        rd_list_init(&o->room_waiters);
        *ret = o;
        return 0;
}

void rd_owner_set_identity(rd_owner *o, uid_t uid, bool privileged)
{
        o->uid = uid;
        o->privileged = privileged;
}

bool rd__owner_may_act_for(const rd_owner *o, uid_t uid)
{
        return o->privileged || o->uid == uid;
}

void rd_owner_set_quota(rd_owner *o, size_t max_processes, size_t max_write_buffer)
{
        o->max_processes = max_processes;
        o->max_write_buffer = max_write_buffer;
}

rd_owner *rd_owner_free(rd_owner *o)
{
        if (!o)
                return NULL;
        /* No drained for an owner on its way out: the buffers it frees below wake no one. */
        while (!rd_list_empty(&o->room_waiters))
                rd_list_remove(o->room_waiters.next);
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

int rd__owner_write_check(rd_handle *h, size_t n)
{
        rd_owner *o = h->owner;

        if (n > o->max_write_buffer)
                return -EMSGSIZE;
        if (o->write_buffered + n <= o->max_write_buffer)
                return 0;
        if (!rd_list_linked(&h->room_link)) {
                h->room_wanted = n;
                rd_list_append(&o->room_waiters, &h->room_link);
        } else if (n > h->room_wanted)
                h->room_wanted = n;
        return -EDQUOT;
}

void rd__owner_write_added(rd_owner *o, size_t n)
{
        o->write_buffered += n;
}

void rd__owner_write_released(rd_owner *o, size_t n)
{
        assert(n <= o->write_buffered);
        o->write_buffered -= n;
        /*
         * Every waiter whose write fits now is told, not only the first: a big
         * write that does not fit yet must not hold back small ones. They may
         * then compete for the room; a loser is refused and waits again.
         */
        RD_LIST_FOREACH_SAFE (i, next, &o->room_waiters) {
                rd_handle *h = rd_container_of(i, rd_handle, room_link);

                if (o->write_buffered + h->room_wanted > o->max_write_buffer)
                        continue;
                rd_list_remove(&h->room_link);
                h->room_wanted = 0;
                if (h->ops->write_room)
                        h->ops->write_room(h);
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
