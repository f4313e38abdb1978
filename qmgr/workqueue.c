/*
 * workqueue - where a committed message waits for the scanner (filters,
 * anti-spam, anti-virus) before delivery.  No scanner exists yet, so a
 * message passes straight through, unless the work queue is paused
 * (`sallyctl workqueue pause`): then it was committed with MSGF_WORKQ and
 * waits here, across restarts too, until resume.  Held messages are kept
 * by MID: a queue command may remove one meanwhile.
 */
#include <stdlib.h>

#include "log.h"
#include "proto.h"
#include "qmgr.h"
#include "xalloc.h"

void
workqueue_enter(struct qmgr *q, struct qmsg *m)
{
	size_t i;

	if (m->flags & MSGF_WORKQ) {
		if (q->nwq_held == q->capwq_held) {
			q->capwq_held = q->capwq_held ? q->capwq_held * 2 : 64;
			q->wq_held = xrealloc(q->wq_held, q->capwq_held * sizeof *q->wq_held);
		}
		q->wq_held[q->nwq_held++] = m->mid;
		log_info("MID %u held in the work queue (paused)", m->mid);
		return;
	}
	if (m->flags & MSGF_DROP) {
		/* A queuing sinkhole: committed like any message, then gone. */
		for (i = 0; i < m->nrcpt; i++)
			m->rcpts[i].state = RCPT_DONE;
		m->pending = 0;
		counter_add(&q->ctr, C_DROPPED_MSGS, 1);
		log_info("MID %u dropped (sinkhole queuing listener)", m->mid);
		log_info("Message finished MID %u done", m->mid);
		sched_write_envelope(q, m);
		return;
	}
	sched_message(q, m);
}

/* Resume: every held message leaves the work queue (durably: the flag is
 * cleared in its envelope) and goes on as if it had just arrived. */
void
workqueue_release(struct qmgr *q)
{
	uint32_t *held = q->wq_held;
	size_t n = q->nwq_held, i;
	struct qmsg *m;

	q->wq_held = NULL;
	q->nwq_held = q->capwq_held = 0;
	for (i = 0; i < n; i++) {
		if ((m = qmgr_msg_find(q, held[i])) == NULL || !(m->flags & MSGF_WORKQ))
			continue;
		m->flags &= ~(uint32_t)MSGF_WORKQ;
		if (m->pending > 0)
			sched_write_envelope(q, m);
		workqueue_enter(q, m);
	}
	free(held);
}

size_t
workqueue_count(struct qmgr *q)
{
	size_t i, n = 0;

	for (i = 0; i < q->nwq_held; i++)
		if (qmgr_msg_find(q, q->wq_held[i]) != NULL)
			n++;
	return n;
}

