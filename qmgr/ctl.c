/*
 * ctl - qmgr's answers to control requests routed by master: counters,
 * rates and queue gauges for `status [detail]`, `hoststatus`, `tophosts`,
 * the queue operations (`showrecipients`, `deleterecipients`,
 * `bouncerecipients`, `redirectrecipients`, `delivernow`, `showmessage`,
 * `oldmessage`, `removemessage`, `archivemessage`), `suspenddel`,
 * `resumedel`, `workqueue`, `resetcounters`.
 *
 * Delivery suspension and the work queue pause are state, not config:
 * they are kept in <state>/delivery-suspended and <state>/workqueue-paused
 * and survive restarts.  Archived messages go to
 * <state>/oldmessage_<MID>.mbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include "ctl.h"
#include "log.h"
#include "proto.h"
#include "qmgr.h"
#include "statefile.h"
#include "xalloc.h"

static char *
suspend_path(struct qmgr *q)
{
	return xasprintf("%s/delivery-suspended", q->d.cfg->paths.state);
}

void
qmgr_load_suspend_state(struct qmgr *q)
{
	char *path = suspend_path(q);

	if (statefile_read(path, &q->suspended, &q->nsuspended) < 0)
		log_crit("cannot read %s: %s", path, strerror(errno));
	if (q->nsuspended)
		log_info("delivery suspended (kept across restart) for %zu entr%s; "
		    "'sallyctl resumedel' resumes", q->nsuspended, q->nsuspended == 1 ? "y" : "ies");
	free(path);
}

static int
save_suspend_state(struct qmgr *q)
{
	char *path = suspend_path(q);
	int r = statefile_write(path, q->suspended, q->nsuspended);

	if (r < 0)
		log_crit("cannot save delivery suspend state in %s: %s", path, strerror(errno));
	free(path);
	return r;
}

static void
suspend_set(struct qmgr *q, const char *what, int on)
{
	size_t i;

	for (i = 0; i < q->nsuspended; i++) {
		if (strcasecmp(q->suspended[i], what) == 0) {
			if (!on) {
				free(q->suspended[i]);
				q->suspended[i] = q->suspended[--q->nsuspended];
			}
			return;
		}
	}
	if (on) {
		q->suspended = xrealloc(q->suspended, (q->nsuspended + 1) * sizeof *q->suspended);
		q->suspended[q->nsuspended++] = xstrdup(what);
	}
}



void
qmgr_sample_rates(struct qmgr *q)
{
	static const enum counter_id ids[RS_COUNT] = { C_MSGS_RECEIVED, C_RCPTS_RECEIVED,
	    C_SOFT_BOUNCED_EVENTS, C_COMPLETED_RCPTS, C_HARD_BOUNCED_RCPTS, C_DELIVERED_RCPTS };
	uint64_t tot[RS_COUNT];
	int k;

	for (k = 0; k < RS_COUNT; k++)
		tot[k] = q->ctr.uptime[ids[k]];
	rates_sample(&q->rates, qmgr_now(), tot);
}

static void
status_rates(struct qmgr *q, struct ctl_reply *r)
{
	static const char *const names[RS_COUNT] = { "Messages Received", "Recipients Received",
	    "Soft Bounced Events", "Completed Recipients", "Hard Bounced Recipients",
	    "Delivered Recipients" };
	uint64_t now = qmgr_now();
	int k;

	qmgr_sample_rates(q);
	for (k = 0; k < RS_COUNT; k++) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "rate");
		ctl_rec_add(r, "name", "%s", names[k]);
		ctl_rec_add(r, "m1", "%llu", (unsigned long long)rates_per_hour(&q->rates, now, k, 1));
		ctl_rec_add(r, "m5", "%llu", (unsigned long long)rates_per_hour(&q->rates, now, k, 5));
		ctl_rec_add(r, "m15", "%llu", (unsigned long long)rates_per_hour(&q->rates, now, k, 15));
		ctl_rec_end(r);
	}
}

static void
ctl_status(struct qmgr *q, struct ctl_reply *r)
{
	unsigned long long active = 0, unattempted = 0, attempted = 0;
	uint64_t oldest = 0, used_kb, free_kb;
	size_t receiving = 0;
	struct peer *p;
	struct rx *rx;
	static const char *const idnames[4] = { "", "Message ID (MID)",
	    "Injection Conn. ID (ICID)", "Delivery Conn. ID (DCID)" };
	size_t i;
	int k;

	for (k = 0; k < C_COUNT; k++) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "counter");
		ctl_rec_add(r, "name", "%s", counter_label((enum counter_id)k));
		ctl_rec_add(r, "reset", "%llu",
		    (unsigned long long)(q->ctr.lifetime[k] - q->ctr.baseline[k]));
		ctl_rec_add(r, "uptime", "%llu", (unsigned long long)q->ctr.uptime[k]);
		ctl_rec_add(r, "lifetime", "%llu", (unsigned long long)q->ctr.lifetime[k]);
		ctl_rec_end(r);
	}
	for (k = ID_MID; k <= ID_DCID; k++) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "id");
		ctl_rec_add(r, "name", "%s", idnames[k]);
		ctl_rec_add(r, "value", "%u", q->last_id[k]);
		ctl_rec_end(r);
	}
	for (i = 0; i < MSG_HASH_SIZE; i++) {
		struct qmsg *m;
		for (m = q->msgs[i]; m; m = m->hnext) {
			uint32_t j;
			if (oldest == 0 || m->received < oldest)
				oldest = m->received;
			for (j = 0; j < m->nrcpt; j++) {
				if (m->rcpts[j].state == RCPT_DONE)
					continue;
				active++;
				if (m->rcpts[j].attempts)
					attempted++;
				else
					unattempted++;
			}
		}
	}
	/* The spec counts messages still being received in Oldest Message. */
	for (p = q->peers; p; p = p->next) {
		for (rx = p->rxs; rx; rx = rx->next) {
			if (rx->m == NULL)
				continue;
			receiving++;
			if (oldest == 0 || rx->m->received < oldest)
				oldest = rx->m->received;
		}
	}
	store_usage(q->store, &used_kb, &free_kb);
	ctl_rec_gauge(r, "Active Recipients", active);
	ctl_rec_gauge(r, "Unattempted Recipients", unattempted);
	ctl_rec_gauge(r, "Attempted Recipients", attempted);
	ctl_rec_gauge(r, "Messages In Work Queue", workqueue_count(q));
	ctl_rec_gauge(r, "Messages In Quarantine", 0);
	ctl_rec_gauge(r, "Destinations In Memory", sched_active_dests(q));
	ctl_rec_gauge(r, "Kilobytes Used", used_kb);
	ctl_rec_gauge(r, "Kilobytes In Quarantine", 0);
	ctl_rec_gauge(r, "Kilobytes Free", free_kb);
	ctl_rec_gauge(r, "Disk I/O Utilization", q->io_max ? q->io_cur * 100 / q->io_max : 0);
	ctl_rec_info(r, "Deliveries In Flight", "%zu", sched_jobs(q));
	status_rates(q, r);
	ctl_rec_info(r, "Oldest Message", "%llu", oldest ? (unsigned long long)(qmgr_now() - oldest) : 0ULL);
	ctl_rec_info(r, "Queued Messages", "%zu", q->nmsgs + receiving);
	ctl_rec_info(r, "Last counter reset", "%llu", (unsigned long long)q->ctr.reset_time);
	ctl_rec_info(r, "Delivery suspended", "%s", sched_suspended(q, "*all*") ||
	    (q->nsuspended && strcmp(q->suspended[0], "ALL") == 0) ? "all" :
	    q->nsuspended ? "some" : "no");
}

static void
ctl_showrecipients(struct qmgr *q, struct ctl_reply *r, int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "all";
	const char *arg = argc > 2 ? argv[2] : "";
	size_t i, n = 0;

	if (strcmp(mode, "all") != 0 && strcmp(mode, "host") != 0 && strcmp(mode, "from") != 0) {
		ctl_reply_error(r, "showrecipients: unknown selection '%s' (all, host DOMAIN, "
		    "from ADDRESS)", mode);
		return;
	}
	for (i = 0; i < MSG_HASH_SIZE; i++) {
		struct qmsg *m;
		for (m = q->msgs[i]; m; m = m->hnext) {
			uint32_t j;
			if (strcmp(mode, "from") == 0 && strcasecmp(m->sender, arg) != 0)
				continue;
			for (j = 0; j < m->nrcpt; j++) {
				if (m->rcpts[j].state == RCPT_DONE)
					continue;
				if (strcmp(mode, "host") == 0 && strcasecmp(m->rcpts[j].domain, arg) != 0)
					continue;
				ctl_rec_begin(r);
				ctl_rec_add(r, "mid", "%u", m->mid);
				ctl_rec_add(r, "bytes", "%llu", (unsigned long long)m->size);
				ctl_rec_add(r, "sender", "%s", m->sender);
				ctl_rec_add(r, "subject", "%s", m->subject ? m->subject : "");
				ctl_rec_add(r, "rid", "%u", j);
				ctl_rec_add(r, "attempts", "%u", m->rcpts[j].attempts);
				ctl_rec_add(r, "recipient", "%s", m->rcpts[j].addr);
				ctl_rec_end(r);
				n++;
			}
		}
	}
	if (n == 0)
		ctl_reply_message(r, "There are currently no messages in the delivery queue.");
}

/* DMSG_FLUSH (idle connections, DNS) or DMSG_ABORT (running deliveries
 * too) to every deliver process. */
static void
tell_delivers(struct qmgr *q, uint32_t type, const char *domain)
{
	struct peer *p;
	struct buf b;
	size_t start;

	buf_init(&b, 0);
	for (p = q->peers; p; p = p->next) {
		if (p->kind != PROC_DELIVER)
			continue;
		start = ipc_msg_begin(&b, type, 0);
		ipc_put_str(&b, domain ? domain : "");
		ipc_msg_end(&b, start);
		qmgr_send(p, &b);
	}
	buf_free(&b);
}

static void
flush_delivers(struct qmgr *q, const char *domain)
{
	tell_delivers(q, DMSG_FLUSH, domain);
}

/* ---- hoststatus, tophosts ---- */

static void
host_counter(struct ctl_reply *r, const struct dest *d, enum counter_id id)
{
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "counter");
	ctl_rec_add(r, "name", "%s", counter_label(id));
	ctl_rec_add(r, "reset", "%llu", d ? (unsigned long long)d->hc[id] : 0ULL);
	ctl_rec_end(r);
}

static void
ctl_hoststatus(struct qmgr *q, struct ctl_reply *r, const char *arg)
{
	static const enum counter_id ids[] = { C_SOFT_BOUNCED_EVENTS, C_COMPLETED_RCPTS,
	    C_HARD_BOUNCED_RCPTS, C_DNS_HARD_BOUNCES, C_5XX_HARD_BOUNCES, C_FILTER_HARD_BOUNCES,
	    C_EXPIRED_HARD_BOUNCES, C_OTHER_HARD_BOUNCES, C_DELIVERED_RCPTS, C_DELETED_RCPTS };
	static const char *const states[] = { "unknown", "up", "down" };
	unsigned long long active = 0, unattempted = 0, attempted = 0;
	uint64_t oldest = 0, now = qmgr_now();
	char domain[256];
	struct dest *d;
	size_t i, k;

	for (k = 0; arg[k] && k < sizeof domain - 1; k++)
		domain[k] = arg[k] >= 'A' && arg[k] <= 'Z' ? (char)(arg[k] - 'A' + 'a') : arg[k];
	domain[k] = '\0';
	d = sched_dest_find(q, domain);
	for (i = 0; i < MSG_HASH_SIZE; i++) {
		struct qmsg *m;
		for (m = q->msgs[i]; m; m = m->hnext) {
			uint32_t j;
			for (j = 0; j < m->nrcpt; j++) {
				if (m->rcpts[j].state == RCPT_DONE ||
				    strcmp(m->rcpts[j].domain, domain) != 0)
					continue;
				active++;
				if (m->rcpts[j].attempts)
					attempted++;
				else
					unattempted++;
				if (oldest == 0 || m->received < oldest)
					oldest = m->received;
			}
		}
	}
	ctl_rec_info(r, "Host", "%s", domain);
	ctl_rec_info(r, "Status as of", "%llu", (unsigned long long)now);
	ctl_rec_info(r, "Host up/down", "%s", states[d ? d->host_state : HOST_UNKNOWN]);
	ctl_rec_info(r, "Last Activity", "%llu", d ? (unsigned long long)d->last_activity : 0ULL);
	if (oldest)
		ctl_rec_info(r, "Oldest Message", "%llu", (unsigned long long)(now > oldest ? now - oldest : 0));
	else
		ctl_rec_info(r, "Oldest Message", "%s", "");
	for (k = 0; k < sizeof ids / sizeof ids[0]; k++)
		host_counter(r, d, ids[k]);
	ctl_rec_gauge(r, "Active Recipients", active);
	ctl_rec_gauge(r, "Unattempted Recipients", unattempted);
	ctl_rec_gauge(r, "Attempted Recipients", attempted);
	/* Current and pending outbound connections come from deliver. */
	if (d && d->last_5xx) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "error");
		ctl_rec_add(r, "name", "Last 5XX Error");
		ctl_rec_add(r, "text", "%s", d->last_5xx);
		ctl_rec_add(r, "time", "%llu", (unsigned long long)d->last_5xx_time);
		ctl_rec_add(r, "ip", "%s", d->last_5xx_ip ? d->last_5xx_ip : "");
		ctl_rec_end(r);
	}
	if (d && d->last_tls) {
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "error");
		ctl_rec_add(r, "name", "Last TLS Error");
		ctl_rec_add(r, "mode", "%s", d->last_tls_mode);
		ctl_rec_add(r, "text", "%s", d->last_tls);
		ctl_rec_add(r, "time", "%llu", (unsigned long long)d->last_tls_time);
		ctl_rec_add(r, "ip", "%s", d->last_tls_ip ? d->last_tls_ip : "");
		ctl_rec_end(r);
	}
}

static int tophosts_key;

static uint64_t
tophosts_val(const struct dest *d)
{
	switch (tophosts_key) {
	case 2:
		return d->active;
	case 3:
		return d->hc[C_DELIVERED_RCPTS];
	case 4:
		return d->hc[C_SOFT_BOUNCED_EVENTS];
	case 5:
		return d->hc[C_HARD_BOUNCED_RCPTS];
	default:
		return d->scratch;
	}
}

static int
tophosts_cmp(const void *a, const void *b)
{
	const struct dest *x = *(struct dest *const *)a, *y = *(struct dest *const *)b;
	uint64_t vx = tophosts_val(x), vy = tophosts_val(y);

	if (vx != vy)
		return vx < vy ? 1 : -1;
	return strcmp(x->domain, y->domain);
}

static void
ctl_tophosts(struct qmgr *q, struct ctl_reply *r, const char *sort)
{
	struct dest **all, *d;
	size_t i, n = 0;

	tophosts_key = sort ? atoi(sort) : 1;
	if (tophosts_key < 1 || tophosts_key > 5) {
		ctl_reply_error(r, "tophosts: sort by 1 (active recipients) to 5 (hard bounced)");
		return;
	}
	all = xcalloc(q->ndests ? q->ndests : 1, sizeof *all);
	for (i = 0; i < DEST_HASH_SIZE; i++)
		for (d = q->dests[i]; d; d = d->hnext) {
			d->scratch = 0;
			if (n < q->ndests)
				all[n++] = d;
		}
	for (i = 0; i < MSG_HASH_SIZE; i++) {
		struct qmsg *m;
		for (m = q->msgs[i]; m; m = m->hnext) {
			uint32_t j;
			for (j = 0; j < m->nrcpt; j++)
				if (m->rcpts[j].state != RCPT_DONE &&
				    (d = sched_dest_find(q, m->rcpts[j].domain)) != NULL)
					d->scratch++;
		}
	}
	qsort(all, n, sizeof *all, tophosts_cmp);
	ctl_rec_info(r, "Status as of", "%llu", (unsigned long long)qmgr_now());
	for (i = 0; i < n && i < 20; i++) {
		d = all[i];
		ctl_rec_begin(r);
		ctl_rec_add(r, "section", "host");
		ctl_rec_add(r, "host", "%s", d->domain);
		ctl_rec_add(r, "active", "%llu", (unsigned long long)d->scratch);
		ctl_rec_add(r, "conn_out", "%u", d->active);
		ctl_rec_add(r, "delivered", "%llu", (unsigned long long)d->hc[C_DELIVERED_RCPTS]);
		ctl_rec_add(r, "soft", "%llu", (unsigned long long)d->hc[C_SOFT_BOUNCED_EVENTS]);
		ctl_rec_add(r, "hard", "%llu", (unsigned long long)d->hc[C_HARD_BOUNCED_RCPTS]);
		ctl_rec_end(r);
	}
	free(all);
}

/* ---- queue operations ---- */

static void
ctl_remove_rcpts(struct qmgr *q, struct ctl_reply *r, int argc, char **argv)
{
	int bounce = strcmp(argv[0], "bouncerecipients") == 0;
	const char *mode = argc > 1 ? argv[1] : "", *arg = argc > 2 ? argv[2] : "";
	size_t msgs, rcpts = 0;

	if (strcmp(mode, "all") != 0 && (strcmp(mode, "host") != 0 && strcmp(mode, "from") != 0)) {
		ctl_reply_error(r, "%s: select all, host DOMAIN or from ADDRESS", argv[0]);
		return;
	}
	if (strcmp(mode, "all") != 0 && *arg == '\0') {
		ctl_reply_error(r, "%s %s: which %s?", argv[0], mode, mode[0] == 'h' ? "domain" :
		    "address");
		return;
	}
	msgs = sched_rcpt_op(q, bounce ? RCPT_OP_BOUNCE : RCPT_OP_DELETE,
	    strcmp(mode, "host") == 0 ? arg : NULL, strcmp(mode, "from") == 0 ? arg : NULL, 0,
	    NULL, &rcpts, argv[0]);
	log_info("%s %s%s%s: %zu message(s), %zu recipient(s)", argv[0], mode, *arg ? " " : "",
	    arg, msgs, rcpts);
	ctl_rec_begin(r);
	ctl_rec_add(r, "messages", "%zu", msgs);
	ctl_rec_add(r, "recipients", "%zu", rcpts);
	ctl_rec_end(r);
	ctl_reply_message(r, "%zu messages %s.", msgs, bounce ? "bounced" : "deleted");
}

/* "192.0.2.1", "192.0.2.1:2525", "[192.0.2.1]:2525", "[IPv6:..]" or a
 * host name -> the routing domain deliver understands. */
static int
redirect_target(const char *in, char *out, size_t outlen)
{
	char host[256];
	const char *colon;
	unsigned long port = 0;
	unsigned char tmp[16];
	size_t n;

	if (in[0] == '[') {
		const char *rb = strchr(in, ']');
		if (rb == NULL || (size_t)(rb - in - 1) >= sizeof host)
			return -1;
		memcpy(host, in + 1, (size_t)(rb - in - 1));
		host[rb - in - 1] = '\0';
		colon = rb[1] == ':' ? rb + 1 : NULL;
		if (rb[1] != '\0' && colon == NULL)
			return -1;
	} else {
		colon = strchr(in, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;	/* a bare IPv6 address */
		n = colon ? (size_t)(colon - in) : strlen(in);
		if (n == 0 || n >= sizeof host)
			return -1;
		memcpy(host, in, n);
		host[n] = '\0';
	}
	if (colon) {
		char *end;
		port = strtoul(colon + 1, &end, 10);
		if (*end != '\0' || port == 0 || port > 65535)
			return -1;
	}
	if (strncasecmp(host, "IPv6:", 5) == 0 ? inet_pton(AF_INET6, host + 5, tmp) == 1 :
	    inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1) {
		const char *v6 = strchr(host, ':') && strncasecmp(host, "IPv6:", 5) != 0 ? "IPv6:" : "";
		if (port)
			snprintf(out, outlen, "[%s%s]:%lu", v6, host, port);
		else
			snprintf(out, outlen, "[%s%s]", v6, host);
		return 0;
	}
	if (port || strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
	    != strlen(host))
		return -1;	/* a name with a port needs an SMTP route instead */
	for (n = 0; host[n]; n++)
		out[n] = host[n] >= 'A' && host[n] <= 'Z' ? (char)(host[n] - 'A' + 'a') : host[n];
	out[n] = '\0';
	return 0;
}

static void
ctl_redirect(struct qmgr *q, struct ctl_reply *r, int argc, char **argv)
{
	char target[300];
	size_t rcpts = 0, msgs;

	if (argc < 2 || redirect_target(argv[1], target, sizeof target) < 0) {
		ctl_reply_error(r, "redirectrecipients: give a host name or an IP address "
		    "(IP[:PORT])");
		return;
	}
	msgs = sched_rcpt_op(q, RCPT_OP_REDIRECT, NULL, NULL, 0, target, &rcpts,
	    "redirectrecipients");
	log_info("redirectrecipients to %s: %zu recipient(s) in %zu message(s)", target, rcpts, msgs);
	ctl_rec_begin(r);
	ctl_rec_add(r, "messages", "%zu", msgs);
	ctl_rec_add(r, "recipients", "%zu", rcpts);
	ctl_rec_add(r, "target", "%s", target);
	ctl_rec_end(r);
	ctl_reply_message(r, "%zu recipients redirected.", rcpts);
}

#define SHOW_MAX	(60 * 1024)

/* The message text (LF line ends), its header only when head_only,
 * bounded to SHOW_MAX. */
static char *
message_text(struct qmgr *q, const struct qmsg *m, int head_only)
{
	struct buf raw, out;
	size_t i;

	buf_init(&raw, 0);
	buf_init(&out, 0);
	store_body_read(q->store, m->mid, m->body_in_file, 0, SHOW_MAX, &raw);
	for (i = 0; i < raw.len; i++) {
		char c = raw.data[i];
		if (c == '\r' && i + 1 < raw.len && raw.data[i + 1] == '\n')
			continue;
		if (head_only && c == '\n' && out.len && out.data[out.len - 1] == '\n')
			break;
		buf_append(&out, &c, 1);
	}
	if (!head_only && raw.len >= SHOW_MAX && m->size > SHOW_MAX)
		buf_printf(&out, "\n[... %llu more bytes not shown]\n",
		    (unsigned long long)(m->size - SHOW_MAX));
	buf_free(&raw);
	buf_append(&out, "", 1);
	return buf_steal(&out);
}

static struct qmsg *
find_mid(struct qmgr *q, struct ctl_reply *r, int argc, char **argv, int removable)
{
	struct qmsg *m;
	uint32_t j;
	char *end;
	unsigned long mid;

	if (argc < 2 || (mid = strtoul(argv[1], &end, 10), *end != '\0') || mid >= ID_WRAP) {
		ctl_reply_error(r, "%s: give a MID", argv[0]);
		return NULL;
	}
	if ((m = qmgr_msg_find(q, (uint32_t)mid)) == NULL || m->pending == 0) {
		ctl_reply_error(r, "MID %lu is not in the queue", mid);
		return NULL;
	}
	for (j = 0; removable && j < m->nrcpt; j++) {
		if (m->rcpts[j].inflight) {
			ctl_reply_error(r, "MID %lu is being delivered now and cannot be removed; "
			    "try again in a moment", mid);
			return NULL;
		}
	}
	return m;
}

static void
show_message(struct qmgr *q, struct ctl_reply *r, const struct qmsg *m, int head_only)
{
	char *text = message_text(q, m, head_only);
	uint64_t now = qmgr_now();
	uint32_t j;
	struct buf rc;

	buf_init(&rc, 0);
	for (j = 0; j < m->nrcpt; j++)
		if (m->rcpts[j].state != RCPT_DONE)
			buf_printf(&rc, "%s%s", rc.len ? ", " : "", m->rcpts[j].addr);
	ctl_rec_info(r, "MID", "%u", m->mid);
	ctl_rec_info(r, "Age", "%llu", (unsigned long long)(now > m->received ? now - m->received : 0));
	ctl_rec_info(r, "Received", "%llu", (unsigned long long)m->received);
	ctl_rec_info(r, "Sender", "%s", m->sender);
	ctl_rec_info(r, "Recipients", "%s", rc.len ? rc.data : "");
	ctl_rec_info(r, "Bytes", "%llu", (unsigned long long)m->size);
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "info");
	ctl_rec_add(r, "name", "Headers");
	ctl_rec_add(r, "value", "%s", text);
	ctl_rec_end(r);
	buf_free(&rc);
	free(text);
}

static void
ctl_oldmessage(struct qmgr *q, struct ctl_reply *r)
{
	struct qmsg *m, *oldest = NULL;
	size_t i;

	for (i = 0; i < MSG_HASH_SIZE; i++)
		for (m = q->msgs[i]; m; m = m->hnext)
			if (m->pending && (oldest == NULL || m->received < oldest->received ||
			    (m->received == oldest->received && m->mid < oldest->mid)))
				oldest = m;
	if (oldest == NULL)
		ctl_reply_message(r, "There are currently no messages in the delivery queue.");
	else
		show_message(q, r, oldest, 1);
}

/* mbox ("From " line, ">From " quoting), fsync'd before the message goes. */
static int
archive_mbox(struct qmgr *q, const struct qmsg *m, char **pathp)
{
	char *path = xasprintf("%s/oldmessage_%u.mbox", q->d.cfg->paths.state, m->mid);
	char date[64];
	time_t t = (time_t)m->received;
	struct tm tm;
	struct buf chunk, line;
	uint64_t off = 0;
	FILE *fp;
	int r = 0, bol = 1;

	if ((fp = fopen(path, "a")) == NULL) {
		log_warning("archivemessage: %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm);
	fprintf(fp, "From %s %s\n", m->sender[0] ? m->sender : "MAILER-DAEMON", date);
	buf_init(&chunk, 0);
	buf_init(&line, 0);
	for (;;) {
		size_t i;

		buf_reset(&chunk);
		if (store_body_read(q->store, m->mid, m->body_in_file, off, 256 * 1024, &chunk) != 0) {
			r = -1;
			break;
		}
		if (chunk.len == 0)
			break;
		off += chunk.len;
		for (i = 0; i < chunk.len; i++) {
			char c = chunk.data[i];
			if (c == '\r')
				continue;
			if (bol && c == 'F' && chunk.len - i >= 5 && memcmp(chunk.data + i, "From ", 5) == 0)
				fputc('>', fp);
			fputc(c, fp);
			bol = c == '\n';
		}
		if (off >= m->size)
			break;
	}
	if (!bol)
		fputc('\n', fp);
	fputc('\n', fp);
	buf_free(&chunk);
	buf_free(&line);
	if (fflush(fp) != 0 || fsync(fileno(fp)) != 0)
		r = -1;
	if (fclose(fp) != 0)
		r = -1;
	if (r < 0)
		log_warning("archivemessage: writing %s failed", path);
	*pathp = path;
	return r;
}

static void
ctl_message_op(struct qmgr *q, struct ctl_reply *r, int argc, char **argv)
{
	int archive = strcmp(argv[0], "archivemessage") == 0;
	struct qmsg *m = find_mid(q, r, argc, argv, 1);
	size_t rcpts = 0;
	char *path = NULL;
	uint32_t mid;

	if (m == NULL)
		return;
	mid = m->mid;
	if (archive && archive_mbox(q, m, &path) < 0) {
		ctl_reply_error(r, "MID %u could not be archived (see qmgr.log); it stays queued", mid);
		free(path);
		return;
	}
	sched_rcpt_op(q, RCPT_OP_DELETE, NULL, NULL, mid, NULL, &rcpts, argv[0]);
	log_info("MID %u %s by the administrator (%zu recipient(s))%s%s", mid,
	    archive ? "archived and removed" : "removed", rcpts, path ? ": " : "", path ? path : "");
	ctl_rec_begin(r);
	ctl_rec_add(r, "mid", "%u", mid);
	ctl_rec_add(r, "recipients", "%zu", rcpts);
	if (path)
		ctl_rec_add(r, "file", "%s", path);
	ctl_rec_end(r);
	if (archive)
		ctl_reply_message(r, "MID %u has been saved in file oldmessage_%u.mbox in the state "
		    "directory", mid, mid);
	else
		ctl_reply_message(r, "MID %u removed.", mid);
	free(path);
}

/* ---- work queue ---- */

static char *
wq_path(struct qmgr *q)
{
	return xasprintf("%s/workqueue-paused", q->d.cfg->paths.state);
}

void
qmgr_load_workqueue_state(struct qmgr *q)
{
	char *path = wq_path(q), **lines;
	size_t n;
	int r = statefile_read(path, &lines, &n);

	if (r < 0)
		log_crit("cannot read %s: %s", path, strerror(errno));
	if (r > 0) {
		q->wq_paused = 1;
		q->wq_reason = xstrdup(n > 0 ? lines[0] : "Manually paused by user");
		log_info("work queue paused (kept across restart): %s; 'sallyctl workqueue resume' "
		    "resumes", q->wq_reason);
	}
	statefile_free(lines, n);
	free(path);
}

static void
ctl_workqueue(struct qmgr *q, struct ctl_reply *r, int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "status";
	char *path = wq_path(q);

	if (strcmp(op, "pause") == 0) {
		const char *why = argc > 2 && argv[2][0] ? argv[2] : "Manually paused by user";
		char *line = xstrndup(why, strnlen(why, 400));
		int ok = statefile_write(path, &line, 1) == 0;

		free(line);
		if (!ok) {
			ctl_reply_error(r, "could not save the work queue state (see qmgr.log)");
			log_crit("cannot save %s: %s", path, strerror(errno));
			free(path);
			return;
		}
		q->wq_paused = 1;
		free(q->wq_reason);
		q->wq_reason = xstrndup(why, strnlen(why, 400));
		log_info("work queue paused, %zu msgs: %s", workqueue_count(q), q->wq_reason);
	} else if (strcmp(op, "resume") == 0) {
		if (statefile_write(path, NULL, 0) < 0) {
			ctl_reply_error(r, "could not save the work queue state (see qmgr.log)");
			free(path);
			return;
		}
		if (q->wq_paused)
			log_info("work queue resumed, %zu msgs", workqueue_count(q));
		q->wq_paused = 0;
		free(q->wq_reason);
		q->wq_reason = NULL;
		workqueue_release(q);
	} else if (strcmp(op, "status") != 0 && strcmp(op, "rate") != 0) {
		ctl_reply_error(r, "workqueue: status, pause [REASON], resume or rate");
		free(path);
		return;
	}
	free(path);
	ctl_rec_info(r, "Status as of", "%llu", (unsigned long long)qmgr_now());
	if (q->wq_paused)
		ctl_rec_info(r, "Status", "Paused by admin: %s", q->wq_reason);
	else
		ctl_rec_info(r, "Status", "%s", "Operational");
	/* No scanner yet: only a pause keeps messages in the work queue. */
	ctl_rec_info(r, "Messages", "%zu", workqueue_count(q));
	if (strcmp(op, "rate") == 0) {
		static const char *const names[2] = { "Messages In", "Messages Out" };
		uint64_t now = qmgr_now();
		int k;

		qmgr_sample_rates(q);
		for (k = 0; k < 2; k++) {
			ctl_rec_begin(r);
			ctl_rec_add(r, "section", "rate");
			ctl_rec_add(r, "name", "%s", names[k]);
			ctl_rec_add(r, "m1", "%llu", (unsigned long long)rates_per_hour(&q->rates, now,
			    RS_MSGS_RECEIVED, 1));
			ctl_rec_add(r, "m5", "%llu", (unsigned long long)rates_per_hour(&q->rates, now,
			    RS_MSGS_RECEIVED, 5));
			ctl_rec_add(r, "m15", "%llu", (unsigned long long)rates_per_hour(&q->rates, now,
			    RS_MSGS_RECEIVED, 15));
			ctl_rec_end(r);
		}
	}
}

void
qmgr_ctl(struct qmgr *q, uint32_t reqid, const unsigned char *p, size_t len)
{
	struct ctl_reply r;
	char **argv;
	int argc, i;
	char key[48];

	ctl_reply_init(&r);
	if (ctl_decode_request(p, len, &argc, &argv) < 0) {
		ctl_reply_error(&r, "malformed request");
		ctl_reply_send(&r, q->d.master, reqid);
		return;
	}
	if (strcmp(argv[0], "status") == 0) {
		ctl_status(q, &r);
	} else if (strcmp(argv[0], "showrecipients") == 0) {
		ctl_showrecipients(q, &r, argc, argv);
	} else if (strcmp(argv[0], "hoststatus") == 0 && argc > 1) {
		ctl_hoststatus(q, &r, argv[1]);
	} else if (strcmp(argv[0], "tophosts") == 0) {
		ctl_tophosts(q, &r, argc > 1 ? argv[1] : NULL);
	} else if (strcmp(argv[0], "deleterecipients") == 0 ||
	    strcmp(argv[0], "bouncerecipients") == 0) {
		ctl_remove_rcpts(q, &r, argc, argv);
	} else if (strcmp(argv[0], "redirectrecipients") == 0) {
		ctl_redirect(q, &r, argc, argv);
	} else if (strcmp(argv[0], "showmessage") == 0) {
		struct qmsg *m = find_mid(q, &r, argc, argv, 0);
		if (m)
			show_message(q, &r, m, 0);
	} else if (strcmp(argv[0], "oldmessage") == 0) {
		ctl_oldmessage(q, &r);
	} else if (strcmp(argv[0], "removemessage") == 0 || strcmp(argv[0], "archivemessage") == 0) {
		ctl_message_op(q, &r, argc, argv);
	} else if (strcmp(argv[0], "dnsstatus") == 0) {
		ctl_rec_info(&r, "Status as of", "%llu", (unsigned long long)qmgr_now());
		for (i = 0; i < DNS_CTR_COUNT; i++) {
			ctl_rec_begin(&r);
			ctl_rec_add(&r, "section", "counter");
			ctl_rec_add(&r, "name", "%s", dns_counter_labels[i]);
			ctl_rec_add(&r, "reset", "%llu", (unsigned long long)(q->dns_life[i] -
			    q->dns_base[i]));
			ctl_rec_add(&r, "uptime", "%llu", (unsigned long long)q->dns_up[i]);
			ctl_rec_add(&r, "lifetime", "%llu", (unsigned long long)q->dns_life[i]);
			ctl_rec_end(&r);
		}
	} else if (strcmp(argv[0], "workqueue") == 0) {
		ctl_workqueue(q, &r, argc, argv);
	} else if (strcmp(argv[0], "delivernow") == 0) {
		const char *dom = argc > 1 && strcasecmp(argv[1], "all") != 0 ? argv[1] : NULL;
		sched_delivernow(q, dom);
		flush_delivers(q, dom);
		log_info("delivernow: rescheduled %s for immediate delivery", dom ? dom : "all messages");
		if (dom)
			ctl_reply_message(&r, "Rescheduling all messages to %s for immediate delivery.", dom);
		else
			ctl_reply_message(&r, "Rescheduling all messages for immediate delivery.");
	} else if (strcmp(argv[0], "suspenddel") == 0 || strcmp(argv[0], "resumedel") == 0) {
		int on = argv[0][0] == 's';
		/* suspenddel SECONDS [DOMAIN...]: the delay is sallyctl's to wait. */
		if (on && argc > 1 && argv[1][0] != '\0' &&
		    strspn(argv[1], "0123456789") == strlen(argv[1])) {
			free(argv[1]);
			memmove(argv + 1, argv + 2, (size_t)(argc - 1) * sizeof *argv);
			argc--;
		}
		if (argc == 1)
			suspend_set(q, "ALL", on);
		for (i = 1; i < argc; i++)
			suspend_set(q, strcasecmp(argv[i], "all") == 0 ? "ALL" : argv[i], on);
		if (!on && argc == 1)
			while (q->nsuspended)
				free(q->suspended[--q->nsuspended]);
		if (save_suspend_state(q) < 0)
			ctl_reply_error(&r, "could not save the delivery state (see qmgr.log)");
		else
			ctl_reply_message(&r, on ? "Mail delivery suspended." : "Mail delivery resumed.");
		log_info("delivery %s%s%s", on ? "suspended" : "resumed", argc > 1 ? " for " : "",
		    argc > 1 ? argv[1] : "");
		if (!on)
			sched_kick(q);
		else if (argc == 1)	/* no new connection; idle ones close now */
			flush_delivers(q, NULL);
		else
			for (i = 1; i < argc; i++)
				flush_delivers(q, strcasecmp(argv[i], "all") != 0 ? argv[i] : NULL);
	} else if (strcmp(argv[0], "abortdeliveries") == 0) {
		/* The end of suspenddel's delay: what is still running to a
		 * suspended destination is cut off and stays queued. */
		if (argc == 1)
			tell_delivers(q, DMSG_ABORT, NULL);
		for (i = 1; i < argc; i++)
			tell_delivers(q, DMSG_ABORT, strcasecmp(argv[i], "all") != 0 ? argv[i] : NULL);
		log_info("suspend delay over: interrupting deliveries still running%s%s",
		    argc > 1 ? " to " : "", argc > 1 ? argv[1] : "");
		ctl_reply_message(&r, "Remaining deliveries interrupted.");
	} else if (strcmp(argv[0], "resetcounters") == 0) {
		for (i = 0; i < C_COUNT; i++) {
			q->ctr.baseline[i] = q->ctr.lifetime[i];
			counter_key(key, sizeof key, "base", (enum counter_id)i);
			qmgr_meta_put(q, key, q->ctr.baseline[i]);
		}
		q->ctr.reset_time = qmgr_now();
		qmgr_meta_put(q, "reset.time", q->ctr.reset_time);
		sched_reset_host_counters(q);
		for (i = 0; i < DNS_CTR_COUNT; i++) {
			q->dns_base[i] = q->dns_life[i];
			snprintf(key, sizeof key, "dnsbase.%d", i);
			qmgr_meta_put(q, key, q->dns_base[i]);
		}
		log_info("counters reset");
		ctl_rec_info(&r, "Last counter reset", "%llu", (unsigned long long)q->ctr.reset_time);
	} else {
		ctl_reply_error(&r, "qmgr does not serve '%s'", argv[0]);
	}
	ctl_free_argv(argc, argv);
	ctl_reply_send(&r, q->d.master, reqid);
}
