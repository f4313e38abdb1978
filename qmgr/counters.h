/*
 * counters - the event counters of the spec's Table 1, owned by qmgr.
 *
 * Each counter has three views: Lifetime (persisted in the queue's meta
 * database), Reset (Lifetime minus a persisted baseline taken at the last
 * resetcounters) and Uptime (since this qmgr started).  Totals are written
 * back at most once a second, batched with the queue's other writes.
 */
#ifndef QMGR_COUNTERS_H
#define QMGR_COUNTERS_H
#include <stdint.h>

enum counter_id {
	C_MSGS_RECEIVED, C_RCPTS_RECEIVED, C_GEN_BOUNCE_RCPTS,
	C_REJECTED_RCPTS, C_DROPPED_MSGS,
	C_SOFT_BOUNCED_EVENTS,
	C_COMPLETED_RCPTS, C_HARD_BOUNCED_RCPTS, C_DNS_HARD_BOUNCES,
	C_5XX_HARD_BOUNCES, C_EXPIRED_HARD_BOUNCES, C_FILTER_HARD_BOUNCES,
	C_OTHER_HARD_BOUNCES, C_DELIVERED_RCPTS, C_DELETED_RCPTS,
	C_GLOBAL_UNSUB_HITS,
	/* smtpd policy decisions (issue 3): appended, ids are persisted */
	C_DHAP_HITS, C_RATE_LIMIT_HITS,
	C_COUNT
};

struct counters {
	uint64_t	lifetime[C_COUNT];
	uint64_t	baseline[C_COUNT];
	uint64_t	uptime[C_COUNT];
	uint64_t	reset_time;	/* unix seconds, 0 = never */
	int		dirty;
};

const char	*counter_label(enum counter_id id);
int		 counter_by_label(const char *label);
/* Meta key of a counter's lifetime ("ctr.<id>") or baseline ("base.<id>"). */
void		 counter_key(char *out, size_t outlen, const char *prefix, enum counter_id id);
void		 counter_add(struct counters *c, enum counter_id id, uint64_t n);

#endif
