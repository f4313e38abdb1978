/*
 * smtp_reply - incremental parser for SMTP server replies (RFC 5321 4.2),
 * used by deliver and by the test tools.
 *
 * Fed one line at a time (without CRLF); collects a multi-line reply
 * ("250-a", "250-b", "250 c") into one struct with the code, the enhanced
 * status code if the first line has one (RFC 3463 "x.y.z"), and the text
 * lines joined by "\n".  Bounded: at most SMTP_REPLY_MAX_LINES lines and
 * SMTP_REPLY_MAX_TEXT bytes are kept (the rest is counted, not stored), a
 * line over 512 octets or a code that changes between lines is an error.
 */
#ifndef SP_SMTP_REPLY_H
#define SP_SMTP_REPLY_H
#include <stddef.h>

#define SMTP_REPLY_MAX_LINES	100
#define SMTP_REPLY_MAX_TEXT	4096

struct smtp_reply {
	int	code;			/* 200..599 */
	char	enhanced[16];		/* "2.1.0" or "" */
	char	text[SMTP_REPLY_MAX_TEXT]; /* lines' text, "\n"-joined */
	size_t	nlines;
	int	done;			/* last line seen */
};

enum smtp_reply_status { SMTP_REPLY_MORE = 0, SMTP_REPLY_DONE = 1, SMTP_REPLY_ERROR = -1 };

void	smtp_reply_init(struct smtp_reply *r);
/* Feeds one line (no CRLF). */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len);
/* EHLO keyword lookup in a completed 250 reply: 1 if keyword (case-
 * insensitive) is advertised; *param gets the rest of its line, if any. */
int	smtp_reply_has_ext(const struct smtp_reply *r, const char *keyword,
	    const char **param, size_t *paramlen);
/* The reply as one line "550 5.1.1 text" (newlines replaced), for logs. */
const char *smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen);

#endif
