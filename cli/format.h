/*
 * format - sallyctl's output: the spec's text layouts
 * (spec/cli-monitoring-queue-snmp.md, sections 2.5-2.15) and the JSON
 * form of the same data, built from a decoded control reply.
 *
 * Kept apart from sallyctl.c (the socket, the prompts, the shell) so the
 * layouts can be compared byte for byte with the golden files in t/golden/
 * by a unit test.  Times in the records are unix seconds; they are shown
 * in the local time zone (TZ).
 *
 * Not for: talking to the gateway, reading the terminal.
 */
#ifndef CLI_FORMAT_H
#define CLI_FORMAT_H
#include <stdio.h>
#include <time.h>

#include "ctl.h"

/* Digits with thousands separators ("62049822" -> "62,049,822"). */
const char	*fmt_commas(const char *digits, char *out, size_t outlen);
/* "4 weeks 46 mins 53 secs" (largest units, zero units left out). */
void		 fmt_age(unsigned long long secs, char *out, size_t len);
/* "22h 45m 29s" or "6d 14h 48m 4s". */
void		 fmt_uptime(unsigned long long secs, char *out, size_t len);

void	fmt_status(FILE *fp, const struct ctl_result *res, int detail);
void	fmt_hoststatus(FILE *fp, const struct ctl_result *res);
void	fmt_tophosts(FILE *fp, const struct ctl_result *res);
void	fmt_dnsstatus(FILE *fp, const struct ctl_result *res);
void	fmt_showrecipients(FILE *fp, const struct ctl_result *res);
void	fmt_topin(FILE *fp, const struct ctl_result *res);
void	fmt_tcpservices(FILE *fp, const struct ctl_result *res);
void	fmt_workqueue(FILE *fp, const struct ctl_result *res);
void	fmt_oldmessage(FILE *fp, const struct ctl_result *res);

/* rate: the header, then one row per sample; prev NULL for the first
 * row (deltas 0). */
void	fmt_rate_header(FILE *fp);
void	fmt_rate_row(FILE *fp, const struct ctl_result *res, const struct ctl_result *prev);
void	fmt_hostrate_header(FILE *fp);
void	fmt_hostrate_row(FILE *fp, const struct ctl_result *res, const struct ctl_result *prev);

/*
 * JSON: {"command", "ok", "message", "records": [...]} plus, for records
 * that carry a "section" and a "name", one object per section keyed by
 * name ("counters": {"Messages Received": {"reset": 1, ...}}, "gauges":
 * {"Active Recipients": 3}, ...).  Values made of digits are numbers.
 */
void	fmt_json(FILE *fp, const char *cmd, const struct ctl_result *res);

/* Helpers shared with sallyctl.c. */
const struct ctl_record	*fmt_find(const struct ctl_result *res, const char *section,
			    const char *name);
const char		*fmt_val(const struct ctl_result *res, const char *section,
			    const char *name, const char *key);

/* s as a JSON string literal (NULL as ""). */
void	fmt_json_str(FILE *fp, const char *s);

#endif
