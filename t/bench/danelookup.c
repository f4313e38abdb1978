/*
 * danelookup - one DANE TLSA lookup (lib/dane.c) against a given
 * nameserver, for the integration tests (t/integration/lib_dane.t).
 *
 * SUMMARY
 *	danelookup --server IP:PORT --anchors FILE --host HOST [--port 25]
 *	    [--mx DOMAIN] [--timeout SECONDS]
 *
 * DESCRIPTION
 *	Reads the trust anchors (DS/DNSKEY zone-file text) from FILE, asks
 *	the nameserver (taken as a recursive resolver) for the TLSA records
 *	of _PORT._tcp.HOST, validates them and prints, one per line:
 *		status <secure|secure-none|insecure|bogus|tempfail>
 *		tlsa <usage> <selector> <mtype> <hex data>	(each record)
 *		skipped <n>					(when n > 0)
 *		error <text>					(when there is one)
 *	With --mx DOMAIN it first prints "mx <status> <0|1>" for the MX
 *	lookup of DOMAIN (RFC 7672 2.2.1).  Exits 0 after a lookup whatever
 *	its status, 2 on a usage or anchor error.
 *
 *	Not for: production use; there is no caching and no policy here.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dane.h"
#include "dns.h"

static void
usage(void)
{
	fprintf(stderr, "usage: danelookup --server IP:PORT --anchors FILE --host HOST "
	    "[--port 25] [--mx DOMAIN] [--timeout SECONDS]\n");
	exit(2);
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > DANE_ANCHORS_TEXT_MAX || fseek(f, 0, SEEK_SET) != 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	if ((buf = malloc((size_t)n + 1)) == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static ldns_resolver *
resolver(const char *server, unsigned timeout)
{
	char host[64];
	uint16_t port = 0;
	ldns_resolver *r;
	ldns_rdf *ns;
	struct timeval tv = { (time_t)timeout, 0 };

	if (dns_server_parse(server, host, sizeof host, &port) < 0)
		return NULL;
	ns = ldns_rdf_new_frm_str(strchr(host, ':') ? LDNS_RDF_TYPE_AAAA : LDNS_RDF_TYPE_A, host);
	if (ns == NULL || (r = ldns_resolver_new()) == NULL) {
		ldns_rdf_deep_free(ns);
		return NULL;
	}
	ldns_resolver_push_nameserver(r, ns);
	ldns_rdf_deep_free(ns);
	ldns_resolver_set_port(r, port ? port : 53);
	ldns_resolver_set_timeout(r, tv);
	ldns_resolver_set_retry(r, 1);
	ldns_resolver_set_recursive(r, true);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "anchors", required_argument, NULL, 'a' },
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "mx", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	const char *server = NULL, *anchors = NULL, *host = NULL, *mx = NULL;
	unsigned long port = 25, timeout = 2;
	struct dane_result *res;
	struct dane_anchors *ta;
	ldns_resolver *r;
	char err[DANE_ERR_MAX], *text;
	size_t len = 0, i, j;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's': server = optarg; break;
		case 'a': anchors = optarg; break;
		case 'h': host = optarg; break;
		case 'm': mx = optarg; break;
		case 'p': port = strtoul(optarg, NULL, 10); break;
		case 't': timeout = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (server == NULL || anchors == NULL || host == NULL || port == 0 || port > 65535 ||
	    timeout == 0 || timeout > 60)
		usage();
	if ((text = read_file(anchors, &len)) == NULL) {
		fprintf(stderr, "danelookup: cannot read %s\n", anchors);
		return 2;
	}
	ta = dane_anchors_load(text, len, err, sizeof err);
	free(text);
	if (ta == NULL) {
		fprintf(stderr, "danelookup: %s\n", err);
		return 2;
	}
	if ((r = resolver(server, (unsigned)timeout)) == NULL) {
		fprintf(stderr, "danelookup: bad --server %s\n", server);
		dane_anchors_free(ta);
		return 2;
	}
	if (mx != NULL) {
		int secure;
		enum dane_status st = dane_lookup_mx_secure(r, ta, mx, &secure, err, sizeof err);

		printf("mx %s %d\n", dane_status_str(st), secure);
		if (err[0])
			printf("mxerror %s\n", err);
	}
	if ((res = calloc(1, sizeof *res)) == NULL)
		return 2;
	dane_lookup(r, ta, host, (uint16_t)port, res);
	printf("status %s\n", dane_status_str(res->status));
	for (i = 0; i < res->ntlsa; i++) {
		printf("tlsa %u %u %u ", res->tlsa[i].usage, res->tlsa[i].selector,
		    res->tlsa[i].mtype);
		for (j = 0; j < res->tlsa[i].len; j++)
			printf("%02x", res->tlsa[i].data[j]);
		printf("\n");
	}
	if (res->skipped)
		printf("skipped %zu\n", res->skipped);
	if (res->error[0])
		printf("error %s\n", res->error);
	free(res);
	ldns_resolver_deep_free(r);
	dane_anchors_free(ta);
	return 0;
}
