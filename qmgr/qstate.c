/*
 * qstate - the message table and small helpers every qmgr file uses:
 * lookups by MID and peer serial, sending on a peer channel, meta writes
 * and the periodic write-back of counter totals.  Kept apart from
 * qmgr.c (the process) so the logic links into unit tests.
 */
#include <stdio.h>
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

	if (!q->ctr.dirty)
		return;
	for (i = 0; i < C_COUNT; i++) {
		counter_key(key, sizeof key, "ctr", (enum counter_id)i);
		qmgr_meta_put(q, key, q->ctr.lifetime[i]);
	}
	q->ctr.dirty = 0;
}

