/*
 * qmgr_evrates - the rate arithmetic of the spec (section 2.4) with a fake
 * clock: 100 events in one minute read 6,000 / 1,200 / 400 per hour, and
 * events leave each window when it slides past them.
 */
#include <stdint.h>

#include "evrates.h"
#include "tap.h"

int
main(void)
{
	static struct rates r;
	uint64_t tot[2] = { 0, 0 }, t0 = 1000000;
	int i;

	rates_init(&r, 2);
	is(rates_per_hour(&r, t0, 0, 1), 0, "no sample yet: 0");
	rates_sample(&r, t0, tot);
	/* 100 events spread over one minute. */
	for (i = 1; i <= 60; i++) {
		tot[0] += i <= 40 ? 2 : 1;
		rates_sample(&r, t0 + (uint64_t)i, tot);
	}
	is(tot[0], 100, "100 events in the minute");
	is(rates_per_hour(&r, t0 + 60, 0, 1), 6000, "1-minute rate 6,000/h");
	is(rates_per_hour(&r, t0 + 60, 0, 5), 1200, "5-minute rate 1,200/h");
	is(rates_per_hour(&r, t0 + 60, 0, 15), 400, "15-minute rate 400/h");
	is(rates_per_hour(&r, t0 + 60, 1, 1), 0, "another series stays 0");

	/* Two minutes later nothing new: the 1-minute window is empty. */
	rates_sample(&r, t0 + 180, tot);
	is(rates_per_hour(&r, t0 + 180, 0, 1), 0, "1-minute window slid past the events");
	is(rates_per_hour(&r, t0 + 180, 0, 5), 1200, "still in the 5-minute window");
	/* The query time may run ahead of the last sample. */
	is(rates_per_hour(&r, t0 + 200, 0, 15), 400, "still in the 15-minute window");
	rates_sample(&r, t0 + 60 + 300, tot);
	is(rates_per_hour(&r, t0 + 360, 0, 5), 0, "gone from the 5-minute window after 5 minutes");
	is(rates_per_hour(&r, t0 + 360, 0, 15), 400, "15-minute window keeps them");
	rates_sample(&r, t0 + 60 + 900, tot);
	is(rates_per_hour(&r, t0 + 960, 0, 15), 0, "gone after 15 minutes");

	/* A burst after a long idle gap (more than the ring) counts once. */
	tot[1] += 30;
	rates_sample(&r, t0 + 5000, tot);
	is(rates_per_hour(&r, t0 + 5000, 1, 1), 1800, "30 events in a second: 1,800/h over 1 minute");
	is(rates_per_hour(&r, t0 + 5000, 0, 15), 0, "the idle series reads 0 after the gap");
	/* Several samples in the same second add up. */
	tot[1] += 10;
	rates_sample(&r, t0 + 5000, tot);
	is(rates_per_hour(&r, t0 + 5000, 1, 1), 2400, "same-second samples add up");
	/* A clock step back is booked to the last second, not lost. */
	tot[1] += 5;
	rates_sample(&r, t0 + 4990, tot);
	is(rates_per_hour(&r, t0 + 5000, 1, 1), 2700, "a backwards clock step loses nothing");
	return done_testing();
}
