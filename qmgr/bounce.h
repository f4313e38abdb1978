/*
 * bounce - RFC 3464 delivery status notifications.
 *
 * Builds the bytes of a DSN (multipart/report; report-type=delivery-status)
 * for some recipients of a message: a human-readable part, the
 * machine-readable message/delivery-status part, and the original
 * message's headers (text/rfc822-headers).  qmgr queues it as a new
 * message from the null sender, which is never bounced itself.
 */
#ifndef QMGR_BOUNCE_H
#define QMGR_BOUNCE_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "qmsg.h"

void	bounce_build(struct buf *out, const char *hostname, const struct qmsg *orig,
	    const uint32_t *rids, size_t nrids, const char *orig_headers, size_t hlen,
	    uint32_t new_mid, time_t now);
/* The RFC 3463 status in a reply ("550 5.1.1 no" -> "5.1.1"), else the
 * class default ("5.0.0" / "4.0.0"). */
void	bounce_status_code(const char *reply, char out[16]);
/* Length of the header section of a message (up to and including the
 * blank line), or len when there is none within it. */
size_t	bounce_header_len(const char *msg, size_t len);

#endif
