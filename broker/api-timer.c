/* SPDX-License-Identifier: MIT */
#include "api.h"
#include "reactor/timer.h"

int rd_api_timer_start(rd_call *c)
{
        const rd_arg *after = &c->args[0], *every = &c->args[1];
        uint64_t id;
        int k;

        if (every->present && every->usec == 0)
                return rd_call_fail(c, -EINVAL,
                                    "param 'every': must be > 0 (omit it for a one-shot timer)");
        if (after->usec > RD_TIMER_MAX_USEC || every->usec > RD_TIMER_MAX_USEC)
                return rd_call_fail(c, -EINVAL, "durations are limited to %llu seconds",
                                    (unsigned long long)(RD_TIMER_MAX_USEC / USEC_PER_SEC));

        k = rd_timer_start(c->broker->reactor, c->session->owner, after->usec,
                           every->present ? every->usec : 0, &id);
        if (k < 0)
                return rd_api_handle_error(c, k, 0, "timer");

        rd_call_reply(c, 1);
        rd_write_kv_uint(c->w, "handle", id);
        return 0;
}

int rd_api_timer_reset(rd_call *c)
{
        int k = rd_timer_reset(c->broker->reactor, c->session->owner, c->args[0].u,
                               c->args[1].usec);
        return k < 0 ? rd_api_handle_error(c, k, c->args[0].u, "timer") : 0;
}

int rd_api_timer_cancel(rd_call *c)
{
        int k = rd_timer_cancel(c->broker->reactor, c->session->owner, c->args[0].u);
        return k < 0 ? rd_api_handle_error(c, k, c->args[0].u, "timer") : 0;
}
