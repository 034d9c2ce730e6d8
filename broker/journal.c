/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

/* The place of each record is the caller's (CODE_* fields below), not this file's. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "journal.h"

_printf_(2, 3) static void add(rd_journal_entry *e, const char *fmt, ...)
{
        size_t used = 0, room;
        va_list ap;
        int n;

        if (e->n > 0)
                used = (size_t)((char *)e->iov[e->n - 1].iov_base - e->buf) +
                       e->iov[e->n - 1].iov_len + 1;
        room = sizeof(e->buf) - used;
        if (e->n >= ELEMENTSOF(e->iov) || room < 2)
                return;
        va_start(ap, fmt);
        n = vsnprintf(e->buf + used, room, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        /* Cut short rather than left out: a long MESSAGE still says most of what it meant. */
        e->iov[e->n++] = (struct iovec){ e->buf + used, (size_t)n < room ? (size_t)n : room - 1 };
}

void rd_journal_entry_format(rd_journal_entry *e, const rd_log_record *rec)
{
        e->n = 0;
        add(e, "MESSAGE=%s", rec->message);
        add(e, "PRIORITY=%d", (int)rec->level);
        if (rec->file)
                add(e, "CODE_FILE=%s", rec->file);
        if (rec->line > 0)
                add(e, "CODE_LINE=%d", rec->line);
        if (rec->func)
                add(e, "CODE_FUNC=%s", rec->func);
        if (rec->ident)
                add(e, "SYSLOG_IDENTIFIER=%s", rec->ident);
        for (size_t i = 0; i < rec->n_fields; i++)
                add(e, "%s=%s", rec->fields[i].key, rec->fields[i].value);
}

void rd_journal_sink(const rd_log_record *rec, void *userdata)
{
        rd_journal_entry e;

        rd_journal_entry_format(&e, rec);
        if (sd_journal_sendv(e.iov, (int)e.n) < 0)
                rd_log_write_stderr(rec);
}
