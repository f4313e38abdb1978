/*
 * ctl - control requests (IMSG_CTL) and their replies (IMSG_CTL_REPLY).
 *
 * A request is an argv.  A reply is a status, a message, and a list of
 * flat records of key/value strings (see proto.h); sallyctl turns them
 * into the spec's text layouts or JSON.  The builder keeps records in a
 * side buffer so the count can lead the payload.
 */
#ifndef SP_CTL_H
#define SP_CTL_H
#include <stdint.h>

#include "buf.h"
#include "ipc_conn.h"

#define CTL_MAX_ARGS	64

struct ctl_reply {
	uint32_t	 status;
	struct buf	 message;
	struct buf	 recs;
	uint32_t	 nrec;
	struct buf	 cur;
	uint32_t	 curfields;
};

void	ctl_reply_init(struct ctl_reply *r);
void	ctl_reply_free(struct ctl_reply *r);
void	ctl_reply_error(struct ctl_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	ctl_reply_message(struct ctl_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	ctl_rec_begin(struct ctl_reply *r);
void	ctl_rec_add(struct ctl_reply *r, const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	ctl_rec_end(struct ctl_reply *r);
/* Whole records of the two kinds every status-like reply carries:
 * {section: info, name, value} and {section: gauge, name, current}. */
void	ctl_rec_info(struct ctl_reply *r, const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	ctl_rec_gauge(struct ctl_reply *r, const char *name, unsigned long long current);
/* Appends the IMSG_CTL_REPLY frame to b. */
void	ctl_reply_encode(struct ctl_reply *r, struct buf *b, uint32_t reqid);
/* Encodes, sends on c, and frees r. */
void	ctl_reply_send(struct ctl_reply *r, struct ipc_conn *c, uint32_t reqid);

/* Request argv. */
void	ctl_encode_request(struct buf *b, uint32_t reqid, int argc, char *const argv[]);
/* 0 and a NULL-terminated argv (free with ctl_free_argv), or -1. */
int	ctl_decode_request(const unsigned char *p, size_t len, int *argc, char ***argv);
void	ctl_free_argv(int argc, char **argv);

/* Decoded reply. */
struct ctl_record {
	size_t	 nfield;
	char	**keys;
	char	**vals;
};
struct ctl_result {
	uint32_t		 status;
	char			*message;
	struct ctl_record	*recs;
	size_t			 nrec;
};
int		 ctl_result_decode(const unsigned char *p, size_t len, struct ctl_result *res);
void		 ctl_result_free(struct ctl_result *res);
const char	*ctl_record_get(const struct ctl_record *rec, const char *key);
/* Re-emits a decoded record into a reply being built (master merges). */
void		 ctl_rec_copy(struct ctl_reply *r, const struct ctl_record *rec);

#endif
