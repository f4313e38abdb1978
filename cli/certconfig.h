/*
 * certconfig - `sallyctl certconfig`: the certificate objects and the CA
 * lists that the daemons use for TLS (spec tls-with-other-mtas.md 2.2,
 * 3.6, 3.7).
 *
 * A local command: it works on the files under <paths.state>/certs (and
 * the CA list files the config names), not through the control socket.
 * The daemons pick the changes up on `sallyctl commit`.
 *
 * Not for: assigning certificates to listeners or destinations, or
 * enabling a CA list (those are config keys: listeners[].certificate,
 * destinations.*.certificate, tls.outbound.certificate, tls.trust.*).
 */
#ifndef CLI_CERTCONFIG_H
#define CLI_CERTCONFIG_H

#include "config.h"

/* argv[0] is "certconfig".  json and yes as sallyctl's --json and --yes
 * (both are also accepted among the arguments).  Returns the exit status:
 * 0, or 1 with "sallyctl: certconfig: <what is wrong>" on stderr. */
int	certconfig_run(const struct config *cfg, int argc, char **argv, int json,
	    int yes);

#endif
