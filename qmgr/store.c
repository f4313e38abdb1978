/*
 * store - LMDB queue with a group-committing writer thread (see store.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "log.h"
#include "store.h"
#include "xalloc.h"

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi_msg, dbi_body, dbi_meta;
	char		*spool;
	uint64_t	 map_size;
	pthread_t	 writer;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct qop	*pending, **pending_tail;	/* loop -> writer */
	struct qop	*done, **done_tail;		/* writer -> loop */
	int		 stopping;
	uv_async_t	 async;
	uint64_t	 commits;
};

struct qop *
qop_new(enum qop_kind kind, uint32_t mid)
{
	struct qop *op = xcalloc(1, sizeof *op);

	op->kind = kind;
	op->mid = mid;
	buf_init(&op->env, 0);
	buf_init(&op->body, 0);
	return op;
}

void
qop_free(struct qop *op)
{
	if (op == NULL)
		return;
	buf_free(&op->env);
	buf_free(&op->body);
	free(op->body_file);
	free(op);
}

const char *
store_strerror(int result)
{
	return mdb_strerror(result);
}

static void
mid_key(uint32_t mid, unsigned char k[4], MDB_val *v)
{
	k[0] = (unsigned char)(mid >> 24);
	k[1] = (unsigned char)(mid >> 16);
	k[2] = (unsigned char)(mid >> 8);
	k[3] = (unsigned char)mid;
	v->mv_size = 4;
	v->mv_data = k;
}

char *
store_body_path(struct store *s, uint32_t mid)
{
	return xasprintf("%s/bodies/%u", s->spool, mid);
}

char *
store_incoming_path(struct store *s, uint32_t mid, uint32_t tag)
{
	return xasprintf("%s/incoming/%u.%u", s->spool, mid, tag);
}

static int
fsync_path(const char *path, int dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	int r;

	if (fd < 0)
		return errno;
	r = fsync(fd) < 0 ? errno : 0;
	close(fd);
	return r;
}

/* Applies one operation inside txn; returns 0 or an error code. */
static int
store_apply(struct store *s, MDB_txn *parent, struct qop *op)
{
	unsigned char kb[4];
	MDB_val k, v;
	MDB_txn *txn;
	int r;

	if ((r = mdb_txn_begin(s->env, parent, 0, &txn)) != 0)
		return r;
	switch (op->kind) {
	case QOP_PUT_MSG:
		mid_key(op->mid, kb, &k);
		if (op->body_file != NULL) {
			char *dst = store_body_path(s, op->mid);
			if ((r = fsync_path(op->body_file, 0)) == 0 &&
			    rename(op->body_file, dst) < 0)
				r = errno;
			free(dst);
			if (r != 0)
				break;
		} else if (op->with_body) {
			v.mv_size = op->body.len;
			v.mv_data = op->body.data ? op->body.data : "";
			if ((r = mdb_put(txn, s->dbi_body, &k, &v, 0)) != 0)
				break;
		}
		v.mv_size = op->env.len;
		v.mv_data = op->env.data;
		r = mdb_put(txn, s->dbi_msg, &k, &v, 0);
		break;
	case QOP_DEL_MSG:
		mid_key(op->mid, kb, &k);
		r = mdb_del(txn, s->dbi_msg, &k, NULL);
		if (r == 0 || r == MDB_NOTFOUND) {
			r = mdb_del(txn, s->dbi_body, &k, NULL);
			if (r == MDB_NOTFOUND)
				r = 0;
		}
		break;
	case QOP_META:
		k.mv_size = strlen(op->key);
		k.mv_data = op->key;
		v.mv_size = sizeof op->val;
		v.mv_data = &op->val;
		r = mdb_put(txn, s->dbi_meta, &k, &v, 0);
		break;
	}
	if (r != 0) {
		mdb_txn_abort(txn);
		return r;
	}
	return mdb_txn_commit(txn);
}

static void *
store_writer_main(void *arg)
{
	struct store *s = arg;
	struct qop *batch, *op;
	MDB_txn *txn;
	int r, n;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->pending == NULL && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->pending == NULL && s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		batch = s->pending;
		s->pending = NULL;
		s->pending_tail = &s->pending;
		pthread_mutex_unlock(&s->mu);

		n = 0;
		r = mdb_txn_begin(s->env, NULL, 0, &txn);
		for (op = batch; op; op = op->next, n++)
			op->result = r != 0 ? r : store_apply(s, txn, op);
		if (r == 0 && (r = mdb_txn_commit(txn)) != 0) {
			for (op = batch; op; op = op->next)
				if (op->result == 0)
					op->result = r;
		}
		/* Body files of deleted messages go only after the commit. */
		for (op = batch; op; op = op->next) {
			if (op->kind == QOP_DEL_MSG && op->unlink_body && op->result == 0) {
				char *p = store_body_path(s, op->mid);
				unlink(p);
				free(p);
			}
		}
		pthread_mutex_lock(&s->mu);
		s->commits++;
		for (op = batch; op; op = op->next) {
			*s->done_tail = op;
			s->done_tail = &op->next;
			if (op->next == NULL)
				break;
		}
		pthread_mutex_unlock(&s->mu);
		uv_async_send(&s->async);
		(void)n;
	}
	return NULL;
}

static void
store_async_cb(uv_async_t *a)
{
	struct store *s = a->data;
	struct qop *list, *op, *next;

	pthread_mutex_lock(&s->mu);
	list = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->mu);
	for (op = list; op; op = next) {
		next = op->next;
		op->next = NULL;
		if (op->done)
			op->done(op);
		else
			qop_free(op);
	}
}

void
store_submit(struct store *s, struct qop *op)
{
	op->next = NULL;
	pthread_mutex_lock(&s->mu);
	*s->pending_tail = op;
	s->pending_tail = &op->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static int
mkdir_p(const char *path)
{
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

static void
store_clean_incoming(struct store *s)
{
	char *dir = xasprintf("%s/incoming", s->spool);
	struct dirent *de;
	DIR *dp;
	int n = 0;

	if ((dp = opendir(dir)) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			char *p;
			if (de->d_name[0] == '.')
				continue;
			p = xasprintf("%s/%s", dir, de->d_name);
			if (unlink(p) == 0)
				n++;
			free(p);
		}
		closedir(dp);
	}
	if (n)
		log_info("removed %d partial incoming message file(s) left by a crash", n);
	free(dir);
}

struct store *
store_open(uv_loop_t *loop, const char *spool, uint64_t map_size, char *err, size_t errlen)
{
	struct store *s = xcalloc(1, sizeof *s);
	char *qdir, *bdir, *idir;
	MDB_txn *txn;
	int r;

	s->spool = xstrdup(spool);
	s->map_size = map_size;
	qdir = xasprintf("%s/queue", spool);
	bdir = xasprintf("%s/bodies", spool);
	idir = xasprintf("%s/incoming", spool);
	if (mkdir_p(spool) < 0 || mkdir_p(qdir) < 0 || mkdir_p(bdir) < 0 || mkdir_p(idir) < 0) {
		snprintf(err, errlen, "cannot create queue directories under %s: %s", spool,
		    strerror(errno));
		goto fail;
	}
	if ((r = mdb_env_create(&s->env)) != 0 ||
	    (r = mdb_env_set_mapsize(s->env, (size_t)map_size)) != 0 ||
	    (r = mdb_env_set_maxdbs(s->env, 4)) != 0 ||
	    (r = mdb_env_open(s->env, qdir, MDB_NOTLS, 0640)) != 0) {
		snprintf(err, errlen, "cannot open queue %s: %s", qdir, mdb_strerror(r));
		goto fail;
	}
	if ((r = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0 ||
	    (r = mdb_dbi_open(txn, "msg", MDB_CREATE, &s->dbi_msg)) != 0 ||
	    (r = mdb_dbi_open(txn, "body", MDB_CREATE, &s->dbi_body)) != 0 ||
	    (r = mdb_dbi_open(txn, "meta", MDB_CREATE, &s->dbi_meta)) != 0 ||
	    (r = mdb_txn_commit(txn)) != 0) {
		snprintf(err, errlen, "cannot open queue databases in %s: %s", qdir, mdb_strerror(r));
		goto fail;
	}
	store_clean_incoming(s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->pending_tail = &s->pending;
	s->done_tail = &s->done;
	uv_async_init(loop, &s->async, store_async_cb);
	s->async.data = s;
	if (pthread_create(&s->writer, NULL, store_writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the queue writer thread");
		goto fail;
	}
	free(qdir);
	free(bdir);
	free(idir);
	return s;
fail:
	if (s->env)
		mdb_env_close(s->env);
	free(qdir);
	free(bdir);
	free(idir);
	free(s->spool);
	free(s);
	return NULL;
}

static void
store_async_closed(uv_handle_t *h)
{
	struct store *s = h->data;

	free(s->spool);
	free(s);
}

/* The struct goes once libuv has let go of the async handle, on a later
 * turn of the loop; the environment is closed at once. */
void
store_close(struct store *s)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->writer, NULL);
	store_async_cb(&s->async);
	mdb_env_close(s->env);
	uv_close((uv_handle_t *)&s->async, store_async_closed);
}

int
store_meta_get(struct store *s, const char *key, uint64_t *val)
{
	MDB_txn *txn;
	MDB_val k, v;
	int r;

	if ((r = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return r;
	k.mv_size = strlen(key);
	k.mv_data = (void *)key;
	r = mdb_get(txn, s->dbi_meta, &k, &v);
	if (r == 0 && v.mv_size == sizeof *val)
		memcpy(val, v.mv_data, sizeof *val);
	else if (r == 0)
		r = MDB_CORRUPTED;
	mdb_txn_abort(txn);
	return r;
}

int
store_scan(struct store *s, store_scan_cb *cb, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int r;

	if ((r = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return r;
	if ((r = mdb_cursor_open(txn, s->dbi_msg, &cur)) != 0) {
		mdb_txn_abort(txn);
		return r;
	}
	while ((r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
		const unsigned char *kp = k.mv_data;
		if (k.mv_size != 4)
			continue;
		cb((uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3],
		    v.mv_data, v.mv_size, arg);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return r == MDB_NOTFOUND ? 0 : r;
}

int
store_body_read(struct store *s, uint32_t mid, int in_file, uint64_t off, size_t max, struct buf *out)
{
	unsigned char kb[4];
	MDB_txn *txn;
	MDB_val k, v;
	int r;

	if (in_file) {
		char *p = store_body_path(s, mid);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		free(p);
		if (fd < 0)
			return errno;
		if (buf_reserve(out, max) < 0) {
			close(fd);
			return ENOMEM;
		}
		n = pread(fd, out->data + out->len, max, (off_t)off);
		close(fd);
		if (n < 0)
			return errno;
		out->len += (size_t)n;
		out->data[out->len] = '\0';
		return 0;
	}
	if ((r = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return r;
	mid_key(mid, kb, &k);
	if ((r = mdb_get(txn, s->dbi_body, &k, &v)) == 0 && off < v.mv_size) {
		size_t n = v.mv_size - off < max ? v.mv_size - (size_t)off : max;
		buf_append(out, (const char *)v.mv_data + off, n);
	}
	mdb_txn_abort(txn);
	return r;
}

/* Pages on LMDB's free list (database 0): each record holds a page
 * number list whose first word is its length, as mdb_stat -f counts. */
static uint64_t
store_free_pages(struct store *s)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t n = 0;

	if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn) != 0)
		return 0;
	if (mdb_cursor_open(txn, 0, &cur) == 0) {
		while (mdb_cursor_get(cur, &k, &v, MDB_NEXT) == 0) {
			size_t count;

			if (v.mv_size < sizeof count)
				continue;
			memcpy(&count, v.mv_data, sizeof count);
			n += count;
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	return n;
}

void
store_usage(struct store *s, uint64_t *used_kb, uint64_t *free_kb)
{
	MDB_envinfo info;
	MDB_stat st;
	struct statvfs vfs;
	uint64_t used, avail, pages, freepages;

	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	/* The file only grows: pages released by deleted messages are on
	 * LMDB's free list and are used again, so they count as free. */
	pages = (uint64_t)info.me_last_pgno + 1;
	freepages = store_free_pages(s);
	used = (pages > freepages ? pages - freepages : 0) * st.ms_psize;
	avail = s->map_size > used ? s->map_size - used : 0;
	if (statvfs(s->spool, &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < avail)
		avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	*used_kb = used / 1024;
	*free_kb = avail / 1024;
}

uint64_t
store_commits(struct store *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->commits;
	pthread_mutex_unlock(&s->mu);
	return n;
}
