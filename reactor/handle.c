/* SPDX-License-Identifier: MIT */
#include <inttypes.h>

#include "handle.h"

static bool match_id(const void *value, const void *key)
{
        return ((const rd_handle *)value)->id == *(const uint64_t *)key;
}

int rd__handle_register(rd_reactor *r, rd_owner *owner, rd_handle *h, rd_handle_kind kind,
                        const rd_handle_ops *ops)
{
        int k;

        if (owner->n_handles >= owner->max_handles)
                return -EMFILE;

        h->id = r->next_id;
        h->kind = kind;
        h->ops = ops;
        h->reactor = r;
        h->owner = owner;
        rd_list_init(&h->stall_link);
        rd_list_init(&h->room_link);
        k = rd_hashmap_put(&r->handles, h->id, match_id, &h->id, h);
        if (k < 0)
                return k;
        r->next_id++;
        rd_list_append(&owner->handles, &h->owner_link);
        owner->n_handles++;
        r->count[kind]++;
        return 0;
}

int rd_handle_lookup(rd_reactor *r, rd_owner *caller, uint64_t id, rd_handle_kind kind,
                     rd_handle **ret)
{
        rd_handle *h;

        assert_return(r && ret, -EINVAL);

        h = rd_hashmap_get(&r->handles, id, match_id, &id);
        if (!h)
                return -ENOENT;
        if (h->owner != caller)
                return -EPERM;
        if (kind != _RD_HANDLE_KIND_MAX && h->kind != kind)
                return -EBADF;
        *ret = h;
        return 0;
}

void rd_handle_close(rd_handle *h)
{
        rd_reactor *r;

        if (!h)
                return;
        r = h->reactor;
        rd_hashmap_remove(&r->handles, h->id, match_id, &h->id);
        rd_list_remove(&h->owner_link);
        if (rd_list_linked(&h->stall_link))
                rd_list_remove(&h->stall_link);
        if (rd_list_linked(&h->room_link))
                rd_list_remove(&h->room_link);
        h->owner->n_handles--;
        r->count[h->kind]--;
        h->ops->free(h);
}

int rd__handle_move(rd_handle *h, rd_owner *to)
{
        if (to->n_handles >= to->max_handles)
                return -EMFILE;
        rd_list_remove(&h->owner_link);
        if (rd_list_linked(&h->stall_link))
                rd_list_remove(&h->stall_link);
        /* A write refused for the old owner's quota is the old owner's business. */
        if (rd_list_linked(&h->room_link))
                rd_list_remove(&h->room_link);
        h->owner->n_handles--;
        h->owner = to;
        rd_list_append(&to->handles, &h->owner_link);
        to->n_handles++;
        return 0;
}

int rd__handle_emit(rd_handle *h, const rd_event *ev)
{
        rd_reactor *r = h->reactor;
        int k;

        if (h->owner == r->orphanage)
                return 0; /* no one to tell */

        k = r->sink.emit(h->owner, ev, r->sink.userdata);
        if (k == -EAGAIN)
                rd__handle_stall(h);
        return k;
}

int rd__handle_log(const rd_handle *h, rd_log_level level, const char *file, int line,
                   const char *func, const char *fmt, ...)
{
        rd_reactor *r = h->reactor;
        rd_log_fields f = RD_LOG_FIELDS_INIT;
        va_list ap;

        rd_log_fields_add(&f, "REACTORD_HANDLE", "%" PRIu64, h->id);
        if (r->sink.log_fields && h->owner != r->orphanage)
                r->sink.log_fields(h->owner, &f, r->sink.userdata);
        va_start(ap, fmt);
        (void)rd_log_internalv(level, 0, file, line, func, &f, fmt, ap);
        va_end(ap);
        return 0;
}

void rd__handle_stall(rd_handle *h)
{
        if (!rd_list_linked(&h->stall_link))
                rd_list_append(&h->owner->stalled, &h->stall_link);
}

void rd_handle_close_gracefully(rd_handle *h)
{
        if (h->ops->close_gracefully)
                h->ops->close_gracefully(h);
        else
                rd_handle_close(h);
}
