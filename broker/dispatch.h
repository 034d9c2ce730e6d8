/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The dispatch table: every method reactord serves, with its handler, its
 * parameters, the events it may cause and a line of documentation. The
 * dispatcher checks params against the table before a handler runs, and
 * reactor.methods writes the same table out, so the catalogue clients read is
 * the one the daemon enforces (Redis's command table is the model).
 */

#include "proto/params.h"
#include "session.h"

#define RD_MAX_PARAMS 32

typedef struct rd_call {
        rd_broker *broker;          /* the broker */
        rd_session *session;        /* the caller; NULL only for session.hello */
        rd_rid rid;                 /* the caller's routing id */
        const char *peer;           /* ZeroMQ's Peer-Address ("...:uid:gid:pid"), or NULL */
        rd_arg args[RD_MAX_PARAMS]; /* params, in the order the table declares them */
        rd_writer *w;               /* where the result goes */
        uint64_t msgid;             /* the request's msgid */
        bool replied;               /* rd_call_reply() was called */
        char error[256];            /* message for an error response */
} rd_call;

typedef int (*rd_method_fn)(rd_call *c);

typedef enum rd_method_flags {
        RD_METHOD_NO_SESSION = 1 << 0, /* may run before session.hello */
} rd_method_flags;

typedef struct rd_method {
        const char *name;          /* "timer.start" */
        rd_method_fn fn;           /* the handler */
        const rd_param *params;    /* declared params */
        size_t n_params;           /* length of params */
        const char *const *events; /* events the method may cause, NULL-terminated */
        const char *doc;           /* one line */
        unsigned flags;            /* rd_method_flags */
} rd_method;

/* Find a method by name, or NULL. */
const rd_method *rd_dispatch_find(const char *name, size_t len);

/*
 * Run one request or notification from `rid` (whose session is `s`, or NULL).
 * A request's response is appended to `reply`; a failed notification queues a
 * session.error event instead. Returns the handler's result (for logging).
 */
int rd_dispatch(rd_broker *b, rd_session *s, const rd_rid *rid, const char *peer, const rd_msg *msg,
                rd_writer *reply);

/*
 * The checks rd_dispatch() makes before a handler runs: the method exists, the
 * caller may call it without a session (or has one), reactord is not shutting
 * down, and the params match the table. Fills c->args and *ret (the method, or
 * NULL when unknown); returns 0, or a -errno with the message in c->error.
 * Touches nothing but `c`: tests/fuzz/fuzz-params.c drives it directly.
 */
int rd__dispatch_check(const rd_msg *msg, bool has_session, bool shutting_down, rd_call *c,
                       const rd_method **ret);

/* Write the catalogue (the result of reactor.methods): {methods: [...], events: [...]}. */
void rd_dispatch_write_catalogue(rd_writer *w);

/* For handlers: write the head of a success result with `n_fields` pairs to follow. */
void rd_call_reply(rd_call *c, uint32_t n_fields);
/* For handlers: fail with `err` (a -errno) and a message; returns `err`. */
int rd_call_fail(rd_call *c, int err, const char *fmt, ...) _printf_(3, 4);
