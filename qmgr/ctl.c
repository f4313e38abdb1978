/*
 * ctl - qmgr's answers to control requests routed by master: counters and
 * queue gauges for `status`, `showrecipients`, `delivernow`, `suspenddel`,
 * `resumedel`, `resetcounters`.  Delivery suspension is state, not config:
 * it is kept in <state>/delivery-suspended and survives restarts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"
#include "proto.h"
#include "qmgr.h"
#include "xalloc.h"

static char *
suspend_path(struct qmgr *q)
{
	return xasprintf("%s/delivery-suspended", q->d.cfg->paths.state);
}

void
qmgr_load_suspend_state(struct qmgr *q)
{
	char *path = suspend_path(q), line[512];
	FILE *fp = fopen(path, "r");

	if (fp != NULL) {
		while (fgets(line, sizeof line, fp) != NULL) {
			line[strcspn(line, "\r\n")] = '\0';
			if (line[0] == '\0')
				continue;
			q->suspended = xrealloc(q->suspended, (q->nsuspended + 1) * sizeof *q->suspended);
			q->suspended[q->nsuspended++] = xstrdup(line);
		}
		fclose(fp);
		if (q->nsuspended)
			log_info("delivery suspended (kept across restart) for %zu entr%s; "
			    "'sallyctl resumedel' resumes", q->nsuspended, q->nsuspended == 1 ? "y" : "ies");
	}
	free(path);
}

static int
save_suspend_state(struct qmgr *q)
{
	char *path = suspend_path(q), *tmp = xasprintf("%s.tmp", path);
	FILE *fp;
	size_t i;
	int r = -1;

	if (q->nsuspended == 0) {
		r = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
	} else if ((fp = fopen(tmp, "w")) != NULL) {
		for (i = 0; i < q->nsuspended; i++)
			fprintf(fp, "%s\n", q->suspended[i]);
		if (fflush(fp) == 0 && fsync(fileno(fp)) == 0)
			r = 0;
		if (fclose(fp) != 0)
			r = -1;
		if (r == 0 && rename(tmp, path) < 0)
			r = -1;
	}
	if (r < 0)
		log_crit("cannot save delivery suspend state in %s: %s", path, strerror(errno));
	free(path);
	free(tmp);
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

static void
gauge(struct ctl_reply *r, const char *name, unsigned long long v)
{
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "gauge");
	ctl_rec_add(r, "name", "%s", name);
	ctl_rec_add(r, "current", "%llu", v);
	ctl_rec_end(r);
}

static void
info(struct ctl_reply *r, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
info(struct ctl_reply *r, const char *name, const char *fmt, ...)
{
	va_list ap;
	char v[256];

	va_start(ap, fmt);
	vsnprintf(v, sizeof v, fmt, ap);
	va_end(ap);
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "info");
	ctl_rec_add(r, "name", "%s", name);
	ctl_rec_add(r, "value", "%s", v);
	ctl_rec_end(r);
}

static void
ctl_status(struct qmgr *q, struct ctl_reply *r)
{
	unsigned long long active = 0, unattempted = 0, attempted = 0;
	uint64_t oldest = 0, used_kb, free_kb;
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
	store_usage(q->store, &used_kb, &free_kb);
	gauge(r, "Active Recipients", active);
	gauge(r, "Unattempted Recipients", unattempted);
	gauge(r, "Attempted Recipients", attempted);
	gauge(r, "Messages In Work Queue", 0);
	gauge(r, "Messages In Quarantine", 0);
	gauge(r, "Destinations In Memory", sched_active_dests(q));
	gauge(r, "Kilobytes Used", used_kb);
	gauge(r, "Kilobytes In Quarantine", 0);
	gauge(r, "Kilobytes Free", free_kb);
	info(r, "Oldest Message", "%llu", oldest ? (unsigned long long)(qmgr_now() - oldest) : 0ULL);
	info(r, "Queued Messages", "%zu", q->nmsgs);
	info(r, "Last counter reset", "%llu", (unsigned long long)q->ctr.reset_time);
	info(r, "Delivery suspended", "%s", sched_suspended(q, "*all*") ||
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

static void
flush_delivers(struct qmgr *q, const char *domain)
{
	struct peer *p;
	struct buf b;
	size_t start;

	buf_init(&b, 0);
	for (p = q->peers; p; p = p->next) {
		if (p->kind != PROC_DELIVER)
			continue;
		start = ipc_msg_begin(&b, DMSG_FLUSH, 0);
		ipc_put_str(&b, domain ? domain : "");
		ipc_msg_end(&b, start);
		qmgr_send(p, &b);
	}
	buf_free(&b);
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
	} else if (strcmp(argv[0], "resetcounters") == 0) {
		for (i = 0; i < C_COUNT; i++) {
			q->ctr.baseline[i] = q->ctr.lifetime[i];
			counter_key(key, sizeof key, "base", (enum counter_id)i);
			qmgr_meta_put(q, key, q->ctr.baseline[i]);
		}
		q->ctr.reset_time = qmgr_now();
		qmgr_meta_put(q, "reset.time", q->ctr.reset_time);
		log_info("counters reset");
		ctl_reply_message(&r, "Counters reset.");
	} else {
		ctl_reply_error(&r, "qmgr does not serve '%s'", argv[0]);
	}
	ctl_free_argv(argc, argv);
	ctl_reply_send(&r, q->d.master, reqid);
}
