/*
 * lib_tls_policy - every row and column of the outbound fallback matrix
 * (spec/tls-with-other-mtas.md 3.2), one named test per cell, plus the
 * dane rows (RFC 7672) and default resolution.
 */
#include <stdlib.h>
#include <string.h>

#include "tls_policy.h"
#include "tap.h"

/* The situations of one attempt, as facts. */
enum situation {
	S_EHLO_STARTTLS,	/* after EHLO: STARTTLS offered */
	S_EHLO_REFUSED,		/* pre-220 (i) */
	S_NO_STARTTLS,		/* pre-220 (ii) */
	S_STARTTLS_REFUSED,	/* pre-220 (iii) */
	S_HANDSHAKE_FAILED,	/* post-220 */
	S_VERIFY_FAILED,	/* TLS up, verification failed */
	S_VERIFY_NOT_DONE,	/* TLS up, caller did not verify */
	S_OK,			/* TLS up, verified */
};

static const char *const sit_name[] = {
	"STARTTLS offered", "pre-220 (i) EHLO refused",
	"pre-220 (ii) STARTTLS not offered", "pre-220 (iii) STARTTLS refused",
	"post-220 handshake failed", "verify failure with TLS up",
	"verification not done with TLS up", "TLS up and verified",
};

static void
facts(enum situation s, enum tls_dane_fact dane, struct tls_attempt *a)
{
	memset(a, 0, sizeof *a);
	a->dane = dane;
	a->detail = "454 4.7.0 TLS not available\r\nX-Injected: yes";
	switch (s) {
	case S_EHLO_STARTTLS:
		break;
	case S_EHLO_REFUSED:
		a->ehlo = TLS_EHLO_REJECTED;
		break;
	case S_NO_STARTTLS:
		a->ehlo = TLS_EHLO_NO_STARTTLS;
		break;
	case S_STARTTLS_REFUSED:
		a->starttls = TLS_STARTTLS_REFUSED;
		break;
	case S_HANDSHAKE_FAILED:
		a->starttls = TLS_STARTTLS_220;
		a->handshake = TLS_HANDSHAKE_FAILED;
		a->detail = "sslv3 alert handshake failure";
		break;
	case S_VERIFY_FAILED:
		a->starttls = TLS_STARTTLS_220;
		a->handshake = TLS_HANDSHAKE_OK;
		a->verify = TLS_VERIFY_FAILED;
		a->detail = "unable to get local issuer certificate";
		break;
	case S_VERIFY_NOT_DONE:
		a->starttls = TLS_STARTTLS_220;
		a->handshake = TLS_HANDSHAKE_OK;
		break;
	case S_OK:
		a->starttls = TLS_STARTTLS_220;
		a->handshake = TLS_HANDSHAKE_OK;
		a->verify = TLS_VERIFY_OK;
		break;
	}
}

enum { A_CLEAR = TLS_ACT_CLEAR, A_STARTTLS = TLS_ACT_STARTTLS,
	A_TLS = TLS_ACT_TLS, A_FALLBACK = TLS_ACT_FALLBACK_CLEAR,
	A_DEFER = TLS_ACT_DEFER };

struct row {
	enum cfg_tls_out	mode;
	enum tls_dane_fact	dane;
	enum situation		sit;
	int			action;
	int			close;
	int			alert;
	int			unverified;
	const char		*status;
};

/* The matrix.  Each line names the spec cell it encodes. */
static const struct row rows[] = {
	/* Row "No": TLS never attempted. */
	{ TLS_OUT_OFF, 0, S_EHLO_STARTTLS,	A_CLEAR, 0, 0, 0, "" },
	{ TLS_OUT_OFF, 0, S_EHLO_REFUSED,	A_CLEAR, 0, 0, 0, "" },
	{ TLS_OUT_OFF, 0, S_NO_STARTTLS,	A_CLEAR, 0, 0, 0, "" },
	/* Row "Preferred". */
	{ TLS_OUT_PREFERRED, 0, S_EHLO_STARTTLS,	A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_EHLO_REFUSED,		A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_NO_STARTTLS,		A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_STARTTLS_REFUSED,	A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_HANDSHAKE_FAILED,	A_DEFER, 1, 0, 0, "4.7.5" },
	{ TLS_OUT_PREFERRED, 0, S_VERIFY_FAILED,	A_TLS, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_VERIFY_NOT_DONE,	A_TLS, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED, 0, S_OK,			A_TLS, 0, 0, 0, "" },
	/* Row "Required": no verification; everything else not delivered. */
	{ TLS_OUT_REQUIRED, 0, S_EHLO_STARTTLS,		A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_REQUIRED, 0, S_EHLO_REFUSED,		A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED, 0, S_NO_STARTTLS,		A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED, 0, S_STARTTLS_REFUSED,	A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED, 0, S_HANDSHAKE_FAILED,	A_DEFER, 1, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED, 0, S_VERIFY_FAILED,		A_TLS, 0, 0, 0, "" },
	{ TLS_OUT_REQUIRED, 0, S_OK,			A_TLS, 0, 0, 0, "" },
	/* Row "Preferred (Verify)": advisory verification. */
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_EHLO_STARTTLS,	   A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_EHLO_REFUSED,	   A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_NO_STARTTLS,	   A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_STARTTLS_REFUSED, A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_HANDSHAKE_FAILED, A_DEFER, 1, 0, 0, "4.7.5" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_VERIFY_FAILED,	   A_TLS, 0, 0, 1, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_VERIFY_NOT_DONE,  A_TLS, 0, 0, 1, "" },
	{ TLS_OUT_PREFERRED_VERIFY, 0, S_OK,		   A_TLS, 0, 0, 0, "" },
	/* Row "Required (Verify)". */
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_EHLO_STARTTLS,	  A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_EHLO_REFUSED,	  A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_NO_STARTTLS,	  A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_STARTTLS_REFUSED, A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_HANDSHAKE_FAILED, A_DEFER, 1, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_VERIFY_FAILED,	  A_DEFER, 0, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_VERIFY_NOT_DONE,  A_DEFER, 0, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED_VERIFY, 0, S_OK,		  A_TLS, 0, 0, 0, "" },
	/* Row "Required - Verify Hosted Domains". */
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_EHLO_STARTTLS,	 A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_EHLO_REFUSED,	 A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_NO_STARTTLS,	 A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_STARTTLS_REFUSED, A_DEFER, 0, 1, 0, "4.7.4" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_HANDSHAKE_FAILED, A_DEFER, 1, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_VERIFY_FAILED,	 A_DEFER, 0, 1, 0, "4.7.5" },
	{ TLS_OUT_REQUIRED_VERIFY_HOSTED, 0, S_OK,		 A_TLS, 0, 0, 0, "" },
	/* dane without DNSSEC-validated TLSA: opportunistic, as Preferred. */
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_EHLO_STARTTLS,	   A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_EHLO_REFUSED,	   A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_NO_STARTTLS,	   A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_STARTTLS_REFUSED, A_FALLBACK, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_HANDSHAKE_FAILED, A_DEFER, 1, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_VERIFY_FAILED,	   A_TLS, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_NONE, S_OK,		   A_TLS, 0, 0, 0, "" },
	/* dane with usable validated TLSA: mandatory, authenticated. */
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_EHLO_STARTTLS,    A_STARTTLS, 0, 0, 0, "" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_EHLO_REFUSED,     A_DEFER, 0, 0, 0, "4.7.4" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_NO_STARTTLS,	     A_DEFER, 0, 0, 0, "4.7.4" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_STARTTLS_REFUSED, A_DEFER, 0, 0, 0, "4.7.4" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_HANDSHAKE_FAILED, A_DEFER, 1, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_VERIFY_FAILED,    A_DEFER, 0, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_USABLE, S_OK,		     A_TLS, 0, 0, 0, "" },
	/* dane with only unusable validated TLSA: mandatory, unauthenticated. */
	{ TLS_OUT_DANE, TLS_DANE_UNUSABLE, S_NO_STARTTLS,      A_DEFER, 0, 0, 0, "4.7.4" },
	{ TLS_OUT_DANE, TLS_DANE_UNUSABLE, S_HANDSHAKE_FAILED, A_DEFER, 1, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_UNUSABLE, S_VERIFY_FAILED,    A_TLS, 0, 0, 0, "" },
	/* dane whose TLSA lookup failed: the host is not used at all. */
	{ TLS_OUT_DANE, TLS_DANE_LOOKUP_FAILED, S_EHLO_STARTTLS, A_DEFER, 0, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_LOOKUP_FAILED, S_NO_STARTTLS,	 A_DEFER, 0, 0, 0, "4.7.5" },
	{ TLS_OUT_DANE, TLS_DANE_LOOKUP_FAILED, S_OK,		 A_DEFER, 0, 0, 0, "4.7.5" },
};

static const char *const dane_name[] = {
	"", " (no validated TLSA)", " (usable TLSA)", " (unusable TLSA)",
	" (TLSA lookup failed)",
};

int
main(void)
{
	struct tls_attempt a;
	struct tls_decision d, d2;
	size_t i;

	for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		const char *mode = tls_policy_mode_name(r->mode);
		const char *sit = sit_name[r->sit];
		const char *dn = dane_name[r->dane];
		int good;

		facts(r->sit, r->dane, &a);
		tls_policy_decide(r->mode, &a, &d);
		good = (int)d.action == r->action && d.close == r->close &&
		    d.alert == r->alert && d.unverified == r->unverified &&
		    d.status != NULL && strcmp(d.status, r->status) == 0;
		ok(good, "%s%s, %s -> %s%s%s%s", mode, dn, sit,
		    tls_policy_action_name((enum tls_action)r->action),
		    r->close ? " (close without QUIT)" : "",
		    r->alert ? " + alert" : "",
		    r->unverified ? " (logged unverified)" : "");
		if (!good)
			printf("#   got %s close=%d alert=%d unverified=%d "
			    "status='%s' reason='%s'\n",
			    tls_policy_action_name(d.action), d.close, d.alert,
			    d.unverified, d.status ? d.status : "(null)",
			    d.reason);
		/* Asking again with the same facts gives the same answer. */
		tls_policy_decide(r->mode, &a, &d2);
		if (d2.action != d.action || strcmp(d2.reason, d.reason) != 0)
			ok(0, "%s, %s: decision is stable", mode, sit);
		/* A reason is always given and never carries a line break. */
		if (d.reason[0] == '\0' || strpbrk(d.reason, "\r\n") != NULL)
			ok(0, "%s, %s: reason one clean line: '%s'", mode, sit,
			    d.reason);
	}

	/* Never clear after 220: no mode falls back once the server said 220. */
	{
		static const enum cfg_tls_out all[] = { TLS_OUT_PREFERRED,
		    TLS_OUT_REQUIRED, TLS_OUT_PREFERRED_VERIFY,
		    TLS_OUT_REQUIRED_VERIFY, TLS_OUT_REQUIRED_VERIFY_HOSTED,
		    TLS_OUT_DANE, TLS_OUT_DEFAULT };
		int bad = 0;

		for (i = 0; i < sizeof all / sizeof all[0]; i++) {
			facts(S_HANDSHAKE_FAILED, TLS_DANE_NONE, &a);
			tls_policy_decide(all[i], &a, &d);
			if (d.action != TLS_ACT_DEFER || !d.close)
				bad++;
		}
		is(bad, 0, "post-220 failure: every TLS mode drops the connection, none goes on in clear");
	}

	/* Reasons say what happened, with the peer's words on one line. */
	facts(S_STARTTLS_REFUSED, 0, &a);
	tls_policy_decide(TLS_OUT_REQUIRED, &a, &d);
	ok(strstr(d.reason, "STARTTLS refused") != NULL &&
	    strstr(d.reason, "454 4.7.0 TLS not available??X-Injected") != NULL,
	    "required: refusal reason carries the reply, control chars replaced: %s",
	    d.reason);
	facts(S_NO_STARTTLS, 0, &a);
	tls_policy_decide(TLS_OUT_REQUIRED, &a, &d);
	ok(strstr(d.reason, "STARTTLS not offered") != NULL &&
	    strstr(d.reason, "required") != NULL,
	    "required: reason names mode and missing STARTTLS: %s", d.reason);
	facts(S_VERIFY_FAILED, 0, &a);
	tls_policy_decide(TLS_OUT_REQUIRED_VERIFY, &a, &d);
	ok(strstr(d.reason, "unable to get local issuer certificate") != NULL,
	    "required-verify: reason carries the verification error: %s", d.reason);
	{
		char longd[1000];

		memset(longd, 'x', sizeof longd - 1);
		longd[sizeof longd - 1] = '\0';
		facts(S_HANDSHAKE_FAILED, 0, &a);
		a.detail = longd;
		tls_policy_decide(TLS_OUT_REQUIRED, &a, &d);
		ok(strlen(d.reason) < TLS_REASON_MAX &&
		    strncmp(d.reason, "tls required: TLS handshake failed", 34) == 0,
		    "a long detail is cut to the reason buffer");
		a.detail = NULL;
		tls_policy_decide(TLS_OUT_REQUIRED, &a, &d);
		ok(strstr(d.reason, "()") == NULL && d.reason[0] != '\0',
		    "no detail: no empty parentheses: %s", d.reason);
	}

	/* Default resolution. */
	is(tls_policy_effective(TLS_OUT_REQUIRED, TLS_OUT_OFF), TLS_OUT_REQUIRED,
	    "a destination's own mode wins over the default entry");
	is(tls_policy_effective(TLS_OUT_DEFAULT, TLS_OUT_REQUIRED_VERIFY),
	    TLS_OUT_REQUIRED_VERIFY, "mode default takes the default entry's mode");
	is(tls_policy_effective(TLS_OUT_DEFAULT, TLS_OUT_DEFAULT),
	    TLS_OUT_PREFERRED, "no mode anywhere: preferred");
	facts(S_NO_STARTTLS, 0, &a);
	tls_policy_decide(TLS_OUT_DEFAULT, &a, &d);
	is(d.action, TLS_ACT_FALLBACK_CLEAR, "unresolved default decides as preferred");

	/* Which modes verify. */
	ok(!tls_policy_verifies(TLS_OUT_OFF, 0) &&
	    !tls_policy_verifies(TLS_OUT_PREFERRED, 0) &&
	    !tls_policy_verifies(TLS_OUT_REQUIRED, 0),
	    "off, preferred, required do not verify");
	ok(tls_policy_verifies(TLS_OUT_PREFERRED_VERIFY, 0) &&
	    tls_policy_verifies(TLS_OUT_REQUIRED_VERIFY, 0) &&
	    tls_policy_verifies(TLS_OUT_REQUIRED_VERIFY_HOSTED, 0),
	    "the verify modes verify");
	ok(tls_policy_verifies(TLS_OUT_DANE, TLS_DANE_USABLE) &&
	    !tls_policy_verifies(TLS_OUT_DANE, TLS_DANE_NONE) &&
	    !tls_policy_verifies(TLS_OUT_DANE, TLS_DANE_UNUSABLE),
	    "dane verifies only with usable TLSA records");
	is_str(tls_policy_mode_name(TLS_OUT_REQUIRED_VERIFY_HOSTED),
	    "required-verify-hosted", "mode names match the config keywords");

	return done_testing();
}
