/*
 * qmgr_store - the LMDB queue: group commit hands results back on the
 * loop, bodies round-trip (in LMDB and in files), a full map refuses the
 * insert that does not fit and keeps the rest of the batch, deletes
 * remove bodies, and the meta database persists across reopen.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "store.h"
#include "tap.h"

static int ndone;

static void
op_done(struct qop *op)
{
	ndone++;
	*(int *)op->ctx = op->result;
	qop_free(op);
}

static void
run_until(uv_loop_t *loop, int n)
{
	int spins = 0;

	while (ndone < n && spins++ < 100000)
		uv_run(loop, UV_RUN_ONCE);
}

static struct qop *
put(uint32_t mid, const char *env, const void *body, size_t blen, int *res)
{
	struct qop *op = qop_new(QOP_PUT_MSG, mid);

	buf_puts(&op->env, env);
	op->with_body = 1;
	buf_append(&op->body, body, blen);
	op->ctx = res;
	op->done = op_done;
	return op;
}

struct scan_ctx { int n; uint32_t mids[16]; };

static void
scan_cb(uint32_t mid, const void *env, size_t len, void *arg)
{
	struct scan_ctx *sc = arg;

	(void)env;
	(void)len;
	if (sc->n < 16)
		sc->mids[sc->n] = mid;
	sc->n++;
}

int
main(void)
{
	char dir[] = "/tmp/sp-store-XXXXXX", err[256], *path, *big;
	uv_loop_t *loop = uv_default_loop();
	struct store *s;
	struct scan_ctx sc;
	struct buf b;
	struct qop *op;
	uint64_t v, used, freekb;
	int r1 = -1, r2 = -1, r3 = -1, fd;

	if (mkdtemp(dir) == NULL) {
		printf("1..0 # SKIP mkdtemp: %s\n", strerror(errno));
		return 0;
	}
	s = store_open(loop, dir, 1024 * 1024, err, sizeof err);
	ok(s != NULL, "store opens in a fresh spool (%s)", s ? "ok" : err);
	if (s == NULL)
		return done_testing();

	/* Two inserts and a meta write submitted together: one batch. */
	store_submit(s, put(7, "env7", "body seven\r\n", 12, &r1));
	store_submit(s, put(8, "env8", "body eight\r\n", 12, &r2));
	op = qop_new(QOP_META, 0);
	snprintf(op->key, sizeof op->key, "next.mid");
	op->val = 1234;
	op->ctx = &r3;
	op->done = op_done;
	store_submit(s, op);
	run_until(loop, 3);
	is(ndone, 3, "every operation came back on the loop");
	ok(r1 == 0 && r2 == 0 && r3 == 0, "all committed");
	ok(store_commits(s) >= 1 && store_commits(s) <= 3, "grouped into at most 3 commits (%llu)",
	    (unsigned long long)store_commits(s));

	memset(&sc, 0, sizeof sc);
	store_scan(s, scan_cb, &sc);
	ok(sc.n == 2 && sc.mids[0] == 7 && sc.mids[1] == 8, "scan finds both, in MID order");
	buf_init(&b, 0);
	ok(store_body_read(s, 8, 0, 5, 100, &b) == 0 && strcmp(b.data, "eight\r\n") == 0,
	    "body read at an offset");
	buf_reset(&b);
	ok(store_meta_get(s, "next.mid", &v) == 0 && v == 1234, "meta value stored");

	/* A body in a file: renamed into bodies/ at commit. */
	path = store_incoming_path(s, 9, 1);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	ok(fd >= 0 && write(fd, "file body\r\n", 11) == 11, "spill file written");
	close(fd);
	op = qop_new(QOP_PUT_MSG, 9);
	buf_puts(&op->env, "env9");
	op->body_file = path;
	op->ctx = &r1;
	op->done = op_done;
	r1 = -1;
	store_submit(s, op);
	run_until(loop, 4);
	is(r1, 0, "file-body message committed");
	ok(store_body_read(s, 9, 1, 0, 100, &b) == 0 && strcmp(b.data, "file body\r\n") == 0,
	    "file body readable after commit");
	buf_reset(&b);

	/* A body larger than the whole map fails alone; its batch mate
	 * commits. */
	big = calloc(1, 2 * 1024 * 1024);
	r1 = r2 = -1;
	store_submit(s, put(10, "env10", big, 2 * 1024 * 1024, &r1));
	store_submit(s, put(11, "env11", "small\r\n", 7, &r2));
	run_until(loop, 6);
	is(r1, MDB_MAP_FULL, "oversized insert refused with MDB_MAP_FULL");
	is(r2, 0, "the other insert of the batch still committed");
	free(big);
	memset(&sc, 0, sizeof sc);
	store_scan(s, scan_cb, &sc);
	is(sc.n, 4, "queue holds 7, 8, 9, 11 and nothing of 10");

	/* Delete removes envelope, LMDB body and body file. */
	op = qop_new(QOP_DEL_MSG, 9);
	op->unlink_body = 1;
	op->ctx = &r1;
	op->done = op_done;
	store_submit(s, op);
	run_until(loop, 7);
	is(r1, 0, "delete committed");
	path = store_body_path(s, 9);
	ok(access(path, F_OK) < 0 && errno == ENOENT, "body file removed after the delete");
	free(path);
	store_usage(s, &used, &freekb);
	ok(used > 0 && freekb > 0 && freekb <= 1024, "usage within the 1 MiB map (%llu used, %llu free)",
	    (unsigned long long)used, (unsigned long long)freekb);
	store_close(s);

	/* Reopen: everything durable is there. */
	ndone = 0;
	s = store_open(loop, dir, 1024 * 1024, err, sizeof err);
	ok(s != NULL, "store reopens");
	memset(&sc, 0, sizeof sc);
	store_scan(s, scan_cb, &sc);
	is(sc.n, 3, "three messages survive reopen");
	ok(store_meta_get(s, "next.mid", &v) == 0 && v == 1234, "meta survives reopen");
	store_close(s);
	uv_run(loop, UV_RUN_NOWAIT);	/* let libuv finish closing */
	buf_free(&b);
	{
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			printf("# could not remove %s\n", dir);
	}
	return done_testing();
}
