/*
 * rates - per sending IP event counts over a sliding hour, shared by the
 * sessions of one smtpd: recipients accepted (max_rcpts_per_hour) and
 * invalid recipients (directory harvest prevention), failed AUTH attempts.
 *
 * Pure data structure: the caller passes the time, so tests drive the
 * clock.  The hour is kept as RATE_BUCKETS buckets of RATE_BUCKET_SECS;
 * a count is the sum of the buckets of the last hour (the oldest bucket
 * may hold up to RATE_BUCKET_SECS more than an hour).  Memory is bounded:
 * at most max_ips addresses are tracked; when full, the address used
 * least recently is forgotten (it then starts again from zero, which errs
 * on the side of letting mail in).
 *
 * Not for: connection counts (smtpd.c counts live sessions), persistence
 * across restarts, sharing between smtpd processes.
 */
#ifndef SP_SMTPD_RATES_H
#define SP_SMTPD_RATES_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define RATE_BUCKETS		12
#define RATE_BUCKET_SECS	300
#define RATE_WINDOW_SECS	(RATE_BUCKETS * RATE_BUCKET_SECS)
#define RATE_IPS_DEFAULT	65536

enum rate_kind { RATE_RCPTS = 0, RATE_INVALID_RCPTS = 1, RATE_AUTH_FAILURES = 2, RATE_KINDS };

struct rate_table;

struct rate_table	*rate_table_new(size_t max_ips);
void			 rate_table_free(struct rate_table *t);
/* Adds n events (n may be 0: just reads) of kind for ip at now and
 * returns the count of the last hour, these included. */
uint32_t		 rate_table_add(struct rate_table *t, enum rate_kind kind,
			    const char *ip, uint32_t n, time_t now);
size_t			 rate_table_size(const struct rate_table *t);

#endif
