/*
 * rates - sliding-hour event counts per sending IP (see rates.h).
 *
 * A hash table (chained, power-of-two buckets) of entries that are also
 * on an LRU list; an entry holds, per kind, RATE_BUCKETS counters and the
 * time slot each one belongs to, so stale buckets are recognised and
 * zeroed lazily instead of by a timer.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rates.h"
#include "xalloc.h"

#define RATE_IP_MAX	64

struct rate_entry {
	char			 ip[RATE_IP_MAX];
	uint64_t		 slot[RATE_KINDS][RATE_BUCKETS];
	uint32_t		 count[RATE_KINDS][RATE_BUCKETS];
	struct rate_entry	*hnext;
	TAILQ_ENTRY(rate_entry)	 lru;
};

TAILQ_HEAD(rate_lru, rate_entry);

struct rate_table {
	struct rate_entry	**hash;
	size_t			  nhash;	/* power of two */
	size_t			  n;
	size_t			  max;
	struct rate_lru		  lru;		/* least recently used first */
};

static uint64_t
ip_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct rate_table *
rate_table_new(size_t max_ips)
{
	struct rate_table *t = xcalloc(1, sizeof *t);

	t->max = max_ips ? max_ips : RATE_IPS_DEFAULT;
	t->nhash = 1024;
	while (t->nhash < t->max && t->nhash < (1u << 20))
		t->nhash <<= 1;
	t->hash = xcalloc(t->nhash, sizeof *t->hash);
	TAILQ_INIT(&t->lru);
	return t;
}

void
rate_table_free(struct rate_table *t)
{
	struct rate_entry *e;

	if (t == NULL)
		return;
	while ((e = TAILQ_FIRST(&t->lru)) != NULL) {
		TAILQ_REMOVE(&t->lru, e, lru);
		free(e);
	}
	free(t->hash);
	free(t);
}

size_t
rate_table_size(const struct rate_table *t)
{
	return t->n;
}

static void
unhash(struct rate_table *t, struct rate_entry *e)
{
	struct rate_entry **pp = &t->hash[ip_hash(e->ip) & (t->nhash - 1)];

	while (*pp != NULL && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp == e)
		*pp = e->hnext;
}

static struct rate_entry *
lookup(struct rate_table *t, const char *ip)
{
	size_t h = ip_hash(ip) & (t->nhash - 1);
	struct rate_entry *e;

	for (e = t->hash[h]; e != NULL; e = e->hnext)
		if (strcmp(e->ip, ip) == 0) {
			TAILQ_REMOVE(&t->lru, e, lru);
			TAILQ_INSERT_TAIL(&t->lru, e, lru);
			return e;
		}
	if (t->n >= t->max) {
		e = TAILQ_FIRST(&t->lru);
		TAILQ_REMOVE(&t->lru, e, lru);
		unhash(t, e);
		memset(e, 0, sizeof *e);
	} else {
		e = xcalloc(1, sizeof *e);
		t->n++;
	}
	/* An over-long "address" is cut; the caller passes real ones. */
	snprintf(e->ip, sizeof e->ip, "%s", ip);
	e->hnext = t->hash[h];
	t->hash[h] = e;
	TAILQ_INSERT_TAIL(&t->lru, e, lru);
	return e;
}

uint32_t
rate_table_add(struct rate_table *t, enum rate_kind kind, const char *ip, uint32_t n,
    time_t now)
{
	struct rate_entry *e;
	uint64_t slot, total = 0;
	size_t b, i;

	if (t == NULL || ip == NULL || kind >= RATE_KINDS)
		return 0;
	e = lookup(t, ip);
	slot = (uint64_t)(now < 0 ? 0 : now) / RATE_BUCKET_SECS;
	b = (size_t)(slot % RATE_BUCKETS);
	if (e->slot[kind][b] != slot) {
		e->slot[kind][b] = slot;
		e->count[kind][b] = 0;
	}
	if (e->count[kind][b] > UINT32_MAX - n)
		e->count[kind][b] = UINT32_MAX;
	else
		e->count[kind][b] += n;
	for (i = 0; i < RATE_BUCKETS; i++)
		if (e->slot[kind][i] + RATE_BUCKETS > slot && e->slot[kind][i] <= slot)
			total += e->count[kind][i];
	return total > UINT32_MAX ? UINT32_MAX : (uint32_t)total;
}
