/*
 * qmsg - a queued message as qmgr holds it in memory, and its envelope
 * record in the queue (encode/decode).  Every committed message has one
 * struct qmsg for as long as it has a recipient not done.
 */
#ifndef QMGR_QMSG_H
#define QMGR_QMSG_H
#include <stdint.h>

#include "buf.h"

enum rcpt_state { RCPT_PENDING = 0, RCPT_DONE = 1 };

struct qrcpt {
	char		*addr;
	char		*domain;	/* routing domain, A-labels, lower case */
	uint8_t		 state;
	uint8_t		 inflight;
	uint8_t		 rerouted;	/* domain set by redirectrecipients */
	uint32_t	 attempts;
	uint64_t	 next_try;	/* unix seconds; 0 = now */
	char		*last_reply;
};

struct qmsg {
	uint32_t	 mid;
	uint32_t	 icid;
	uint32_t	 parent_mid;	/* for generated bounces, else 0 */
	uint64_t	 received;
	uint32_t	 flags;
	char		*sender;
	char		*listener;
	char		*client_ip;
	char		*subject;
	uint64_t	 size;
	int		 body_in_file;
	uint32_t	 nrcpt;
	struct qrcpt	*rcpts;
	uint32_t	 pending;	/* recipients not done */
	int		 writing;	/* an envelope write is in flight */
	int		 rewrite;	/* state changed again meanwhile */
	struct qmsg	*hnext;		/* hash chain */
};

void		 qmsg_encode(const struct qmsg *m, struct buf *b);
struct qmsg	*qmsg_decode(uint32_t mid, const void *p, size_t len);
void		 qmsg_free(struct qmsg *m);
/* Domain part of an address, lower case A-labels ("" for none). */
char		*qmsg_rcpt_domain(const char *addr);

#endif
