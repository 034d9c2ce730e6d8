/* SPDX-License-Identifier: MIT */
#pragma once

/* Method handlers, one file per area; the dispatch table in dispatch.c lists them. */

#include "dispatch.h"

/* api-session.c */
int rd_api_session_hello(rd_call *c);
int rd_api_session_ack(rd_call *c);
int rd_api_session_bye(rd_call *c);

/* api-reactor.c */
int rd_api_reactor_ping(rd_call *c);
int rd_api_reactor_info(rd_call *c);
int rd_api_reactor_methods(rd_call *c);
int rd_api_reactor_resources(rd_call *c);
int rd_api_handle_close(rd_call *c);

/* api-timer.c */
int rd_api_timer_start(rd_call *c);
int rd_api_timer_reset(rd_call *c);
int rd_api_timer_cancel(rd_call *c);

/* api-socket.c */
int rd_api_tcp_listen(rd_call *c);
int rd_api_unix_listen(rd_call *c);
int rd_api_listener_join(rd_call *c);
int rd_api_tcp_adopt(rd_call *c);
int rd_api_unix_adopt(rd_call *c);
int rd_api_tcp_connect(rd_call *c);
int rd_api_unix_connect(rd_call *c);
int rd_api_stream_write(rd_call *c);
int rd_api_stream_shutdown(rd_call *c);
int rd_api_stream_close(rd_call *c);
int rd_api_stream_abort(rd_call *c);
int rd_api_stream_pause(rd_call *c);
int rd_api_stream_resume(rd_call *c);
int rd_api_stream_set(rd_call *c);
int rd_api_udp_bind(rd_call *c);
int rd_api_udp_send(rd_call *c);
int rd_api_udp_join(rd_call *c);
int rd_api_udp_leave(rd_call *c);

/* api-process.c */
int rd_api_process_spawn(rd_call *c);
int rd_api_process_write(rd_call *c);
int rd_api_process_close_stdin(rd_call *c);
int rd_api_process_signal(rd_call *c);
int rd_api_process_stop(rd_call *c);
int rd_api_process_take(rd_call *c);
int rd_api_process_list(rd_call *c);

/* A reactor error on `handle` as a reply with a clear message; returns `err`. */
int rd_api_handle_error(rd_call *c, int err, uint64_t handle, const char *kind);
