/*
 * store - qmgr's LMDB queue: the only code that writes it.
 *
 * Layout (one environment in <spool>/queue):
 *   "msg"  MID (u32 big-endian) -> envelope record (qmgr/envelope.c)
 *   "body" MID -> message bytes, for bodies under the file threshold;
 *          larger bodies live in <spool>/bodies/<MID>, fsync'd before the
 *          envelope that names them is committed
 *   "meta" name -> u64 (ID high-water marks, counter totals)
 *
 * Writes go through one writer thread.  Loop-side code submits operations;
 * the writer takes everything queued, applies it in one transaction and
 * syncs once (group commit), then hands the operations back to the loop
 * through a uv_async with their results.  An insert that does not fit the
 * map fails alone (nested transaction), so a full map refuses new mail
 * and loses nothing already queued.
 *
 * Not for: scheduling, what a state means (qmgr/sched.c).
 */
#ifndef QMGR_STORE_H
#define QMGR_STORE_H
#include <stdint.h>
#include <uv.h>

#include "buf.h"

enum qop_kind { QOP_PUT_MSG, QOP_DEL_MSG, QOP_META };

struct qop {
	enum qop_kind	 kind;
	uint32_t	 mid;
	int		 with_body;	/* PUT_MSG: store body (first insert) */
	struct buf	 env;		/* PUT_MSG: envelope record */
	struct buf	 body;		/* PUT_MSG + with_body, small body */
	char		*body_file;	/* PUT_MSG: temp file to fsync+rename, or NULL */
	int		 unlink_body;	/* DEL_MSG: remove <spool>/bodies/<mid> */
	char		 key[48];	/* META */
	uint64_t	 val;
	int		 result;	/* 0, or an errno-style / MDB_ code */
	void		*ctx;
	void		(*done)(struct qop *op);	/* on the loop thread */
	struct qop	*next;
};

struct store;

struct store	*store_open(uv_loop_t *loop, const char *spool, uint64_t map_size,
		    char *err, size_t errlen);
/* Closes the queue; the struct is freed on a later turn of the loop. */
void		 store_close(struct store *s);
void		 store_submit(struct store *s, struct qop *op);
struct qop	*qop_new(enum qop_kind kind, uint32_t mid);
void		 qop_free(struct qop *op);
const char	*store_strerror(int result);

/* Reads on the loop thread (LMDB readers never wait for the writer). */
int		 store_meta_get(struct store *s, const char *key, uint64_t *val);
typedef void store_scan_cb(uint32_t mid, const void *env, size_t len, void *arg);
int		 store_scan(struct store *s, store_scan_cb *cb, void *arg);
/* Copies up to max bytes of the body of mid from offset into out. */
int		 store_body_read(struct store *s, uint32_t mid, int in_file, uint64_t off,
		    size_t max, struct buf *out);
char		*store_body_path(struct store *s, uint32_t mid);
char		*store_incoming_path(struct store *s, uint32_t mid, uint32_t tag);
void		 store_usage(struct store *s, uint64_t *used_kb, uint64_t *free_kb);
uint64_t	 store_commits(struct store *s);

#endif
