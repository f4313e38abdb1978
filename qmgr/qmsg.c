/*
 * qmsg - envelope records (see qmsg.h).  The record is versioned so a
 * later release can read a queue written by this one.
 *
 * After the recipients comes an optional section, present only when some
 * recipient was redirected (redirectrecipients): u32 count, then count x
 * (u32 rid, str routing domain).  A record without it is the same bytes
 * as before the section existed.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "ipc.h"
#include "qmsg.h"
#include "xalloc.h"

#define ENVELOPE_VERSION	1
#define ENV_STR_MAX		4096
#define ENV_MAX_RCPTS		100000

void
qmsg_encode(const struct qmsg *m, struct buf *b)
{
	uint32_t i, n;

	ipc_put_u32(b, ENVELOPE_VERSION);
	ipc_put_u32(b, m->icid);
	ipc_put_u32(b, m->parent_mid);
	ipc_put_u64(b, m->received);
	ipc_put_u32(b, m->flags);
	ipc_put_str(b, m->sender);
	ipc_put_str(b, m->listener);
	ipc_put_str(b, m->client_ip);
	ipc_put_str(b, m->subject);
	ipc_put_u64(b, m->size);
	ipc_put_u32(b, (uint32_t)m->body_in_file);
	ipc_put_u32(b, m->nrcpt);
	for (i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *r = &m->rcpts[i];
		ipc_put_str(b, r->addr);
		ipc_put_u32(b, r->state);
		ipc_put_u32(b, r->attempts);
		ipc_put_u64(b, r->next_try);
		ipc_put_str(b, r->last_reply);
	}
	for (i = 0, n = 0; i < m->nrcpt; i++)
		n += m->rcpts[i].rerouted ? 1 : 0;
	if (n == 0)
		return;
	ipc_put_u32(b, n);
	for (i = 0; i < m->nrcpt; i++) {
		if (!m->rcpts[i].rerouted)
			continue;
		ipc_put_u32(b, i);
		ipc_put_str(b, m->rcpts[i].domain);
	}
}

char *
qmsg_rcpt_domain(const char *addr)
{
	const char *at = strrchr(addr, '@');
	char out[ADDR_DOMAIN_MAX + 1];
	char *d;
	size_t i;

	if (at == NULL)
		return xstrdup("");
	if (addr_domain_to_ascii(at + 1, out, sizeof out) == 0)
		return xstrdup(out);
	d = xstrdup(at + 1);
	for (i = 0; d[i]; i++)
		d[i] = (char)tolower((unsigned char)d[i]);
	return d;
}

struct qmsg *
qmsg_decode(uint32_t mid, const void *p, size_t len)
{
	struct qmsg *m = xcalloc(1, sizeof *m);
	struct ipc_rd rd;
	uint32_t i, n;

	ipc_rd_init(&rd, p, len);
	m->mid = mid;
	if (ipc_get_u32(&rd) != ENVELOPE_VERSION)
		goto bad;
	m->icid = ipc_get_u32(&rd);
	m->parent_mid = ipc_get_u32(&rd);
	m->received = ipc_get_u64(&rd);
	m->flags = ipc_get_u32(&rd);
	m->sender = ipc_get_strdup(&rd, ENV_STR_MAX);
	m->listener = ipc_get_strdup(&rd, ENV_STR_MAX);
	m->client_ip = ipc_get_strdup(&rd, ENV_STR_MAX);
	m->subject = ipc_get_strdup(&rd, ENV_STR_MAX);
	m->size = ipc_get_u64(&rd);
	m->body_in_file = (int)ipc_get_u32(&rd);
	n = ipc_get_u32(&rd);
	if (!ipc_rd_ok(&rd) || n == 0 || n > ENV_MAX_RCPTS || n > rd.left / 24)
		goto bad;
	m->rcpts = xcalloc(n, sizeof *m->rcpts);
	m->nrcpt = n;
	for (i = 0; i < n; i++) {
		struct qrcpt *r = &m->rcpts[i];
		r->addr = ipc_get_strdup(&rd, ENV_STR_MAX);
		r->state = (uint8_t)ipc_get_u32(&rd);
		r->attempts = ipc_get_u32(&rd);
		r->next_try = ipc_get_u64(&rd);
		r->last_reply = ipc_get_strdup(&rd, ENV_STR_MAX);
		if (!ipc_rd_ok(&rd))
			goto bad;
		r->domain = qmsg_rcpt_domain(r->addr);
		if (r->state != RCPT_DONE)
			m->pending++;
	}
	if (rd.left > 0) {	/* redirected recipients */
		uint32_t k, nr = ipc_get_u32(&rd);

		if (!ipc_rd_ok(&rd) || nr > n)
			goto bad;
		for (k = 0; k < nr; k++) {
			uint32_t rid = ipc_get_u32(&rd);
			char *dom = ipc_get_strdup(&rd, ENV_STR_MAX);

			if (dom == NULL || rid >= n) {
				free(dom);
				goto bad;
			}
			free(m->rcpts[rid].domain);
			m->rcpts[rid].domain = dom;
			m->rcpts[rid].rerouted = 1;
		}
	}
	if (!ipc_rd_done(&rd))
		goto bad;
	return m;
bad:
	qmsg_free(m);
	return NULL;
}

void
qmsg_free(struct qmsg *m)
{
	uint32_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nrcpt; i++) {
		free(m->rcpts[i].addr);
		free(m->rcpts[i].domain);
		free(m->rcpts[i].last_reply);
	}
	free(m->rcpts);
	free(m->sender);
	free(m->listener);
	free(m->client_ip);
	free(m->subject);
	free(m);
}
