/*
 * smtpd_rates - the sliding-hour counts per sending address on a
 * controllable clock: counting, reads without adding, the window edge
 * (buckets of RATE_BUCKET_SECS), kinds kept apart, addresses kept apart,
 * the bound on tracked addresses (least recently used forgotten), and
 * saturation instead of overflow.
 */
#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "../../smtpd/rates.h"

int
main(void)
{
	struct rate_table *t = rate_table_new(4);
	time_t now = 1700000000 - 1700000000 % RATE_BUCKET_SECS;
	char ip[32];
	int i;

	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 1, now), 1, "first event");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 2, now + 10), 3, "adds up");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 0, now + 20), 3, "n = 0 only reads");
	is(rate_table_add(t, RATE_INVALID_RCPTS, "192.0.2.1", 0, now), 0, "kinds are separate");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.2", 0, now), 0, "addresses are separate");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 1, now + 1800), 4, "half an hour later");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 0, now + RATE_WINDOW_SECS - 1), 4,
	    "just under an hour: all counted");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 0, now + RATE_WINDOW_SECS), 1,
	    "an hour on: the first bucket has left the window");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 0, now + 1800 + RATE_WINDOW_SECS), 0,
	    "and then the rest");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 5, now + 10 * RATE_WINDOW_SECS), 5,
	    "a stale bucket is reused from zero");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.1", 0, now), 0,
	    "the clock going back does not count future buckets");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.9", UINT32_MAX, now), UINT32_MAX, "huge add");
	is(rate_table_add(t, RATE_RCPTS, "192.0.2.9", 10, now), UINT32_MAX, "saturates");
	for (i = 0; i < 10; i++) {
		snprintf(ip, sizeof ip, "198.51.100.%d", i);
		rate_table_add(t, RATE_RCPTS, ip, 1, now);
	}
	is(rate_table_size(t), 4, "at most max_ips addresses");
	is(rate_table_add(t, RATE_RCPTS, "198.51.100.9", 0, now), 1, "most recent kept");
	is(rate_table_add(t, RATE_RCPTS, "198.51.100.0", 0, now), 0, "least recent forgotten");
	is(rate_table_add(t, RATE_KINDS, "192.0.2.1", 1, now), 0, "bad kind ignored");
	is(rate_table_add(NULL, RATE_RCPTS, "192.0.2.1", 1, now), 0, "no table");
	rate_table_free(t);
	rate_table_free(NULL);
	return done_testing();
}
