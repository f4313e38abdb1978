/*
 * bounce - DSN construction (see bounce.h).  Text taken from remote
 * servers is folded into the report with control characters removed.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "bounce.h"

static void
rfc5322_date(char *out, size_t len, time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

void
bounce_status_code(const char *reply, char out[16])
{
	const char *p = reply;
	int cls = reply && reply[0] == '4' ? 4 : 5;

	snprintf(out, 16, "%d.0.0", cls);
	if (p == NULL)
		return;
	/* Skip the three-digit code and a separator. */
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && (p[3] == ' ' || p[3] == '-'))
		p += 4;
	if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
		size_t n = strspn(p, "0123456789.");
		if (n >= 5 && n < 16) {
			memcpy(out, p, n);
			out[n] = '\0';
		}
	}
}

size_t
bounce_header_len(const char *msg, size_t len)
{
	size_t i;

	for (i = 0; i + 3 < len; i++)
		if (msg[i] == '\r' && msg[i + 1] == '\n' && msg[i + 2] == '\r' && msg[i + 3] == '\n')
			return i + 4;
	return len;
}

static void
put_clean(struct buf *out, const char *s)
{
	for (; s && *s; s++)
		buf_append(out, (unsigned char)*s < 0x20 ? " " : s, 1);
}

void
bounce_build(struct buf *out, const char *hostname, const struct qmsg *orig, const uint32_t *rids,
    size_t nrids, const char *orig_headers, size_t hlen, uint32_t new_mid, time_t now)
{
	char date[64], arrival[64], code[16];
	size_t i;

	rfc5322_date(date, sizeof date, now);
	rfc5322_date(arrival, sizeof arrival, (time_t)orig->received);
	buf_printf(out, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n", hostname);
	buf_printf(out, "To: <%s>\r\n", orig->sender);
	buf_printf(out, "Subject: Delivery Status Notification (Failure)\r\n");
	buf_printf(out, "Date: %s\r\n", date);
	buf_printf(out, "Message-ID: <bounce.%u.%lld@%s>\r\n", new_mid, (long long)now, hostname);
	buf_printf(out, "Auto-Submitted: auto-replied\r\n");
	buf_printf(out, "MIME-Version: 1.0\r\n");
	buf_printf(out, "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"%u/%s\"\r\n\r\n", new_mid, hostname);
	buf_printf(out, "This is a MIME-encapsulated message.\r\n\r\n");

	buf_printf(out, "--%u/%s\r\n", new_mid, hostname);
	buf_printf(out, "Content-Type: text/plain; charset=us-ascii\r\n\r\n");
	buf_printf(out, "This is the mail system at host %s.\r\n\r\n", hostname);
	buf_printf(out, "Your message (queued as MID %u) could not be delivered to one or\r\n"
	    "more recipients. It has been returned to you with this notice.\r\n\r\n", orig->mid);
	for (i = 0; i < nrids; i++) {
		const struct qrcpt *r = &orig->rcpts[rids[i]];
		buf_printf(out, "<%s>: ", r->addr);
		put_clean(out, r->last_reply ? r->last_reply : "delivery failed");
		buf_puts(out, "\r\n");
	}
	buf_puts(out, "\r\n");

	buf_printf(out, "--%u/%s\r\n", new_mid, hostname);
	buf_printf(out, "Content-Type: message/delivery-status\r\n\r\n");
	buf_printf(out, "Reporting-MTA: dns; %s\r\n", hostname);
	buf_printf(out, "X-Sallyport-Queue-ID: %u\r\n", orig->mid);
	buf_printf(out, "Arrival-Date: %s\r\n", arrival);
	for (i = 0; i < nrids; i++) {
		const struct qrcpt *r = &orig->rcpts[rids[i]];
		bounce_status_code(r->last_reply, code);
		buf_puts(out, "\r\n");
		buf_printf(out, "Final-Recipient: rfc822; %s\r\n", r->addr);
		buf_printf(out, "Action: failed\r\n");
		buf_printf(out, "Status: %s\r\n", code);
		if (r->last_reply && isdigit((unsigned char)r->last_reply[0])) {
			buf_puts(out, "Diagnostic-Code: smtp; ");
			put_clean(out, r->last_reply);
			buf_puts(out, "\r\n");
		} else if (r->last_reply) {
			buf_puts(out, "Diagnostic-Code: X-Sallyport; ");
			put_clean(out, r->last_reply);
			buf_puts(out, "\r\n");
		}
	}
	buf_puts(out, "\r\n");

	buf_printf(out, "--%u/%s\r\n", new_mid, hostname);
	buf_printf(out, "Content-Type: text/rfc822-headers\r\n\r\n");
	buf_append(out, orig_headers, hlen);
	if (hlen < 2 || memcmp(orig_headers + hlen - 2, "\r\n", 2) != 0)
		buf_puts(out, "\r\n");
	buf_printf(out, "\r\n--%u/%s--\r\n", new_mid, hostname);
}
