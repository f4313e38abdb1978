/*
 * findevent - message tracking over the gateway's own log files.
 *
 * Finds the MIDs whose envelope sender, envelope recipient or Subject
 * matches a regular expression (POSIX extended, case-insensitive), or a
 * given MID, in the current logs (<daemon>.log) or in every log file
 * including rotated ones (<daemon>.log.N), follows generated messages
 * (DSNs log their parent MID) and prints every log line of those MIDs and
 * of their inbound connections, in time order.
 *
 * Runs in sallyctl, not in a daemon: it only reads files the
 * administrator can read, and a long search never blocks the gateway.
 * Not for: compressed logs, remote log subscriptions.
 */
#ifndef CLI_FINDEVENT_H
#define CLI_FINDEVENT_H
#include <stdio.h>

/* type: "from", "to", "subject" or "mid".  Returns 0 when something was
 * found, 1 otherwise (and on errors, with a message on stderr). */
int	findevent_run(FILE *out, const char *logdir, const char *type, const char *pattern,
	    int all_files, int json);

#endif
