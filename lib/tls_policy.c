/*
 * tls_policy - the outbound TLS decision table (see tls_policy.h).
 *
 * Every rule here is a row of the fallback matrix in
 * spec/tls-with-other-mtas.md section 3.2; the comment on each mode says
 * which row and where the spec leaves a choice to us.  Terms as in the
 * spec:
 *   pre-220 failure   (i) EHLO refused, (ii) no STARTTLS in the EHLO
 *                     reply, (iii) STARTTLS answered with anything but 220;
 *   post-220 failure  the handshake after "220" failed, or the session broke;
 *   verify failure    the chain does not lead to a trusted CA, or the name
 *                     does not match (spec 3.3).
 * "Not delivered" is a temporary failure of that host (spec 3.2, "What
 * 'not delivered' means"): DEFER with 4.7.4 or 4.7.5, never cleartext.
 *
 * Not for: I/O, certificate checks, next-MX choice or retry scheduling.
 */
#include <stdio.h>
#include <string.h>

#include "tls_policy.h"

/* How a mode treats each kind of failure. */
enum on_fail { FAIL_CLEAR, FAIL_DEFER };
enum verify_kind { VERIFY_NONE, VERIFY_ADVISORY, VERIFY_ENFORCED };

struct mode_rules {
	const char		*name;
	int			 tries_tls;
	enum on_fail		 pre220;
	enum verify_kind	 verify;
	int			 alert;	/* required by the operator's setting */
};

static void
rules_for(enum cfg_tls_out mode, enum tls_dane_fact dane,
    struct mode_rules *r)
{
	memset(r, 0, sizeof *r);
	r->name = tls_policy_mode_name(mode);
	switch (mode) {
	case TLS_OUT_OFF:
		/* Row "No": TLS never attempted, no verification. */
		break;
	case TLS_OUT_DEFAULT:	/* unresolved: the built-in default */
	case TLS_OUT_PREFERRED:
		/* Row "Preferred": pre-220 failure continues in clear on
		 * the same session; post-220 no cleartext fallback; no
		 * verification (spec 2.4 Table 2, item 2). */
		r->tries_tls = 1;
		r->pre220 = FAIL_CLEAR;
		break;
	case TLS_OUT_REQUIRED:
		/* Row "Required": nothing sent on the connection without
		 * TLS; the certificate is not verified. */
		r->tries_tls = 1;
		r->pre220 = FAIL_DEFER;
		r->alert = 1;
		break;
	case TLS_OUT_PREFERRED_VERIFY:
		/* Row "Preferred (Verify)": pre-220 failure delivers in
		 * plaintext; verify failure still delivers over TLS.  The
		 * post-220 cell is "not stated" in the spec; we follow its
		 * recommendation: as Preferred, no cleartext on that
		 * session. */
		r->tries_tls = 1;
		r->pre220 = FAIL_CLEAR;
		r->verify = VERIFY_ADVISORY;
		break;
	case TLS_OUT_REQUIRED_VERIFY:
		/* Row "Required (Verify)": every failure: not delivered
		 * (identity rule A, spec 3.3). */
	case TLS_OUT_REQUIRED_VERIFY_HOSTED:
		/* Row "Required - Verify Hosted Domains": as Required
		 * (Verify), identity rule B (spec 3.3); the difference is
		 * in tls_name, not here. */
		r->tries_tls = 1;
		r->pre220 = FAIL_DEFER;
		r->verify = VERIFY_ENFORCED;
		r->alert = 1;
		break;
	case TLS_OUT_DANE:
		/* Not in the spec's matrix (spec 5 lists DANE as an
		 * extension).  RFC 7672 2.2: without DNSSEC-validated TLSA
		 * records it is opportunistic, i.e. the Preferred row;
		 * with usable ones TLS is mandatory and authenticated by
		 * the TLSA records (the Required (Verify) row); with only
		 * unusable ones TLS is mandatory but not authenticated
		 * (the Required row).  No alert: the requirement comes
		 * from the peer's DNS, not from the operator (spec 3.4
		 * alerts for "a domain whose setting requires TLS"). */
		r->tries_tls = 1;
		switch (dane) {
		case TLS_DANE_USABLE:
			r->pre220 = FAIL_DEFER;
			r->verify = VERIFY_ENFORCED;
			break;
		case TLS_DANE_UNUSABLE:
			r->pre220 = FAIL_DEFER;
			break;
		case TLS_DANE_NONE:
		case TLS_DANE_LOOKUP_FAILED:
			r->pre220 = FAIL_CLEAR;
			break;
		}
		break;
	}
}

/* Peer text goes to the log: keep it on one line and printable. */
static void
clean_detail(const char *in, char *out, size_t outlen)
{
	size_t i;

	if (outlen == 0)
		return;
	if (in == NULL)
		in = "";
	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)in[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
}

static void
set_reason(struct tls_decision *d, const char *mode, const char *what,
    const char *detail, const char *then)
{
	char clean[TLS_REASON_MAX];
	int n;

	clean_detail(detail, clean, sizeof clean);
	n = snprintf(d->reason, sizeof d->reason, "tls %s: %s%s%s%s%s", mode,
	    what, clean[0] ? " (" : "", clean, clean[0] ? ")" : "", then);
	if (n < 0)
		d->reason[0] = '\0';
	else if ((size_t)n >= sizeof d->reason)	/* cut: say so */
		memcpy(d->reason + sizeof d->reason - 4, "...", 4);
}

static void
decide_defer(struct tls_decision *d, const struct mode_rules *r,
    const char *status, int close, const char *what, const char *detail)
{
	d->action = TLS_ACT_DEFER;
	d->status = status;
	d->close = close;
	d->alert = r->alert;
	set_reason(d, r->name, what, detail, "; not delivering on this connection");
}

void
tls_policy_decide(enum cfg_tls_out mode, const struct tls_attempt *a,
    struct tls_decision *d)
{
	struct mode_rules r;
	const char *what;

	memset(d, 0, sizeof *d);
	d->status = "";
	rules_for(mode, a->dane, &r);

	if (mode == TLS_OUT_DANE && a->dane == TLS_DANE_LOOKUP_FAILED) {
		/* RFC 7672 2.2: a TLSA lookup that fails (not "no
		 * records") makes the host unusable; never downgrade. */
		r.alert = 0;
		decide_defer(d, &r, "4.7.5", 0, "TLSA lookup failed",
		    a->detail);
		return;
	}
	if (!r.tries_tls) {
		d->action = TLS_ACT_CLEAR;
		set_reason(d, r.name, "TLS not used", NULL, "");
		return;
	}

	/* Pre-220 failures: the session is still clean cleartext SMTP. */
	what = NULL;
	if (a->ehlo == TLS_EHLO_REJECTED)
		what = "server does not support ESMTP (EHLO refused)";
	else if (a->ehlo == TLS_EHLO_NO_STARTTLS)
		what = "STARTTLS not offered";
	else if (a->starttls == TLS_STARTTLS_REFUSED)
		what = "STARTTLS refused";
	if (what != NULL) {
		if (r.pre220 == FAIL_CLEAR) {
			d->action = TLS_ACT_FALLBACK_CLEAR;
			set_reason(d, r.name, what,
			    a->ehlo == TLS_EHLO_STARTTLS ? a->detail : NULL,
			    "; delivering in clear");
		} else
			decide_defer(d, &r, "4.7.4", 0, what,
			    a->ehlo == TLS_EHLO_STARTTLS ? a->detail : NULL);
		return;
	}
	if (a->starttls == TLS_STARTTLS_NOT_SENT ||
	    a->handshake == TLS_HANDSHAKE_NOT_DONE) {
		d->action = TLS_ACT_STARTTLS;
		set_reason(d, r.name, "starting TLS", NULL, "");
		return;
	}

	/* Post-220: the server waits for a ClientHello, never for cleartext
	 * SMTP again; every mode drops the connection (spec 3.2, Post-220
	 * column: "no cleartext fallback" for Preferred, "not delivered"
	 * for the Required rows). */
	if (a->handshake == TLS_HANDSHAKE_FAILED) {
		decide_defer(d, &r, "4.7.5", 1,
		    "TLS handshake failed after 220", a->detail);
		return;
	}

	/* TLS is up. */
	if (r.verify != VERIFY_NONE && a->verify != TLS_VERIFY_OK) {
		what = a->verify == TLS_VERIFY_NOT_DONE ?
		    "certificate not verified" :
		    "certificate verification failed";
		if (r.verify == VERIFY_ENFORCED) {
			decide_defer(d, &r, "4.7.5", 0, what, a->detail);
			return;
		}
		d->action = TLS_ACT_TLS;
		d->unverified = 1;
		set_reason(d, r.name, what, a->detail,
		    "; delivering over TLS anyway");
		return;
	}
	d->action = TLS_ACT_TLS;
	set_reason(d, r.name, r.verify != VERIFY_NONE ?
	    "TLS up, certificate verified" : "TLS up", NULL, "");
}

enum cfg_tls_out
tls_policy_effective(enum cfg_tls_out dest, enum cfg_tls_out dflt)
{
	if (dest != TLS_OUT_DEFAULT)
		return dest;
	if (dflt != TLS_OUT_DEFAULT)
		return dflt;
	return TLS_OUT_PREFERRED;
}

int
tls_policy_verifies(enum cfg_tls_out mode, enum tls_dane_fact dane)
{
	struct mode_rules r;

	rules_for(mode, dane, &r);
	return r.verify != VERIFY_NONE;
}

const char *
tls_policy_mode_name(enum cfg_tls_out mode)
{
	switch (mode) {
	case TLS_OUT_DEFAULT:			return "default";
	case TLS_OUT_OFF:			return "off";
	case TLS_OUT_PREFERRED:			return "preferred";
	case TLS_OUT_REQUIRED:			return "required";
	case TLS_OUT_PREFERRED_VERIFY:		return "preferred-verify";
	case TLS_OUT_REQUIRED_VERIFY:		return "required-verify";
	case TLS_OUT_REQUIRED_VERIFY_HOSTED:	return "required-verify-hosted";
	case TLS_OUT_DANE:			return "dane";
	}
	return "unknown";
}

const char *
tls_policy_action_name(enum tls_action act)
{
	switch (act) {
	case TLS_ACT_CLEAR:		return "clear";
	case TLS_ACT_STARTTLS:		return "starttls";
	case TLS_ACT_TLS:		return "tls";
	case TLS_ACT_FALLBACK_CLEAR:	return "fallback-clear";
	case TLS_ACT_DEFER:		return "defer";
	}
	return "unknown";
}
