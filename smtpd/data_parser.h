/*
 * data_parser - the SMTP DATA phase as a pure, incremental byte parser.
 *
 * Bytes from the client go in, in chunks split anywhere (one byte at a
 * time gives the same result as one chunk); the message as stored comes
 * out: CRLF line ends, dot-unstuffed (RFC 5321 4.5.2), without the final
 * ".".  DESIGN.md section 4 rules:
 *
 *  - the message ends only at <CRLF>.<CRLF>; the CRLF that ended the DATA
 *    command counts as the first one, so ".\r\n" at once is an empty
 *    message;
 *  - a bare LF or a bare CR (one not part of CRLF) anywhere is FATAL: the
 *    parser stops at once and never looks for another end marker (no SMTP
 *    smuggling: the caller answers 5xx and drops the connection);
 *  - a line over DATA_LINE_MAX octets (unstuffed, without CRLF), a NUL,
 *    or more than max_size stored octets set an error: from then on
 *    nothing more is stored, the input is still consumed up to the end
 *    marker, and the caller answers with the first error once it is seen.
 *
 * While scanning the header section it captures the first Subject:
 * header, unfolded and bounded (DATA_SUBJECT_MAX), for the mail log.
 *
 * Memory is constant: the parser holds no message data; output goes to a
 * caller's buffer, and feeding stops before that buffer passes out_limit
 * so the caller can ship it (QMSG_DATA frames of at most 64 KiB).
 *
 * Not for: MIME, header rewriting, the Received: header (session.c).
 */
#ifndef SP_SMTPD_DATA_PARSER_H
#define SP_SMTPD_DATA_PARSER_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define DATA_LINE_MAX		998
#define DATA_SUBJECT_MAX	256

enum data_error {
	DATA_OK = 0,
	DATA_ERR_BARE_CR,	/* fatal */
	DATA_ERR_BARE_LF,	/* fatal */
	DATA_ERR_LINE_TOO_LONG,
	DATA_ERR_NUL,
	DATA_ERR_SIZE,
};

enum data_status {
	DATA_MORE = 0,		/* all consumed (or out is full): feed more */
	DATA_DONE = 1,		/* end marker consumed; check error */
	DATA_FATAL = 2,		/* bare CR/LF: stop reading this client */
};

struct data_parser {
	int		 state;
	uint64_t	 max_size;	/* 0: no limit */
	size_t		 out_limit;	/* keep out->len at most this; 0: none */
	uint64_t	 size;		/* octets stored so far */
	size_t		 line_len;	/* current line, unstuffed, no CRLF */
	enum data_error	 error;		/* the first error */
	/* header scan */
	int		 hstate;
	int		 last_was_subject;
	int		 subject_seen;
	int		 subject_skip_ws;
	size_t		 hname_len;
	char		 hname[16];
	size_t		 subject_len;
	char		 subject[DATA_SUBJECT_MAX + 1];
};

void	data_parser_init(struct data_parser *p, uint64_t max_size, size_t out_limit);

/*
 * Consumes up to n bytes of in; *consumed says how many.  Stored bytes
 * are appended to out (NULL: count them, store nothing).  Returns
 * DATA_MORE when in is used up or out reached out_limit, DATA_DONE after
 * the end marker (bytes after it are not consumed), DATA_FATAL on a bare
 * CR or LF (p->error says which).
 */
enum data_status data_parser_feed(struct data_parser *p, const char *in, size_t n,
		    size_t *consumed, struct buf *out);

/* The captured Subject (unfolded, possibly cut at DATA_SUBJECT_MAX), or
 * NULL when the header section had none. */
const char	*data_parser_subject(const struct data_parser *p);

const char	*data_error_name(enum data_error e);

#endif
