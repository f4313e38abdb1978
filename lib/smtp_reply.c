/*
 * smtp_reply - incremental parser for SMTP server replies (see
 * smtp_reply.h).
 *
 * Lines come from a server we do not trust: each is checked for its
 * length (at most 512 octets without the CRLF the caller stripped, two
 * more than RFC 5321 4.5.3.1.5 allows: sloppy servers exist and the bound
 * is what matters), a well-formed reply code (2xx..5xx) followed by
 * '-', ' ' or nothing, and for NUL, CR and LF, which would cut or split
 * the stored text.  The code may not change within one reply.  Text is
 * kept whole lines at a time up to SMTP_REPLY_MAX_TEXT bytes and
 * SMTP_REPLY_MAX_LINES lines; once a line does not fit, it and every
 * later line are only counted, so what is kept is always a prefix of the
 * reply and never half a line (a cut "SIZE 10000000" would lie).
 *
 * The enhanced status code (RFC 3463) is taken from the first line when
 * its class matches the reply's first digit (RFC 2034), and removed from
 * the text of every line that repeats it.
 *
 * An error is sticky: code is set to -1 and every later feed fails, so a
 * caller that ignores one error cannot be resynchronised by the server.
 *
 * Not for: reading from the socket, command pipelining bookkeeping.
 */
#include <string.h>
#include <strings.h>

#include "smtp_reply.h"

#define SMTP_REPLY_LINE_MAX	512

void
smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof *r);
}

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Length of an RFC 3463 status code "class.subject.detail" at the start of
 * t (followed by a space or the end), or 0.
 */
static size_t
enhanced_len(const char *t, size_t n, int code)
{
	size_t i = 0, d, part;

	if (n < 5 || t[0] != (char)('0' + code / 100) ||
	    (t[0] != '2' && t[0] != '4' && t[0] != '5') || t[1] != '.')
		return 0;
	i = 2;
	for (part = 0; part < 2; part++) {
		for (d = 0; i < n && d < 4 && is_digit(t[i]); d++)
			i++;
		if (d == 0 || d > 3)
			return 0;
		if (part == 0) {
			if (i >= n || t[i] != '.')
				return 0;
			i++;
		}
	}
	if (i < n && t[i] != ' ')
		return 0;
	return i;
}

/* Lines held in text: the first line is always kept, each later one
 * adds a '\n' (a line itself never holds one). */
static size_t
stored_lines(const struct smtp_reply *r)
{
	const char *p = r->text;
	size_t n = 1;

	if (r->nlines == 0)
		return 0;
	while ((p = strchr(p, '\n')) != NULL) {
		n++;
		p++;
	}
	return n;
}

static enum smtp_reply_status
reply_error(struct smtp_reply *r)
{
	r->code = -1;
	r->done = 0;
	return SMTP_REPLY_ERROR;
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply *r, const char *line, size_t len)
{
	const char *t;
	size_t tn, e, used;
	int code, last;

	if (r->done)
		return SMTP_REPLY_ERROR;	/* caller must init for the next */
	if (r->code < 0)
		return SMTP_REPLY_ERROR;
	if (line == NULL || len > SMTP_REPLY_LINE_MAX || len < 3)
		return reply_error(r);
	if (memchr(line, '\0', len) != NULL || memchr(line, '\r', len) != NULL ||
	    memchr(line, '\n', len) != NULL)
		return reply_error(r);
	if (line[0] < '2' || line[0] > '5' || !is_digit(line[1]) ||
	    !is_digit(line[2]))
		return reply_error(r);
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (len == 3)
		last = 1;
	else if (line[3] == ' ')
		last = 1;
	else if (line[3] == '-')
		last = 0;
	else
		return reply_error(r);
	if (r->nlines > 0 && code != r->code)
		return reply_error(r);

	t = len > 3 ? line + 4 : line + len;
	tn = len > 3 ? len - 4 : 0;
	if (r->nlines == 0) {
		r->code = code;
		if ((e = enhanced_len(t, tn, code)) > 0) {
			memcpy(r->enhanced, t, e);
			r->enhanced[e] = '\0';
		}
	}
	/* Drop the enhanced code where it is repeated (and its space). */
	e = strlen(r->enhanced);
	if (e > 0 && tn >= e && memcmp(t, r->enhanced, e) == 0 &&
	    (tn == e || t[e] == ' ')) {
		t += e;
		tn -= e;
		while (tn > 0 && *t == ' ') {
			t++;
			tn--;
		}
	}

	/* Keep whole lines while they fit and nothing was dropped before. */
	used = strlen(r->text);
	if (r->nlines == 0) {
		memcpy(r->text, t, tn);		/* tn <= 508: always fits */
		r->text[tn] = '\0';
	} else if (stored_lines(r) == r->nlines &&
	    r->nlines < SMTP_REPLY_MAX_LINES &&
	    used + 1 + tn < sizeof r->text) {
		r->text[used] = '\n';
		memcpy(r->text + used + 1, t, tn);
		r->text[used + 1 + tn] = '\0';
	}
	r->nlines++;
	if (last) {
		r->done = 1;
		return SMTP_REPLY_DONE;
	}
	return SMTP_REPLY_MORE;
}

int
smtp_reply_has_ext(const struct smtp_reply *r, const char *keyword,
    const char **param, size_t *paramlen)
{
	const char *line, *nl;
	size_t kn, n;

	if (param != NULL)
		*param = NULL;
	if (paramlen != NULL)
		*paramlen = 0;
	if (r == NULL || keyword == NULL || !r->done || r->code != 250)
		return 0;
	kn = strlen(keyword);
	if (kn == 0)
		return 0;
	/* The first line is the server's greeting, not an extension. */
	line = strchr(r->text, '\n');
	while (line != NULL) {
		line++;
		nl = strchr(line, '\n');
		n = nl != NULL ? (size_t)(nl - line) : strlen(line);
		if (n >= kn && strncasecmp(line, keyword, kn) == 0 &&
		    (n == kn || line[kn] == ' ' || line[kn] == '=')) {
			if (n > kn + 1) {
				if (param != NULL)
					*param = line + kn + 1;
				if (paramlen != NULL)
					*paramlen = n - kn - 1;
			}
			return 1;
		}
		line = nl;
	}
	return 0;
}

const char *
smtp_reply_oneline(const struct smtp_reply *r, char *out, size_t outlen)
{
	char head[32];
	size_t o = 0, i, hn;
	unsigned char c;

	if (out == NULL || outlen == 0)
		return out;
	out[0] = '\0';
	if (r == NULL || r->code < 200 || r->code > 599) {
		hn = strlen("(invalid reply)");
		if (hn >= outlen)
			hn = outlen - 1;
		memcpy(out, "(invalid reply)", hn);
		out[hn] = '\0';
		return out;
	}
	head[0] = (char)('0' + r->code / 100);
	head[1] = (char)('0' + r->code / 10 % 10);
	head[2] = (char)('0' + r->code % 10);
	hn = 3;
	if (r->enhanced[0] != '\0') {
		head[hn++] = ' ';
		for (i = 0; r->enhanced[i] != '\0' && hn < sizeof head - 1; i++)
			head[hn++] = r->enhanced[i];
	}
	if (r->text[0] != '\0')
		head[hn++] = ' ';
	for (i = 0; i < hn && o + 1 < outlen; i++)
		out[o++] = head[i];
	/* Newlines become spaces; other controls are not for log files. */
	for (i = 0; i < sizeof r->text && r->text[i] != '\0' && o + 1 < outlen;
	    i++) {
		c = (unsigned char)r->text[i];
		if (c == '\n')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return out;
}
