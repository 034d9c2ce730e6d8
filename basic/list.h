/* SPDX-License-Identifier: MIT */
#pragma once

/* An intrusive doubly linked list (as in the Linux kernel and systemd). */

#include <stdbool.h>
#include <stddef.h>

typedef struct rd_list {
        struct rd_list *next, *prev;
} rd_list;

#define RD_LIST_INIT(name)                                                                         \
        {                                                                                          \
                &(name), &(name)                                                                   \
        }

static inline void rd_list_init(rd_list *l)
{
        l->next = l->prev = l;
}

static inline bool rd_list_empty(const rd_list *l)
{
        return l->next == l;
}

/* True when the node is linked into some list (nodes are rd_list_init'ed when unlinked). */
static inline bool rd_list_linked(const rd_list *n)
{
        return n->next != n;
}

static inline void rd_list_append(rd_list *head, rd_list *n)
{
        n->prev = head->prev;
        n->next = head;
        head->prev->next = n;
        head->prev = n;
}

static inline void rd_list_remove(rd_list *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        rd_list_init(n);
}

#define rd_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define RD_LIST_FOREACH(i, head) for (rd_list *i = (head)->next; i != (head); i = i->next)
#define RD_LIST_FOREACH_SAFE(i, n, head)                                                           \
        for (rd_list *i = (head)->next, *n = i->next; i != (head); i = n, n = i->next)
