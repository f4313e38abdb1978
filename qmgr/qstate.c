/*
 * qstate - the message table and small helpers every qmgr file uses:
 * lookups by MID and peer serial, sending on a peer channel, meta writes
 * and the periodic write-back of counter totals.  Kept apart from
 * qmgr.c (the process) so the logic links into unit tests.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "qmgr.h"

uint64_t
qmgr_now(void)
{
	return (uint64_t)time(NULL);
}

/* ---- message table ---- */

struct qmsg *
qmgr_msg_find(struct qmgr *q, uint32_t mid)
{
	struct qmsg *m;

	for (m = q->msgs[mid % MSG_HASH_SIZE]; m; m = m->hnext)
		if (m->mid == mid)
			return m;
	return NULL;
}

void
qmgr_msg_add(struct qmgr *q, struct qmsg *m)
{
	m->hnext = q->msgs[m->mid % MSG_HASH_SIZE];
	q->msgs[m->mid % MSG_HASH_SIZE] = m;
	q->nmsgs++;
}

void
qmgr_msg_remove(struct qmgr *q, struct qmsg *m)
{
	struct qmsg **pp;

	for (pp = &q->msgs[m->mid % MSG_HASH_SIZE]; *pp; pp = &(*pp)->hnext) {
		if (*pp == m) {
			*pp = m->hnext;
			q->nmsgs--;
			return;
		}
	}
}

struct peer *
qmgr_peer_by_serial(struct qmgr *q, uint64_t serial)
{
	struct peer *p;

	for (p = q->peers; p; p = p->next)
		if (p->serial == serial)
			return p;
	return NULL;
}

void
qmgr_send(struct peer *p, struct buf *b)
{
	if (p && p->conn)
		ipc_conn_send(p->conn, b);
	buf_reset(b);
}

void
qmgr_meta_put(struct qmgr *q, const char *key, uint64_t val)
{
	struct qop *op = qop_new(QOP_META, 0);

	snprintf(op->key, sizeof op->key, "%s", key);
	op->val = val;
	store_submit(q->store, op);
}

void
qmgr_persist_counters(struct qmgr *q)
{
	char key[48];
	int i;

	if (q->dns_dirty) {
		for (i = 0; i < DNS_CTR_COUNT; i++) {
			snprintf(key, sizeof key, "dns.%d", i);
			qmgr_meta_put(q, key, q->dns_life[i]);
		}
		q->dns_dirty = 0;
	}
	if (!q->ctr.dirty)
		return;
	for (i = 0; i < C_COUNT; i++) {
		counter_key(key, sizeof key, "ctr", (enum counter_id)i);
		qmgr_meta_put(q, key, q->ctr.lifetime[i]);
	}
	q->ctr.dirty = 0;
}

const char *const dns_counter_labels[DNS_CTR_COUNT] = { "DNS Requests", "Network Requests",
    "Cache Hits", "Cache Misses", "Cache Exceptions", "Cache Expired" };

int
qmgr_dns_counter(struct qmgr *q, const char *label, uint64_t delta)
{
	int k;

	for (k = 0; k < DNS_CTR_COUNT; k++) {
		if (strcmp(dns_counter_labels[k], label) == 0) {
			q->dns_life[k] += delta;
			q->dns_up[k] += delta;
			q->dns_dirty = 1;
			return 1;
		}
	}
	return 0;
}

/* Lifetime totals ("dns.<k>") and the resetcounters baseline
 * ("dnsbase.<k>") live in the queue's meta database, as the others. */
void
qmgr_load_dns_counters(struct qmgr *q)
{
	char key[48];
	uint64_t v;
	int k;

	for (k = 0; k < DNS_CTR_COUNT; k++) {
		snprintf(key, sizeof key, "dns.%d", k);
		if (store_meta_get(q->store, key, &v) == 0)
			q->dns_life[k] = v;
		snprintf(key, sizeof key, "dnsbase.%d", k);
		if (store_meta_get(q->store, key, &v) == 0)
			q->dns_base[k] = v;
	}
}

