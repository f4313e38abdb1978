/*
 * evrates - sliding-window event rates (evrates.h).
 */
#include <string.h>

#include "evrates.h"

void
rates_init(struct rates *r, int nseries)
{
	memset(r, 0, sizeof *r);
	r->n = nseries > RATE_MAX ? RATE_MAX : nseries;
}

/* Clears the seconds after `from` up to and including `to`. */
static void
clear_span(struct rates *r, uint64_t from, uint64_t to)
{
	uint64_t t;
	int k;

	if (to - from >= RATE_SECONDS) {
		for (k = 0; k < r->n; k++)
			memset(r->slot[k], 0, sizeof r->slot[k]);
		return;
	}
	for (t = from + 1; t <= to; t++)
		for (k = 0; k < r->n; k++)
			r->slot[k][t % RATE_SECONDS] = 0;
}

void
rates_sample(struct rates *r, uint64_t now, const uint64_t *totals)
{
	int k;

	if (!r->primed) {
		memcpy(r->prev, totals, (size_t)r->n * sizeof *totals);
		r->last = now;
		r->primed = 1;
		return;
	}
	if (now < r->last)
		now = r->last;		/* the clock stepped back: book to the last second */
	if (now > r->last)
		clear_span(r, r->last, now);
	for (k = 0; k < r->n; k++) {
		uint64_t d = totals[k] >= r->prev[k] ? totals[k] - r->prev[k] : 0;
		uint64_t s = r->slot[k][now % RATE_SECONDS] + d;

		r->slot[k][now % RATE_SECONDS] = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
		r->prev[k] = totals[k];
	}
	r->last = now;
}

uint64_t
rates_per_hour(const struct rates *r, uint64_t now, int series, unsigned minutes)
{
	uint64_t sum = 0, span, t;

	if (!r->primed || series < 0 || series >= r->n || minutes == 0 || minutes > 15)
		return 0;
	span = (uint64_t)minutes * 60;
	/* Seconds after the last sample hold no events yet. */
	for (t = 0; t < span; t++) {
		uint64_t sec = now - t;
		if (now < t || sec > r->last || r->last - sec >= RATE_SECONDS)
			continue;
		sum += r->slot[series][sec % RATE_SECONDS];
	}
	return sum * 60 / minutes;
}
