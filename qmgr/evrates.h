/*
 * evrates - events per hour over sliding 1, 5 and 15 minute windows (the
 * spec's Table 3), from a per-second ring buffer covering 15 minutes.
 *
 * The owner samples cumulative totals (the counters' lifetime values) with
 * the current time; the increase since the previous sample is booked to
 * that second.  A window's rate is the events in its last N*60 seconds
 * times 60/N: 100 events in one minute read 6,000 / 1,200 / 400.  The
 * clock is passed in, so the arithmetic is tested with a fake one.
 *
 * Not for: the counters themselves (counters.h).
 */
#ifndef QMGR_EVRATES_H
#define QMGR_EVRATES_H
#include <stdint.h>

#define RATE_SECONDS	900
#define RATE_MAX	8

struct rates {
	int		 n;			/* series in use */
	int		 primed;
	uint64_t	 last;			/* second of the last sample */
	uint64_t	 prev[RATE_MAX];	/* totals at the last sample */
	uint32_t	 slot[RATE_MAX][RATE_SECONDS];
};

void		rates_init(struct rates *r, int nseries);
/* totals: nseries cumulative values; now: unix seconds (never decreasing). */
void		rates_sample(struct rates *r, uint64_t now, const uint64_t *totals);
/* Events per hour of one series over the last `minutes` (1..15). */
uint64_t	rates_per_hour(const struct rates *r, uint64_t now, int series, unsigned minutes);

#endif
