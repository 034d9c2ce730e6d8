/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The journal as a log sink. When the service manager connects stderr to the
 * journal ($JOURNAL_STREAM, see rd_log_stderr_is_journal()), reactord sends
 * each record through sd_journal_sendv(3) instead, so that its structured
 * fields survive: MESSAGE, PRIORITY, CODE_FILE, CODE_LINE, CODE_FUNC,
 * SYSLOG_IDENTIFIER and the record's own (REACTORD_SESSION, REACTORD_CLIENT,
 * REACTORD_CLIENT_PID, REACTORD_HANDLE, REACTORD_METHOD). Should the journal
 * refuse a record, it goes to stderr as a plain line: nothing is lost.
 */

#include <sys/uio.h>

#include "basic/log.h"

/* A record as journal fields ("KEY=value" each), in storage of its own. */
typedef struct rd_journal_entry {
        struct iovec iov[6 + RD_LOG_FIELDS_MAX]; /* the fields, for sd_journal_sendv() */
        size_t n;                                /* how many */
        char buf[2048];                          /* their text */
} rd_journal_entry;

/*
 * Put `rec` into `e` (the fixed fields first, then the record's in order).
 * Text that does not fit is cut short; a field without room is left out.
 */
void rd_journal_entry_format(rd_journal_entry *e, const rd_log_record *rec);

/* An rd_log_sink_fn: send the record to the journal (userdata is unused). */
void rd_journal_sink(const rd_log_record *rec, void *userdata);
