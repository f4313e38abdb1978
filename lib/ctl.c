/*
 * ctl - control request/reply codec (see ctl.h).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ipc.h"
#include "proto.h"
#include "xalloc.h"

#define CTL_MAX_FIELD	(64 * 1024)
#define CTL_MAX_RECORDS	(1024 * 1024)

void
ctl_reply_init(struct ctl_reply *r)
{
	r->status = 0;
	buf_init(&r->message, 0);
	buf_init(&r->recs, 0);
	buf_init(&r->cur, 0);
	r->nrec = 0;
	r->curfields = 0;
}

void
ctl_reply_free(struct ctl_reply *r)
{
	buf_free(&r->message);
	buf_free(&r->recs);
	buf_free(&r->cur);
}

void
ctl_reply_error(struct ctl_reply *r, const char *fmt, ...)
{
	va_list ap;

	r->status = 1;
	buf_reset(&r->message);
	va_start(ap, fmt);
	buf_vprintf(&r->message, fmt, ap);
	va_end(ap);
}

void
ctl_reply_message(struct ctl_reply *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&r->message, fmt, ap);
	va_end(ap);
}

void
ctl_rec_begin(struct ctl_reply *r)
{
	buf_reset(&r->cur);
	r->curfields = 0;
}

void
ctl_rec_add(struct ctl_reply *r, const char *key, const char *fmt, ...)
{
	struct buf v;
	va_list ap;

	buf_init(&v, 0);
	va_start(ap, fmt);
	buf_vprintf(&v, fmt, ap);
	va_end(ap);
	ipc_put_str(&r->cur, key);
	ipc_put_bytes(&r->cur, v.data ? v.data : "", v.len);
	buf_free(&v);
	r->curfields++;
}

void
ctl_rec_end(struct ctl_reply *r)
{
	ipc_put_u32(&r->recs, r->curfields);
	buf_append(&r->recs, r->cur.data ? r->cur.data : "", r->cur.len);
	r->nrec++;
	ctl_rec_begin(r);
}

void
ctl_rec_info(struct ctl_reply *r, const char *name, const char *fmt, ...)
{
	struct buf v;
	va_list ap;

	buf_init(&v, 0);
	va_start(ap, fmt);
	buf_vprintf(&v, fmt, ap);
	va_end(ap);
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "info");
	ctl_rec_add(r, "name", "%s", name);
	ctl_rec_add(r, "value", "%s", v.data ? v.data : "");
	ctl_rec_end(r);
	buf_free(&v);
}

void
ctl_rec_gauge(struct ctl_reply *r, const char *name, unsigned long long current)
{
	ctl_rec_begin(r);
	ctl_rec_add(r, "section", "gauge");
	ctl_rec_add(r, "name", "%s", name);
	ctl_rec_add(r, "current", "%llu", current);
	ctl_rec_end(r);
}

void
ctl_rec_copy(struct ctl_reply *r, const struct ctl_record *rec)
{
	size_t i;

	ctl_rec_begin(r);
	for (i = 0; i < rec->nfield; i++)
		ctl_rec_add(r, rec->keys[i], "%s", rec->vals[i]);
	ctl_rec_end(r);
}

void
ctl_reply_encode(struct ctl_reply *r, struct buf *b, uint32_t reqid)
{
	size_t start = ipc_msg_begin(b, IMSG_CTL_REPLY, reqid);

	ipc_put_u32(b, r->status);
	ipc_put_bytes(b, r->message.data ? r->message.data : "", r->message.len);
	ipc_put_u32(b, r->nrec);
	buf_append(b, r->recs.data ? r->recs.data : "", r->recs.len);
	if (ipc_msg_end(b, start) < 0) {
		/* Too many records for one frame: say so rather than truncate. */
		start = ipc_msg_begin(b, IMSG_CTL_REPLY, reqid);
		ipc_put_u32(b, 1);
		ipc_put_str(b, "reply too large; narrow the request");
		ipc_put_u32(b, 0);
		ipc_msg_end(b, start);
	}
}

void
ctl_reply_send(struct ctl_reply *r, struct ipc_conn *c, uint32_t reqid)
{
	struct buf b;

	buf_init(&b, 0);
	ctl_reply_encode(r, &b, reqid);
	ipc_conn_send(c, &b);
	buf_free(&b);
	ctl_reply_free(r);
}

void
ctl_encode_request(struct buf *b, uint32_t reqid, int argc, char *const argv[])
{
	size_t start = ipc_msg_begin(b, IMSG_CTL, reqid);
	int i;

	ipc_put_u32(b, (uint32_t)argc);
	for (i = 0; i < argc; i++)
		ipc_put_str(b, argv[i]);
	ipc_msg_end(b, start);
}

void
ctl_free_argv(int argc, char **argv)
{
	int i;

	if (argv == NULL)
		return;
	for (i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int
ctl_decode_request(const unsigned char *p, size_t len, int *argcp, char ***argvp)
{
	struct ipc_rd rd;
	uint32_t argc, i;
	char **argv;

	ipc_rd_init(&rd, p, len);
	argc = ipc_get_u32(&rd);
	if (!ipc_rd_ok(&rd) || argc == 0 || argc > CTL_MAX_ARGS)
		return -1;
	argv = xcalloc(argc + 1, sizeof *argv);
	for (i = 0; i < argc; i++) {
		argv[i] = ipc_get_strdup(&rd, CTL_MAX_FIELD);
		if (argv[i] == NULL) {
			ctl_free_argv((int)i, argv);
			return -1;
		}
	}
	if (!ipc_rd_done(&rd)) {
		ctl_free_argv((int)argc, argv);
		return -1;
	}
	*argcp = (int)argc;
	*argvp = argv;
	return 0;
}

void
ctl_result_free(struct ctl_result *res)
{
	size_t i, j;

	for (i = 0; i < res->nrec; i++) {
		for (j = 0; j < res->recs[i].nfield; j++) {
			free(res->recs[i].keys[j]);
			free(res->recs[i].vals[j]);
		}
		free(res->recs[i].keys);
		free(res->recs[i].vals);
	}
	free(res->recs);
	free(res->message);
	memset(res, 0, sizeof *res);
}

int
ctl_result_decode(const unsigned char *p, size_t len, struct ctl_result *res)
{
	struct ipc_rd rd;
	uint32_t nrec, i, j, nf;

	memset(res, 0, sizeof *res);
	ipc_rd_init(&rd, p, len);
	res->status = ipc_get_u32(&rd);
	res->message = ipc_get_strdup(&rd, CTL_MAX_FIELD);
	nrec = ipc_get_u32(&rd);
	/* Each record takes at least 4 bytes: a lying count fails here. */
	if (!ipc_rd_ok(&rd) || nrec > CTL_MAX_RECORDS || nrec > rd.left / 4)
		goto bad;
	res->recs = xcalloc(nrec ? nrec : 1, sizeof *res->recs);
	for (i = 0; i < nrec; i++) {
		struct ctl_record *rec = &res->recs[i];

		nf = ipc_get_u32(&rd);
		if (!ipc_rd_ok(&rd) || nf > rd.left / 8)
			goto bad;
		rec->keys = xcalloc(nf ? nf : 1, sizeof *rec->keys);
		rec->vals = xcalloc(nf ? nf : 1, sizeof *rec->vals);
		res->nrec = i + 1;
		for (j = 0; j < nf; j++) {
			rec->keys[j] = ipc_get_strdup(&rd, CTL_MAX_FIELD);
			rec->vals[j] = ipc_get_strdup(&rd, CTL_MAX_FIELD);
			rec->nfield = j + 1;
			if (!ipc_rd_ok(&rd))
				goto bad;
		}
	}
	if (!ipc_rd_done(&rd))
		goto bad;
	return 0;
bad:
	ctl_result_free(res);
	return -1;
}

const char *
ctl_record_get(const struct ctl_record *rec, const char *key)
{
	size_t i;

	for (i = 0; i < rec->nfield; i++)
		if (strcmp(rec->keys[i], key) == 0)
			return rec->vals[i];
	return NULL;
}
