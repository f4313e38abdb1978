/*
 * data_parser - incremental DATA phase parser (see data_parser.h).
 *
 * A small state machine over single bytes, with a fast path for the
 * common case (inside a body line, no error, headers over): a run of
 * ordinary bytes is copied at once.  Both paths apply the same rules, so
 * how the input is chunked never changes the result.
 */
#include <string.h>
#include <strings.h>

#include "data_parser.h"

enum {
	ST_BOL,		/* at the start of a line */
	ST_DOT,		/* start of line, then '.' */
	ST_DOT_CR,	/* start of line, then ".\r" */
	ST_TEXT,	/* inside a line */
	ST_CR,		/* inside a line, after '\r' */
	ST_DONE,
	ST_FATAL,
};

enum {
	H_LINESTART,	/* start of a header line */
	H_NAME,		/* in a field name */
	H_SUBJECT,	/* in the value of the (first) Subject field */
	H_OTHER,	/* in the value of any other field */
	H_BODY,		/* header section over */
};

void
data_parser_init(struct data_parser *p, uint64_t max_size, size_t out_limit)
{
	memset(p, 0, sizeof *p);
	p->state = ST_BOL;
	p->hstate = H_LINESTART;
	p->max_size = max_size;
	p->out_limit = out_limit;
}

const char *
data_parser_subject(const struct data_parser *p)
{
	return p->subject_seen ? p->subject : NULL;
}

const char *
data_error_name(enum data_error e)
{
	switch (e) {
	case DATA_OK:
		return "ok";
	case DATA_ERR_BARE_CR:
		return "bare CR";
	case DATA_ERR_BARE_LF:
		return "bare LF";
	case DATA_ERR_LINE_TOO_LONG:
		return "line too long";
	case DATA_ERR_NUL:
		return "NUL byte";
	case DATA_ERR_SIZE:
		return "message too large";
	}
	return "unknown";
}

static void
set_error(struct data_parser *p, enum data_error e)
{
	if (p->error == DATA_OK)
		p->error = e;
}

static void
subject_add(struct data_parser *p, char c)
{
	if (p->subject_len < DATA_SUBJECT_MAX) {
		p->subject[p->subject_len++] = c;
		p->subject[p->subject_len] = '\0';
	}
}

/* Header scan, one content byte; bol: it is the first byte of its line. */
static void
header_byte(struct data_parser *p, unsigned char c, int bol)
{
	if (p->hstate == H_BODY)
		return;
	if (bol) {
		if (c == ' ' || c == '\t') {
			/* Folded continuation: unfold into one space. */
			if (p->last_was_subject) {
				p->hstate = H_SUBJECT;
				subject_add(p, ' ');
				p->subject_skip_ws = 1;
			} else
				p->hstate = H_OTHER;
			return;
		}
		p->hstate = H_NAME;
		p->hname_len = 0;
	}
	switch (p->hstate) {
	case H_NAME:
		if (c == ':') {
			if (!p->subject_seen && p->hname_len == 7 &&
			    strncasecmp(p->hname, "Subject", 7) == 0) {
				p->subject_seen = 1;
				p->subject_skip_ws = 1;
				p->hstate = H_SUBJECT;
			} else
				p->hstate = H_OTHER;
		} else if (p->hname_len < sizeof p->hname)
			p->hname[p->hname_len++] = (char)c;
		else
			p->hname_len = sizeof p->hname;	/* too long to be Subject */
		break;
	case H_SUBJECT:
		if (p->subject_skip_ws && (c == ' ' || c == '\t'))
			break;
		p->subject_skip_ws = 0;
		subject_add(p, (char)c);
		break;
	default:
		break;
	}
}

static void
header_eol(struct data_parser *p)
{
	if (p->hstate == H_BODY)
		return;
	if (p->line_len == 0 || p->hstate == H_NAME) {
		/* Empty line, or a line that is no header field: body starts. */
		p->hstate = H_BODY;
		p->last_was_subject = 0;
		return;
	}
	p->last_was_subject = p->hstate == H_SUBJECT;
	p->hstate = H_LINESTART;
}

static void
content_byte(struct data_parser *p, unsigned char c, struct buf *out)
{
	header_byte(p, c, p->line_len == 0);
	if (c == '\0')
		set_error(p, DATA_ERR_NUL);
	if (++p->line_len > DATA_LINE_MAX)
		set_error(p, DATA_ERR_LINE_TOO_LONG);
	if (p->error == DATA_OK && p->max_size && p->size + 1 > p->max_size)
		set_error(p, DATA_ERR_SIZE);
	if (p->error != DATA_OK)
		return;
	p->size++;
	if (out != NULL)
		buf_append(out, &c, 1);
}

static void
end_of_line(struct data_parser *p, struct buf *out)
{
	header_eol(p);
	p->line_len = 0;
	if (p->error == DATA_OK && p->max_size && p->size + 2 > p->max_size)
		set_error(p, DATA_ERR_SIZE);
	if (p->error != DATA_OK)
		return;
	p->size += 2;
	if (out != NULL)
		buf_append(out, "\r\n", 2);
}

/* Length of the run of ordinary bytes at in (no CR, LF or NUL). */
static size_t
plain_run(const char *in, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (in[i] == '\r' || in[i] == '\n' || in[i] == '\0')
			break;
	return i;
}

static enum data_status
fatal(struct data_parser *p, enum data_error e)
{
	p->error = e;	/* fatal errors win over any earlier one */
	p->state = ST_FATAL;
	return DATA_FATAL;
}

enum data_status
data_parser_feed(struct data_parser *p, const char *in, size_t n, size_t *consumed,
    struct buf *out)
{
	size_t i = 0, run, room;
	unsigned char c;

	*consumed = 0;
	if (p->state == ST_DONE)
		return DATA_DONE;
	if (p->state == ST_FATAL)
		return DATA_FATAL;
	while (i < n) {
		if (out != NULL && p->out_limit && out->len + 2 > p->out_limit)
			break;
		/* Fast path: body text, nothing to watch but the limits. */
		if (p->state == ST_TEXT && p->hstate == H_BODY && p->error == DATA_OK) {
			run = plain_run(in + i, n - i);
			if (p->line_len + run > DATA_LINE_MAX)
				run = DATA_LINE_MAX - p->line_len;
			if (p->max_size && p->size + run > p->max_size)
				run = (size_t)(p->max_size - p->size);
			if (out != NULL && p->out_limit) {
				room = p->out_limit - out->len - 2;
				if (run > room)
					run = room;
			}
			if (run > 0) {
				if (out != NULL)
					buf_append(out, in + i, run);
				p->size += run;
				p->line_len += run;
				i += run;
				continue;
			}
		}
		c = (unsigned char)in[i++];
		switch (p->state) {
		case ST_BOL:
			if (c == '.')
				p->state = ST_DOT;
			else if (c == '\r')
				p->state = ST_CR;
			else if (c == '\n') {
				*consumed = i;
				return fatal(p, DATA_ERR_BARE_LF);
			} else {
				content_byte(p, c, out);
				p->state = ST_TEXT;
			}
			break;
		case ST_DOT:
			if (c == '\r')
				p->state = ST_DOT_CR;
			else if (c == '\n') {
				*consumed = i;
				return fatal(p, DATA_ERR_BARE_LF);
			} else {
				/* Transparency: the leading dot is dropped. */
				content_byte(p, c, out);
				p->state = ST_TEXT;
			}
			break;
		case ST_DOT_CR:
			*consumed = i;
			if (c != '\n')
				return fatal(p, DATA_ERR_BARE_CR);
			p->state = ST_DONE;
			return DATA_DONE;
		case ST_TEXT:
			if (c == '\r')
				p->state = ST_CR;
			else if (c == '\n') {
				*consumed = i;
				return fatal(p, DATA_ERR_BARE_LF);
			} else
				content_byte(p, c, out);
			break;
		case ST_CR:
			if (c != '\n') {
				*consumed = i;
				return fatal(p, DATA_ERR_BARE_CR);
			}
			end_of_line(p, out);
			p->state = ST_BOL;
			break;
		}
	}
	*consumed = i;
	return DATA_MORE;
}
