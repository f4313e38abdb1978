/*
 * counters - labels and arithmetic of the event counters (counters.h).
 */
#include <stdio.h>
#include <string.h>

#include "counters.h"

static const char *const labels[C_COUNT] = {
	"Messages Received", "Recipients Received", "Gen. Bounce Recipients",
	"Rejected Recipients", "Dropped Messages",
	"Soft Bounced Events",
	"Completed Recipients", "Hard Bounced Recipients", "DNS Hard Bounces",
	"5XX Hard Bounces", "Expired Hard Bounces", "Filter Hard Bounces",
	"Other Hard Bounces", "Delivered Recipients", "Deleted Recipients",
	"Global Unsub. Hits",
	"DHAP Hits", "Rate Limit Hits",
};

const char *
counter_label(enum counter_id id)
{
	return labels[id];
}

int
counter_by_label(const char *label)
{
	int i;

	for (i = 0; i < C_COUNT; i++)
		if (strcmp(labels[i], label) == 0)
			return i;
	return -1;
}

void
counter_key(char *out, size_t outlen, const char *prefix, enum counter_id id)
{
	snprintf(out, outlen, "%s.%d", prefix, (int)id);
}

void
counter_add(struct counters *c, enum counter_id id, uint64_t n)
{
	c->lifetime[id] += n;
	c->uptime[id] += n;
	c->dirty = 1;
}
