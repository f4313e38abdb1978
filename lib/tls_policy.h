/*
 * tls_policy - the outbound TLS decision table (spec
 * tls-with-other-mtas.md section 3.2, "Fallback matrix") as one pure
 * function, used by deliver for every connection to a destination host.
 *
 * The caller describes how far one attempt has got (struct tls_attempt:
 * what EHLO said, how STARTTLS was answered, whether the handshake
 * worked, whether the certificate was verified, and for dane what the
 * TLSA lookup found) and asks what to do now (struct tls_decision).  It
 * asks again after every step: after EHLO (answer: STARTTLS, clear, or
 * defer), after STARTTLS and the handshake and verification (answer: TLS,
 * fall back to clear, or defer).  The facts of one attempt only grow, so
 * asking twice with the same facts gives the same answer.
 *
 * Not for: doing any I/O, verifying certificates (tls_name.h does that),
 * choosing the next MX or scheduling the retry (deliver and qmgr do), or
 * inbound TLS (the listener's HAT policy, spec section 3.1).
 */
#ifndef SP_TLS_POLICY_H
#define SP_TLS_POLICY_H
#include <stddef.h>

#include "config.h"

/* What the answer to EHLO said (spec 3.2, pre-220 failures (i), (ii)). */
enum tls_ehlo_fact {
	TLS_EHLO_STARTTLS = 0,	/* EHLO accepted, STARTTLS advertised */
	TLS_EHLO_NO_STARTTLS,	/* EHLO accepted, no STARTTLS in the list */
	TLS_EHLO_REJECTED,	/* no ESMTP: EHLO refused (the client uses HELO) */
};

/* How the server answered our STARTTLS (pre-220 failure (iii)). */
enum tls_starttls_fact {
	TLS_STARTTLS_NOT_SENT = 0,
	TLS_STARTTLS_220,	/* "220 Ready to start TLS": no way back to clear */
	TLS_STARTTLS_REFUSED,	/* any other reply */
};

/* The TLS handshake after the 220 (post-220 failure). */
enum tls_handshake_fact {
	TLS_HANDSHAKE_NOT_DONE = 0,
	TLS_HANDSHAKE_OK,
	TLS_HANDSHAKE_FAILED,	/* also: the TLS session broke later */
};

/* Certificate verification (chain and name, or the TLSA match for dane). */
enum tls_verify_fact {
	TLS_VERIFY_NOT_DONE = 0, /* under a verify mode this counts as failed */
	TLS_VERIFY_OK,
	TLS_VERIFY_FAILED,
};

/* What the TLSA lookup for the MX host found (dane only, RFC 7672 2.2). */
enum tls_dane_fact {
	TLS_DANE_NONE = 0,	/* no TLSA records, or none validated by DNSSEC */
	TLS_DANE_USABLE,	/* DNSSEC-validated TLSA records, some usable */
	TLS_DANE_UNUSABLE,	/* DNSSEC-validated TLSA records, none usable */
	TLS_DANE_LOOKUP_FAILED,	/* the lookup failed or was bogus */
};

struct tls_attempt {
	enum tls_ehlo_fact	 ehlo;
	enum tls_starttls_fact	 starttls;
	enum tls_handshake_fact	 handshake;
	enum tls_verify_fact	 verify;
	enum tls_dane_fact	 dane;
	const char		*detail; /* why, in the peer's or library's words; may be NULL */
};

enum tls_action {
	TLS_ACT_CLEAR,		/* go on in clear, TLS was never wanted (mode off) */
	TLS_ACT_STARTTLS,	/* send STARTTLS, handshake (and verify), then ask again */
	TLS_ACT_TLS,		/* deliver over the TLS session */
	TLS_ACT_FALLBACK_CLEAR,	/* TLS wanted but not to be had before 220: go on in clear */
	TLS_ACT_DEFER,		/* deliver nothing on this connection (see close) */
};

#define TLS_REASON_MAX	400

struct tls_decision {
	enum tls_action	 action;
	/* DEFER only.  1: the server said 220 to STARTTLS and the handshake
	 * failed; the connection can carry no more SMTP, in clear or
	 * otherwise: close it without QUIT.  0: QUIT, then close. */
	int		 close;
	/* A destination that requires TLS could not get it (or could not
	 * verify it): raise the TLS failure alert, spec 2.5 and 3.4. */
	int		 alert;
	/* TLS delivery under a verify mode whose verification failed
	 * (preferred-verify): log that the peer was not verified. */
	int		 unverified;
	/* DEFER: RFC 3463 status for the recipients ("4.7.4" TLS not
	 * available, "4.7.5" handshake or verification failed); else "". */
	const char	*status;
	char		 reason[TLS_REASON_MAX];	/* for the mail log */
};

/* What to do now, given the mode of the destination and the facts so far.
 * mode TLS_OUT_DEFAULT is taken as tls_policy_effective()'s built-in
 * default; callers should resolve it first. */
void		 tls_policy_decide(enum cfg_tls_out mode,
		    const struct tls_attempt *a, struct tls_decision *d);

/* The mode in force for a destination: its own, else the "default"
 * destination's, else TLS_OUT_PREFERRED (the spec leaves the built-in
 * default open; opportunistic TLS is what a mail administrator expects). */
enum cfg_tls_out tls_policy_effective(enum cfg_tls_out dest,
		    enum cfg_tls_out dflt);

/* 1 if the mode verifies the server certificate (with dane: only when
 * usable TLSA records were found). */
int		 tls_policy_verifies(enum cfg_tls_out mode, enum tls_dane_fact dane);

/* The configuration keyword of a mode ("required-verify"). */
const char	*tls_policy_mode_name(enum cfg_tls_out mode);
const char	*tls_policy_action_name(enum tls_action act);

#endif
