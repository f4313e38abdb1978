/*
 * lib_config - the configuration schema: the DESIGN.md example lands in the
 * struct, defaults, every validation error with its file:line, refusal of
 * aliases and deep nesting, conf.d merging, sizes and durations, lookups,
 * the built-in default and the shipped sample (etc/sallyport.yaml, so run
 * from the top of the tree).
 */
#include <sys/stat.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config.h"
#include "xalloc.h"
#include "tap.h"

#define MIB	(1024ULL * 1024)

static const char design_example[] =
    "hostname: mx1.example.com\n"						/* 1 */
    "paths: { spool: /tmp/sp/spool, state: /tmp/sp/state, run: /tmp/sp/run, log: /tmp/sp/log }\n"
    "listeners:\n"
    "  - name: InboundMail\n"							/* 4 */
    "    type: public            # public | private | sinkhole\n"
    "    address: 0.0.0.0\n"
    "    port: 25\n"
    "    sinkhole_queue: false   # sinkhole only: queue-then-drop when true\n"
    "    hat:                    # first matching sender group wins\n"
    "      - { group: BLOCKED, match: [\"10.9.0.0/16\", \".spam.example\"], policy: BLOCKED }\n" /* 10 */
    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"		/* 11 */
    "    rat:                    # public listeners: recipients accepted\n"
    "      - { match: example.com, action: accept }\n"			/* 13 */
    "      - { match: ALL, action: reject }\n"				/* 14 */
    "policies:                   # mail flow policies\n"
    "  ACCEPTED: { action: accept, max_message_size: 10M, max_rcpts_per_msg: 1000, tls: preferred }\n"
    "  RELAYED:  { action: relay }\n"						/* 17 */
    "  BLOCKED:  { action: reject }\n"
    "smtp_routes:                # domain -> hosts, \"ALL\" = default; absent = MX\n"
    "  example.com: [\"10.0.0.5:25\"]\n"					/* 20 */
    "destinations:               # destination controls; \"default\" for the rest\n"
    "  default: { max_conns: 500, tls: preferred }\n"
    "bounce_profiles:\n"
    "  default: { initial_retry: 60s, max_retry: 1h, max_queue_time: 72h, max_attempts: 100 }\n";

/* Parses one source named t.yaml; NULL and err on refusal. */
static struct config *
parse1(const char *yaml, char *err, size_t errlen)
{
	struct config_source s;
	struct config *cfg = NULL;

	s.path = (char *)"t.yaml";
	s.text = (char *)yaml;
	s.len = strlen(yaml);
	if (config_parse_sources(&s, 1, &cfg, err, errlen) < 0)
		return NULL;
	return cfg;
}

/* One test: yaml is refused with exactly this error. */
static void
refused(const char *yaml, const char *want, const char *name)
{
	char err[512];
	struct config *cfg;

	memset(err, 0, sizeof err);
	cfg = parse1(yaml, err, sizeof err);
	is_str(cfg == NULL ? err : "(accepted)", want, "refused: %s", name);
	config_free(cfg);
}

/* One test: yaml is accepted. */
static struct config *
accepted(const char *yaml, const char *name)
{
	char err[512] = "";
	struct config *cfg = parse1(yaml, err, sizeof err);

	ok(cfg != NULL, "accepted: %s", name);
	if (cfg == NULL)
		printf("#   error: %s\n", err);
	return cfg;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		printf("Bail out! cannot write %s\n", path);
		exit(1);
	}
}

static void
test_design_example(void)
{
	struct config *cfg;
	const struct cfg_listener *l;
	const struct cfg_policy *acc, *rel, *blk;
	const struct cfg_route *rt;
	const struct cfg_destination *d;
	const struct cfg_bounce_profile *bp;

	cfg = accepted(design_example, "DESIGN.md section 5 example");
	if (cfg == NULL)
		return;
	is_str(cfg->hostname, "mx1.example.com", "hostname");
	is_str(cfg->paths.spool, "/tmp/sp/spool", "paths.spool");
	is_str(cfg->paths.state, "/tmp/sp/state", "paths.state");
	is_str(cfg->paths.run, "/tmp/sp/run", "paths.run");
	is_str(cfg->paths.log, "/tmp/sp/log", "paths.log");

	is(cfg->nlisteners, 1, "one listener");
	l = &cfg->listeners[0];
	is_str(l->name, "InboundMail", "listener name");
	is(l->type, LISTENER_PUBLIC, "listener type public");
	is_str(l->address, "0.0.0.0", "listener address");
	is(l->port, 25, "listener port");
	is(l->sinkhole_queue, 0, "sinkhole_queue false");
	is(l->line, 4, "listener line");
	ok(config_listener(cfg, "InboundMail") == l, "config_listener finds it");
	ok(config_listener(cfg, "inboundmail") == NULL,
	    "listener names are case-sensitive");

	is(l->nhat, 2, "two hat entries");
	is_str(l->hat[0].group, "BLOCKED", "hat[0] group");
	is(l->hat[0].nmatch, 2, "hat[0] two matches");
	is_str(l->hat[0].match[0], "10.9.0.0/16", "hat[0] match[0]");
	is_str(l->hat[0].match[1], ".spam.example", "hat[0] match[1]");
	is_str(l->hat[0].policy_name, "BLOCKED", "hat[0] policy name");
	is(l->hat[0].line, 10, "hat[0] line");
	is_str(l->hat[1].group, "ALL", "hat[1] group");
	is(l->hat[1].nmatch, 1, "hat[1] one match");
	is_str(l->hat[1].match[0], "ALL", "hat[1] match ALL");
	is(l->hat[1].line, 11, "hat[1] line");

	is(l->nrat, 2, "two rat entries");
	is_str(l->rat[0].match, "example.com", "rat[0] match");
	is(l->rat[0].action, ACTION_ACCEPT, "rat[0] accept");
	is(l->rat[0].line, 13, "rat[0] line");
	is_str(l->rat[1].match, "ALL", "rat[1] match");
	is(l->rat[1].action, ACTION_REJECT, "rat[1] reject");

	is(cfg->npolicies, 3, "three policies");
	acc = config_policy(cfg, "ACCEPTED");
	rel = config_policy(cfg, "RELAYED");
	blk = config_policy(cfg, "BLOCKED");
	ok(acc && rel && blk, "all policies found");
	if (acc && rel && blk) {
		ok(l->hat[0].policy == blk, "hat[0] points at BLOCKED");
		ok(l->hat[1].policy == acc, "hat[1] points at ACCEPTED");
		is(acc->action, ACTION_ACCEPT, "ACCEPTED action");
		ok(acc->max_message_size == 10 * MIB, "ACCEPTED 10M");
		is(acc->max_rcpts_per_msg, 1000, "ACCEPTED rcpts");
		is(acc->tls, TLS_IN_PREFERRED, "ACCEPTED tls preferred");
		is(acc->set, POL_ACTION | POL_MAX_MESSAGE_SIZE |
		    POL_MAX_RCPTS_PER_MSG | POL_TLS, "ACCEPTED set bits");
		is(acc->line, 16, "ACCEPTED line");
		is(rel->action, ACTION_RELAY, "RELAYED relay");
		is(rel->set, POL_ACTION, "RELAYED sets only action");
		ok(rel->max_message_size == 10 * MIB, "RELAYED default size");
		is(rel->max_rcpts_per_msg, 1000, "RELAYED default rcpts");
		is(rel->tls, TLS_IN_OFF, "RELAYED default tls off");
		is(rel->line, 17, "RELAYED line");
		is(blk->action, ACTION_REJECT, "BLOCKED reject");
	}
	ok(config_policy(cfg, "accepted") == NULL, "policy names case-sensitive");

	is(cfg->nroutes, 1, "one route");
	rt = config_route(cfg, "example.com");
	ok(rt != NULL && rt->nhosts == 1, "route example.com");
	if (rt != NULL && rt->nhosts == 1) {
		is_str(rt->hosts[0].host, "10.0.0.5", "route host");
		is(rt->hosts[0].port, 25, "route port");
	}

	is(cfg->ndestinations, 1, "only the given default destination");
	d = config_destination(cfg, "anything.example");
	ok(d != NULL, "default destination");
	if (d != NULL) {
		is_str(d->domain, "default", "default destination name");
		is(d->max_conns, 500, "max_conns");
		is(d->tls, TLS_OUT_PREFERRED, "destination tls preferred");
		is_str(d->bounce_profile, "default", "destination bounce profile");
	}
	is(cfg->nbounce_profiles, 1, "only the given bounce profile");
	bp = config_bounce_profile(cfg, "default");
	ok(bp != NULL, "default bounce profile");
	if (bp != NULL) {
		is(bp->initial_retry, 60, "initial_retry 60s");
		is(bp->max_retry, 3600, "max_retry 1h");
		is(bp->max_queue_time, 72 * 3600, "max_queue_time 72h");
		is(bp->max_attempts, 100, "max_attempts");
	}
	config_free(cfg);

	/* The example exactly as DESIGN.md prints it, "..." paths and all. */
	cfg = accepted(
	    "hostname: mx1.example.com\n"
	    "paths: { spool: ..., state: ..., run: ..., log: ... }\n"
	    "listeners:\n"
	    "  - name: InboundMail\n"
	    "    type: public\n"
	    "    address: 0.0.0.0\n"
	    "    port: 25\n"
	    "    sinkhole_queue: false\n"
	    "    hat:\n"
	    "      - { group: ALL, match: [ALL], policy: ACCEPTED }\n"
	    "policies:\n"
	    "  ACCEPTED: { action: accept }\n", "example with literal ... paths");
	if (cfg != NULL)
		is_str(cfg->paths.spool, "...", "literal path kept");
	config_free(cfg);
}

static void
test_defaults(void)
{
	struct config *cfg;
	const struct cfg_destination *d;
	const struct cfg_bounce_profile *bp;
	char host[256];

	cfg = accepted("", "empty config");
	if (cfg == NULL)
		return;
	memset(host, 0, sizeof host);
	if (gethostname(host, sizeof host - 1) < 0 || host[0] == '\0')
		snprintf(host, sizeof host, "localhost");
	is_str(cfg->hostname, host, "hostname defaults to gethostname()");
	is_str(cfg->paths.spool, "/var/spool/sallyport", "default spool");
	is_str(cfg->paths.state, "/var/lib/sallyport", "default state");
	is_str(cfg->paths.run, "/run/sallyport", "default run");
	is_str(cfg->paths.log, "/var/log/sallyport", "default log");
	is_str(cfg->users.net, "sallyport-net", "default net user");
	is_str(cfg->users.queue, "sallyport-queue", "default queue user");
	is(cfg->processes.smtpd, 0, "default smtpd processes");
	is(cfg->processes.deliver, 1, "default deliver processes");
	is(cfg->drain_delay, 30, "default drain_delay");
	is(cfg->smtpd.idle_timeout, 300, "default idle_timeout");
	is(cfg->smtpd.session_timeout, 1800, "default session_timeout");
	is(cfg->smtpd.max_errors, 20, "default max_errors");
	is(cfg->smtpd.max_connections, 5000, "default max_connections");
	is(cfg->deliver.connect_timeout, 30, "default connect_timeout");
	is(cfg->deliver.command_timeout, 300, "default command_timeout");
	is(cfg->deliver.idle_reuse, 10, "default idle_reuse");
	is(cfg->deliver.dns_timeout, 20, "default dns_timeout");
	ok(cfg->queue.map_size == 1024 * MIB, "default map_size 1G");
	ok(cfg->queue.body_file_threshold == 256 * 1024,
	    "default body_file_threshold 256k");
	is(cfg->nlisteners, 0, "no listeners");
	is(cfg->npolicies, 0, "no policies");
	is(cfg->nroutes, 0, "no routes");
	ok(config_route(cfg, "example.com") == NULL, "no route: MX");
	is(cfg->ndestinations, 1, "default destination created");
	d = config_destination(cfg, "example.com");
	ok(d != NULL && strcmp(d->domain, "default") == 0 &&
	    d->max_conns == 500 && d->tls == TLS_OUT_DEFAULT &&
	    strcmp(d->bounce_profile, "default") == 0,
	    "created default destination has the defaults");
	is(cfg->nbounce_profiles, 1, "default bounce profile created");
	bp = config_bounce_profile(cfg, NULL);
	ok(bp != NULL && strcmp(bp->name, "default") == 0 &&
	    bp->initial_retry == 60 && bp->max_retry == 3600 &&
	    bp->max_queue_time == 259200 && bp->max_attempts == 100,
	    "created default bounce profile has the defaults");
	config_free(cfg);

	/* No sources at all is the same as one empty source. */
	cfg = NULL;
	ok(config_parse_sources(NULL, 0, &cfg, NULL, 0) == 0 && cfg != NULL &&
	    cfg->ndestinations == 1 && cfg->nbounce_profiles == 1,
	    "zero sources: defaults");
	config_free(cfg);

	cfg = accepted("# only a comment\n", "comment-only file");
	config_free(cfg);
	cfg = accepted("~\n", "null document");
	config_free(cfg);
	cfg = accepted("paths:\nlisteners:\npolicies:\n", "empty sections");
	if (cfg != NULL)
		is_str(cfg->paths.spool, "/var/spool/sallyport",
		    "empty section keeps defaults");
	config_free(cfg);

	/* Policy defaults, listener defaults. */
	cfg = accepted("policies: { P: }\n"
	    "listeners:\n"
	    "  - { name: L, port: 2525, hat: [{ group: G, match: ALL, policy: P }] }\n",
	    "policy and listener with only required keys");
	if (cfg != NULL) {
		const struct cfg_policy *p = config_policy(cfg, "P");

		ok(p != NULL && p->set == 0 && p->action == ACTION_ACCEPT &&
		    p->max_message_size == 10 * MIB &&
		    p->max_rcpts_per_msg == 1000 && p->tls == TLS_IN_OFF,
		    "empty policy takes every default");
		is(cfg->listeners[0].type, LISTENER_PUBLIC,
		    "listener type defaults to public");
		is_str(cfg->listeners[0].address, "0.0.0.0",
		    "listener address defaults to 0.0.0.0");
		is(cfg->listeners[0].nrat, 0, "no rat");
		is(cfg->listeners[0].hat[0].nmatch, 1, "single-string match");
	}
	config_free(cfg);
}

static void
test_all_keys(void)
{
	struct config *cfg;
	const struct cfg_destination *d;
	const struct cfg_bounce_profile *bp;
	const struct cfg_route *rt;

	cfg = accepted(
	    "hostname: gw.example.org\n"
	    "users: { net: mynet, queue: myqueue }\n"
	    "processes: { smtpd: 4, deliver: 2 }\n"
	    "drain_delay: 2m\n"
	    "smtpd: { idle_timeout: 1m, session_timeout: 1h, max_errors: 5, max_connections: 100 }\n"
	    "deliver: { connect_timeout: 10s, command_timeout: 2m, idle_reuse: 0, dns_timeout: 5 }\n"
	    "queue: { map_size: 2G, body_file_threshold: 1M }\n"
	    "listeners:\n"
	    "  - { name: Sink, type: sinkhole, address: \"::1\", port: 2600, sinkhole_queue: true }\n"
	    "  - { name: Priv, type: PRIVATE, address: 127.0.0.1, port: 65535,\n"
	    "      hat: [{ group: RELAY_LIST-1, match: [\"127.0.0.1\", \"::1/128\"], policy: R }],\n"
	    "      rat: [{ match: [a.example, .b.example, user@c.example], action: accept }] }\n"
	    "policies:\n"
	    "  R: { action: relay, max_message_size: 0, max_rcpts_per_msg: 1, tls: required }\n"
	    "  T: { action: tcprefuse, tls: off }\n"
	    "smtp_routes:\n"
	    "  ALL: smart.example.net:587\n"
	    "  v6.example: [\"[2001:db8::1]:2525\", \"[::1]\", \"2001:db8::2\", mx.v6.example]\n"
	    "destinations:\n"
	    "  a.example: { tls: required-verify-hosted, bounce_profile: fast }\n"
	    "  b.example: { tls: dane, max_conns: 1 }\n"
	    "  c.example: { tls: preferred-verify }\n"
	    "  d.example: { tls: required-verify }\n"
	    "  e.example: { tls: off }\n"
	    "  f.example: { tls: required }\n"
	    "bounce_profiles:\n"
	    "  fast: { initial_retry: 1, max_retry: 90m, max_queue_time: 3d, max_attempts: 5 }\n",
	    "every key with non-default values");
	if (cfg == NULL)
		return;
	is_str(cfg->hostname, "gw.example.org", "hostname");
	is_str(cfg->users.net, "mynet", "users.net");
	is_str(cfg->users.queue, "myqueue", "users.queue");
	is(cfg->processes.smtpd, 4, "processes.smtpd");
	is(cfg->processes.deliver, 2, "processes.deliver");
	is(cfg->drain_delay, 120, "drain_delay 2m");
	is(cfg->smtpd.idle_timeout, 60, "smtpd.idle_timeout");
	is(cfg->smtpd.session_timeout, 3600, "smtpd.session_timeout");
	is(cfg->smtpd.max_errors, 5, "smtpd.max_errors");
	is(cfg->smtpd.max_connections, 100, "smtpd.max_connections");
	is(cfg->deliver.connect_timeout, 10, "deliver.connect_timeout");
	is(cfg->deliver.command_timeout, 120, "deliver.command_timeout");
	is(cfg->deliver.idle_reuse, 0, "deliver.idle_reuse 0");
	is(cfg->deliver.dns_timeout, 5, "deliver.dns_timeout bare number");
	ok(cfg->queue.map_size == 2048 * MIB, "queue.map_size 2G");
	ok(cfg->queue.body_file_threshold == MIB, "queue.body_file_threshold");

	is(cfg->nlisteners, 2, "two listeners");
	is(cfg->listeners[0].type, LISTENER_SINKHOLE, "sinkhole type");
	is(cfg->listeners[0].sinkhole_queue, 1, "sinkhole_queue true");
	is_str(cfg->listeners[0].address, "::1", "IPv6 listener address");
	is(cfg->listeners[1].type, LISTENER_PRIVATE, "type is case-insensitive");
	is(cfg->listeners[1].port, 65535, "port 65535");
	is_str(cfg->listeners[1].hat[0].group, "RELAY_LIST-1",
	    "group name with _ and -");
	is(cfg->listeners[1].nrat, 3, "rat match list expands to entries");
	is_str(cfg->listeners[1].rat[1].match, ".b.example", "expanded rat[1]");
	is_str(cfg->listeners[1].rat[2].match, "user@c.example",
	    "expanded rat[2]");
	is(cfg->listeners[1].rat[2].action, ACTION_ACCEPT,
	    "expanded entries share the action");
	is(config_policy(cfg, "R")->tls, TLS_IN_REQUIRED, "policy tls required");
	ok(config_policy(cfg, "R")->max_message_size == 0, "size 0");
	is(config_policy(cfg, "T")->action, ACTION_TCPREFUSE, "tcprefuse");

	rt = config_route(cfg, "v6.example");
	ok(rt != NULL && rt->nhosts == 4, "v6 route with four hosts");
	if (rt != NULL && rt->nhosts == 4) {
		is_str(rt->hosts[0].host, "2001:db8::1", "[v6]:port host");
		is(rt->hosts[0].port, 2525, "[v6]:port port");
		is_str(rt->hosts[1].host, "::1", "[v6] host");
		is(rt->hosts[1].port, 25, "[v6] default port");
		is_str(rt->hosts[2].host, "2001:db8::2", "bare v6 host");
		is(rt->hosts[2].port, 25, "bare v6 default port");
		is_str(rt->hosts[3].host, "mx.v6.example", "name host");
	}
	rt = config_route(cfg, "elsewhere.example");
	ok(rt != NULL && strcmp(rt->domain, "ALL") == 0 && rt->nhosts == 1 &&
	    strcmp(rt->hosts[0].host, "smart.example.net") == 0 &&
	    rt->hosts[0].port == 587, "ALL route, single string value");

	is(cfg->ndestinations, 7, "six destinations plus created default");
	is(config_destination(cfg, "a.example")->tls,
	    TLS_OUT_REQUIRED_VERIFY_HOSTED, "tls required-verify-hosted");
	is(config_destination(cfg, "b.example")->tls, TLS_OUT_DANE, "tls dane");
	is(config_destination(cfg, "b.example")->max_conns, 1, "max_conns 1");
	is(config_destination(cfg, "c.example")->tls, TLS_OUT_PREFERRED_VERIFY,
	    "tls preferred-verify");
	is(config_destination(cfg, "d.example")->tls, TLS_OUT_REQUIRED_VERIFY,
	    "tls required-verify");
	is(config_destination(cfg, "e.example")->tls, TLS_OUT_OFF, "tls off");
	is(config_destination(cfg, "f.example")->tls, TLS_OUT_REQUIRED,
	    "tls required");
	d = config_destination(cfg, "a.example");
	is_str(d->bounce_profile, "fast", "destination bounce_profile");
	bp = config_bounce_profile(cfg, d->bounce_profile);
	ok(bp != NULL && strcmp(bp->name, "fast") == 0 && bp->initial_retry == 1 &&
	    bp->max_retry == 5400 && bp->max_queue_time == 3 * 86400 &&
	    bp->max_attempts == 5, "bounce profile fast");
	is(cfg->nbounce_profiles, 2, "fast plus created default");
	config_free(cfg);
}

static void
test_errors(void)
{
	/* Unknown keys, at every level. */
	refused("hostname: a\nfoo: 1\n",
	    "t.yaml:2: unknown key 'foo' in the top level", "unknown top key");
	refused("paths:\n  spool: /a\n  spoool: /b\n",
	    "t.yaml:3: unknown key 'spoool' in paths", "unknown key in paths");
	refused("users: { nett: x }\n",
	    "t.yaml:1: unknown key 'nett' in users", "unknown key in users");
	refused("processes: { scanner: 1 }\n",
	    "t.yaml:1: unknown key 'scanner' in processes",
	    "unknown key in processes");
	refused("smtpd: { idle: 1 }\n",
	    "t.yaml:1: unknown key 'idle' in smtpd", "unknown key in smtpd");
	refused("deliver: { retries: 1 }\n",
	    "t.yaml:1: unknown key 'retries' in deliver",
	    "unknown key in deliver");
	refused("queue: { size: 1 }\n",
	    "t.yaml:1: unknown key 'size' in queue", "unknown key in queue");
	refused("listeners:\n  - name: L\n    port: 25\n    prot: 26\n",
	    "t.yaml:4: unknown key 'prot' in listener",
	    "unknown key in listener");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: ALL, policy: P, why: x }\n",
	    "t.yaml:5: unknown key 'why' in hat entry",
	    "unknown key in hat entry");
	refused("listeners:\n  - name: L\n    port: 25\n    rat:\n"
	    "      - { match: ALL, action: reject, log: yes }\n",
	    "t.yaml:5: unknown key 'log' in rat entry",
	    "unknown key in rat entry");
	refused("policies:\n  P: { action: accept, max_msg_size: 1 }\n",
	    "t.yaml:2: unknown key 'max_msg_size' in policy",
	    "unknown key in policy");
	refused("destinations:\n  default: { conns: 1 }\n",
	    "t.yaml:2: unknown key 'conns' in destination",
	    "unknown key in destination");
	refused("bounce_profiles:\n  default: { retry: 1 }\n",
	    "t.yaml:2: unknown key 'retry' in bounce profile",
	    "unknown key in bounce profile");
	refused("Hostname: a\n",
	    "t.yaml:1: unknown key 'Hostname' in the top level",
	    "keys are case-sensitive");

	/* Duplicates. */
	refused("hostname: a\nhostname: b\n",
	    "t.yaml:2: duplicate key 'hostname' in the top level",
	    "duplicate top key");
	refused("policies:\n  P: {}\n  P: {}\n",
	    "t.yaml:3: duplicate policy 'P' (also at line 2)",
	    "duplicate policy");
	refused("smtp_routes:\n  a.example: x\n  A.Example: y\n",
	    "t.yaml:3: duplicate route 'A.Example' (also at line 2)",
	    "duplicate route, case-insensitive");
	refused("destinations:\n  a.example: {}\n  a.example: {}\n",
	    "t.yaml:3: duplicate destination 'a.example' (also at line 2)",
	    "duplicate destination");
	refused("bounce_profiles:\n  b: {}\n  b: {}\n",
	    "t.yaml:3: duplicate bounce profile 'b' (also at line 2)",
	    "duplicate bounce profile");
	refused("listeners:\n  - { name: L, port: 25 }\n  - { name: L, port: 26 }\n",
	    "t.yaml:3: duplicate listener 'L' (also at line 2)",
	    "duplicate listener name");
	refused("listeners:\n  - { name: A, address: 127.0.0.1, port: 25 }\n"
	    "  - { name: B, address: 127.0.0.1, port: 25 }\n",
	    "t.yaml:3: listener 'B': 127.0.0.1 port 25 is already used by "
	    "listener 'A'", "two listeners on one address and port");

	/* Names. */
	refused("listeners:\n  - { name: 1L, port: 25 }\n",
	    "t.yaml:2: invalid listener name '1L' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "listener name starting with a digit");
	refused("listeners:\n  - { name: \"a b\", port: 25 }\n",
	    "t.yaml:2: invalid listener name 'a b' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "listener name with a blank");
	refused("policies:\n  my.policy: {}\n",
	    "t.yaml:2: invalid policy name 'my.policy' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "policy name with a dot");
	refused("policies:\n  -P: {}\n",
	    "t.yaml:2: invalid policy name '-P' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "policy name starting with -");
	refused("bounce_profiles:\n  \"b/c\": {}\n",
	    "t.yaml:2: invalid bounce profile name 'b/c' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "bounce profile name");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: \"G!\", match: ALL, policy: P }\n",
	    "t.yaml:5: invalid sender group name 'G!' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "sender group name");
	refused("destinations:\n  d.example: { bounce_profile: x.y }\n",
	    "t.yaml:2: invalid bounce profile name 'x.y' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "bounce profile reference name");
	refused("policies:\n  \"\": {}\n",
	    "t.yaml:2: invalid policy name '' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$)", "empty policy name");

	/* Listener requirements. */
	refused("listeners:\n  - { port: 25 }\n",
	    "t.yaml:2: listener needs a name", "listener without name");
	refused("listeners:\n  - name: L\n    type: public\n",
	    "t.yaml:2: listener 'L' needs a port", "listener without port");
	refused("listeners:\n  - name: L\n    port: 0\n",
	    "t.yaml:3: invalid port '0' (1-65535)", "port 0");
	refused("listeners:\n  - name: L\n    port: 65536\n",
	    "t.yaml:3: invalid port '65536' (1-65535)", "port 65536");
	refused("listeners:\n  - name: L\n    port: -1\n",
	    "t.yaml:3: invalid port '-1' (1-65535)", "negative port");
	refused("listeners:\n  - name: L\n    port: smtp\n",
	    "t.yaml:3: invalid port 'smtp' (1-65535)", "port by name");
	refused("listeners:\n  - name: L\n    port: 99999999999999999999999\n",
	    "t.yaml:3: invalid port '99999999999999999999999' (1-65535)",
	    "huge port");
	refused("listeners:\n  - name: L\n    port: 25\n    type: relay\n",
	    "t.yaml:4: invalid type 'relay' (one of: public, private, sinkhole)",
	    "bad listener type");
	refused("listeners:\n  - name: L\n    port: 25\n    address: mail.example\n",
	    "t.yaml:4: invalid address 'mail.example' (an IPv4 or IPv6 address)",
	    "listener address must be numeric");
	refused("listeners:\n  - name: L\n    port: 25\n    address: 300.1.1.1\n",
	    "t.yaml:4: invalid address '300.1.1.1' (an IPv4 or IPv6 address)",
	    "bad IPv4 listener address");
	refused("listeners:\n  - name: L\n    port: 25\n    sinkhole_queue: maybe\n",
	    "t.yaml:4: invalid sinkhole_queue 'maybe' (true or false)",
	    "bad boolean");
	refused("listeners:\n  - name: L\n    port: 25\n    sinkhole_queue: true\n",
	    "t.yaml:2: listener 'L': sinkhole_queue applies only to sinkhole "
	    "listeners", "sinkhole_queue on a public listener");
	refused("listeners:\n  name: L\n",
	    "t.yaml:2: listeners must be a list, not a mapping",
	    "listeners as a mapping");
	refused("listeners:\n  - L\n",
	    "t.yaml:2: a listener must be a mapping, not a value",
	    "listener as a scalar");

	/* HAT. */
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: ALL, policy: NOPE }\n"
	    "policies: { P: {} }\n",
	    "t.yaml:5: listener 'L': sender group 'G' uses unknown policy 'NOPE'",
	    "hat policy must exist");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: ALL }\n",
	    "t.yaml:5: hat entry 'G' needs a policy", "hat entry without policy");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { match: ALL, policy: P }\n",
	    "t.yaml:5: hat entry needs a group", "hat entry without group");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, policy: P }\n",
	    "t.yaml:5: hat entry 'G' needs a match", "hat entry without match");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: [], policy: P }\n",
	    "t.yaml:5: hat entry 'G' needs a match", "hat entry, empty match");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: [\"10.0.0.0 /8\"], policy: P }\n",
	    "t.yaml:5: hat entry 'G': invalid match '10.0.0.0 /8'",
	    "hat match with a blank");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: { a: b }, policy: P }\n",
	    "t.yaml:5: 'match' must be a value or a list of values",
	    "hat match as a mapping");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n"
	    "      - { group: G, match: [[a]], policy: P }\n",
	    "t.yaml:5: 'match' must be a single value, not a list",
	    "hat match nested list");
	refused("listeners:\n  - name: L\n    port: 25\n    hat: ALL\n",
	    "t.yaml:4: hat must be a list, not a value", "hat as a scalar");
	refused("listeners:\n  - name: L\n    port: 25\n    hat:\n      - ALL\n",
	    "t.yaml:5: a hat entry must be a mapping, not a value",
	    "hat entry as a scalar");

	/* RAT. */
	refused("listeners:\n  - name: L\n    port: 25\n    rat:\n"
	    "      - { match: ALL, action: relay }\n",
	    "t.yaml:5: invalid action 'relay' (one of: accept, reject)",
	    "rat action relay refused");
	refused("listeners:\n  - name: L\n    port: 25\n    rat:\n"
	    "      - { match: ALL }\n",
	    "t.yaml:5: rat entry needs an action (accept or reject)",
	    "rat entry without action");
	refused("listeners:\n  - name: L\n    port: 25\n    rat:\n"
	    "      - { action: accept }\n",
	    "t.yaml:5: rat entry needs a match", "rat entry without match");

	/* Policies. */
	refused("policies:\n  P: { action: bounce }\n",
	    "t.yaml:2: invalid action 'bounce' (one of: accept, relay, reject, "
	    "tcprefuse)", "bad policy action");
	refused("policies:\n  P: { tls: dane }\n",
	    "t.yaml:2: invalid tls 'dane' (one of: off, preferred, required)",
	    "bad policy tls");
	refused("policies:\n  P: { max_message_size: 10X }\n",
	    "t.yaml:2: invalid size '10X' for max_message_size (a number with "
	    "optional k, M or G)", "bad size");
	refused("policies:\n  P: { max_rcpts_per_msg: 0 }\n",
	    "t.yaml:2: max_rcpts_per_msg must be at least 1, not '0'",
	    "zero recipients");
	refused("policies:\n  P: { max_rcpts_per_msg: 4294967296 }\n",
	    "t.yaml:2: invalid number '4294967296' for max_rcpts_per_msg",
	    "u32 overflow");
	refused("policies:\n  P: { max_rcpts_per_msg: 1k }\n",
	    "t.yaml:2: invalid number '1k' for max_rcpts_per_msg",
	    "count with a suffix");
	refused("policies:\n  P: accept\n",
	    "t.yaml:2: policy must be a mapping, not a value",
	    "policy as a scalar");
	refused("policies:\n  - P\n",
	    "t.yaml:2: policies must be a mapping, not a list",
	    "policies as a list");

	/* Routes. */
	refused("smtp_routes:\n  example.com: []\n",
	    "t.yaml:2: route 'example.com' has no hosts", "empty route");
	refused("smtp_routes:\n  example.com: [\"mx:0\"]\n",
	    "t.yaml:2: route 'example.com': invalid host 'mx:0' (host[:port], "
	    "[IPv6]:port)", "route port 0");
	refused("smtp_routes:\n  example.com: [\"mx:\"]\n",
	    "t.yaml:2: route 'example.com': invalid host 'mx:' (host[:port], "
	    "[IPv6]:port)", "route empty port");
	refused("smtp_routes:\n  example.com: [\"[::1\"]\n",
	    "t.yaml:2: route 'example.com': invalid host '[::1' (host[:port], "
	    "[IPv6]:port)", "route unclosed bracket");
	refused("smtp_routes:\n  example.com: [\"[::1]x\"]\n",
	    "t.yaml:2: route 'example.com': invalid host '[::1]x' (host[:port], "
	    "[IPv6]:port)", "route junk after bracket");
	refused("smtp_routes:\n  example.com: [\"[mx.example]:25\"]\n",
	    "t.yaml:2: route 'example.com': invalid host '[mx.example]:25' "
	    "(host[:port], [IPv6]:port)", "route name in brackets");
	refused("smtp_routes:\n  example.com: [\"mx .example\"]\n",
	    "t.yaml:2: route 'example.com': invalid host 'mx .example' "
	    "(host[:port], [IPv6]:port)", "route host with blank");
	refused("smtp_routes:\n  example.com: [\"a:1:2:zz\"]\n",
	    "t.yaml:2: route 'example.com': invalid host 'a:1:2:zz' "
	    "(host[:port], [IPv6]:port)", "route bad bare IPv6");
	refused("smtp_routes:\n  \"bad domain\": x\n",
	    "t.yaml:2: invalid route domain 'bad domain'", "route domain blank");
	refused("smtp_routes:\n  example.com: { host: x }\n",
	    "t.yaml:2: 'example.com' must be a value or a list of values",
	    "route value mapping");

	/* Destinations and bounce profiles. */
	refused("destinations:\n  d.example: { tls: maybe }\n",
	    "t.yaml:2: invalid tls 'maybe' (one of: default, off, preferred, "
	    "required, preferred-verify, required-verify, "
	    "required-verify-hosted, dane)", "bad destination tls");
	refused("destinations:\n  d.example: { max_conns: 0 }\n",
	    "t.yaml:2: max_conns must be at least 1, not '0'", "max_conns 0");
	refused("destinations:\n  d.example: { bounce_profile: nope }\n",
	    "t.yaml:2: destination 'd.example': unknown bounce profile 'nope'",
	    "destination bounce profile must exist");
	refused("destinations:\n  \"d..example\": {}\n",
	    "t.yaml:2: invalid destination domain 'd..example'",
	    "destination domain with empty label");
	refused("bounce_profiles:\n  b: { initial_retry: 0 }\n",
	    "t.yaml:2: initial_retry must be at least 1s, not '0'",
	    "initial_retry 0");
	refused("bounce_profiles:\n  b: { max_queue_time: 5y }\n",
	    "t.yaml:2: invalid duration '5y' for max_queue_time (a number with "
	    "optional s, m, h or d)", "bad duration");
	refused("bounce_profiles:\n  b: { max_attempts: 0 }\n",
	    "t.yaml:2: max_attempts must be at least 1, not '0'",
	    "max_attempts 0");

	/* Top-level scalars and sections. */
	refused("hostname: \"bad host\"\n",
	    "t.yaml:1: invalid hostname 'bad host'", "bad hostname");
	refused("hostname:\n",
	    "t.yaml:1: 'hostname' needs a value", "empty hostname");
	refused("hostname: [a, b]\n",
	    "t.yaml:1: 'hostname' must be a single value, not a list",
	    "hostname as a list");
	refused("paths: /var\n",
	    "t.yaml:1: paths must be a mapping, not a value",
	    "paths as a scalar");
	refused("paths:\n  spool: \"\"\n",
	    "t.yaml:2: invalid path '' for spool", "empty path");
	refused("users: { net: \"root user\" }\n",
	    "t.yaml:1: invalid user name 'root user' for net", "bad user name");
	refused("processes: { deliver: 0 }\n",
	    "t.yaml:1: deliver must be 1 to 1024, not '0'", "no deliver process");
	refused("processes: { smtpd: 5000 }\n",
	    "t.yaml:1: smtpd must be 0 to 1024, not '5000'",
	    "too many smtpd processes");
	refused("drain_delay: soon\n",
	    "t.yaml:1: invalid duration 'soon' for drain_delay (a number with "
	    "optional s, m, h or d)", "bad drain_delay");
	refused("smtpd: { idle_timeout: 0 }\n",
	    "t.yaml:1: idle_timeout must be at least 1s, not '0'",
	    "zero idle timeout");
	refused("queue: { map_size: 64k }\n",
	    "t.yaml:1: map_size must be at least 1048576 bytes, not '64k'",
	    "tiny map_size");
	refused("- a\n- b\n",
	    "t.yaml:1: the top level must be a mapping, not a list",
	    "top level a list");
	refused("just a string\n",
	    "t.yaml:1: the top level must be a mapping, not a value",
	    "top level a scalar");
	refused("? [a]\n: b\n",
	    "t.yaml:1: a key must be a plain string", "complex key");
	refused("hostname: \"a\\0b\"\n",
	    "t.yaml:1: 'hostname' contains a NUL byte", "NUL in a value");

	/* YAML itself. */
	refused("hostname: a\n  b: c\n",
	    "t.yaml:2: mapping values are not allowed in this context",
	    "syntax error has its line");
	refused("hostname: a\n---\nhostname: b\n",
	    "t.yaml:2: only one YAML document per file", "two documents");
	refused("paths: &p { spool: /a }\nqueue: *p\n",
	    "t.yaml:1: YAML anchors (&p) are not allowed", "anchor refused");
	refused("hostname: a\nqueue: *p\n",
	    "t.yaml:2: YAML aliases (*p) are not allowed",
	    "alias refused (even without its anchor)");
	refused("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
	    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
	    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
	    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
	    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
	    "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
	    "t.yaml:1: YAML anchors (&a) are not allowed", "billion laughs");
	refused("hostname: a\nx: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n",
	    "t.yaml:2: nesting deeper than 16 levels", "deep nesting refused");
	refused("hostname: a\nb:\tc\n\x01\n",
	    "t.yaml:3: control characters are not allowed",
	    "control character");
	refused("hostname: !!str mx.example\npaths: { spool: [/a] }\n",
	    "t.yaml:2: 'spool' must be a single value, not a list",
	    "tags are ignored, types still checked");
}

static void
test_sizes_durations(void)
{
	uint64_t s;
	uint32_t d;

	ok(config_parse_size("0", &s) == 0 && s == 0, "size 0");
	ok(config_parse_size("10M", &s) == 0 && s == 10 * MIB, "size 10M");
	ok(config_parse_size("1G", &s) == 0 && s == 1024 * MIB, "size 1G");
	ok(config_parse_size("256k", &s) == 0 && s == 256 * 1024, "size 256k");
	ok(config_parse_size("256K", &s) == 0 && s == 256 * 1024, "size 256K");
	ok(config_parse_size("12345", &s) == 0 && s == 12345, "bare bytes");
	ok(config_parse_size("007", &s) == 0 && s == 7, "leading zeros");
	ok(config_parse_size("18446744073709551615", &s) == 0 &&
	    s == UINT64_MAX, "size UINT64_MAX");
	ok(config_parse_size("18446744073709551616", &s) < 0,
	    "size overflow by one");
	ok(config_parse_size("17179869184G", &s) < 0, "size overflow by suffix");
	ok(config_parse_size("17179869183G", &s) == 0 &&
	    s == 17179869183ULL * 1024 * MIB, "largest G");
	ok(config_parse_size("", &s) < 0, "empty size");
	ok(config_parse_size(NULL, &s) < 0, "NULL size");
	ok(config_parse_size("M", &s) < 0, "suffix alone");
	ok(config_parse_size("10MB", &s) < 0, "two suffix characters");
	ok(config_parse_size("10T", &s) < 0, "unknown suffix");
	ok(config_parse_size("-1", &s) < 0, "negative size");
	ok(config_parse_size("+1", &s) < 0, "plus sign");
	ok(config_parse_size(" 1", &s) < 0, "leading blank");
	ok(config_parse_size("1 ", &s) < 0, "trailing blank");
	ok(config_parse_size("1.5M", &s) < 0, "fraction");
	ok(config_parse_size("0x10", &s) < 0, "hex");
	ok(config_parse_size("10s", &s) < 0, "duration suffix on a size");

	ok(config_parse_duration("0", &d) == 0 && d == 0, "duration 0");
	ok(config_parse_duration("45", &d) == 0 && d == 45, "bare seconds");
	ok(config_parse_duration("60s", &d) == 0 && d == 60, "60s");
	ok(config_parse_duration("90m", &d) == 0 && d == 5400, "90m");
	ok(config_parse_duration("72h", &d) == 0 && d == 259200, "72h");
	ok(config_parse_duration("3d", &d) == 0 && d == 259200, "3d");
	ok(config_parse_duration("4294967295", &d) == 0 && d == UINT32_MAX,
	    "duration UINT32_MAX");
	ok(config_parse_duration("4294967296", &d) < 0, "duration overflow");
	ok(config_parse_duration("49710d", &d) == 0 && d == 49710u * 86400,
	    "largest d");
	ok(config_parse_duration("49711d", &d) < 0, "d overflow");
	ok(config_parse_duration("71582788m", &d) == 0 && d == 71582788u * 60,
	    "largest m");
	ok(config_parse_duration("71582789m", &d) < 0, "m overflow");
	ok(config_parse_duration("99999999999999999999999", &d) < 0,
	    "huge number");
	ok(config_parse_duration("", &d) < 0, "empty duration");
	ok(config_parse_duration(NULL, &d) < 0, "NULL duration");
	ok(config_parse_duration("h", &d) < 0, "suffix alone");
	ok(config_parse_duration("1H", &d) < 0, "uppercase suffix");
	ok(config_parse_duration("1w", &d) < 0, "weeks are not a unit");
	ok(config_parse_duration("1h30m", &d) < 0, "compound");
	ok(config_parse_duration("-5s", &d) < 0, "negative");
	ok(config_parse_duration("10M", &d) < 0, "size suffix on a duration");
}

static void
test_lookups(void)
{
	struct config *cfg;
	const struct cfg_route *rt;

	cfg = accepted(
	    "smtp_routes:\n"
	    "  Example.COM: mx1.example.com\n"
	    "  other.example: mx2.example.com\n"
	    "  trail.example.: mx3.example.com\n"
	    "destinations:\n"
	    "  Big.Example: { max_conns: 7 }\n"
	    "  default: { max_conns: 42 }\n"
	    "bounce_profiles:\n"
	    "  quick: { max_attempts: 3 }\n", "lookup config");
	if (cfg == NULL)
		return;
	rt = config_route(cfg, "example.com");
	ok(rt != NULL && strcmp(rt->hosts[0].host, "mx1.example.com") == 0,
	    "route: case-insensitive exact match");
	rt = config_route(cfg, "EXAMPLE.com.");
	ok(rt != NULL && strcmp(rt->hosts[0].host, "mx1.example.com") == 0,
	    "route: trailing dot ignored");
	rt = config_route(cfg, "Trail.Example");
	ok(rt != NULL && strcmp(rt->hosts[0].host, "mx3.example.com") == 0,
	    "route: key with trailing dot matches");
	ok(config_route(cfg, "sub.example.com") == NULL,
	    "route: no parent-domain match");
	ok(config_route(cfg, "nowhere.example") == NULL,
	    "route: no match, no ALL: NULL (MX)");
	ok(config_route(cfg, NULL) == NULL, "route: NULL domain, no ALL");
	ok(config_route(NULL, "example.com") == NULL, "route: NULL config");
	is(config_destination(cfg, "big.example")->max_conns, 7,
	    "destination: case-insensitive");
	is(config_destination(cfg, "small.example")->max_conns, 42,
	    "destination: falls back to default");
	is(config_destination(cfg, NULL)->max_conns, 42,
	    "destination: NULL is default");
	is(cfg->ndestinations, 2, "given default not duplicated");
	is(config_bounce_profile(cfg, "quick")->max_attempts, 3,
	    "bounce profile by name");
	is_str(config_bounce_profile(cfg, "slow")->name, "default",
	    "bounce profile falls back to default");
	is_str(config_bounce_profile(cfg, "QUICK")->name, "default",
	    "bounce profile names are case-sensitive");
	ok(config_policy(cfg, "X") == NULL, "unknown policy: NULL");
	ok(config_listener(cfg, "X") == NULL, "unknown listener: NULL");
	ok(config_policy(NULL, "X") == NULL && config_listener(NULL, "X") ==
	    NULL && config_destination(NULL, "x") == NULL &&
	    config_bounce_profile(NULL, "x") == NULL, "NULL config: NULL");
	config_free(cfg);

	cfg = accepted("smtp_routes:\n  ALL: [\"relay.example:2525\"]\n"
	    "  a.example: mxa.example\n", "ALL route config");
	if (cfg != NULL) {
		rt = config_route(cfg, "b.example");
		ok(rt != NULL && strcmp(rt->domain, "ALL") == 0 &&
		    rt->hosts[0].port == 2525, "route: ALL catches the rest");
		rt = config_route(cfg, "A.EXAMPLE");
		ok(rt != NULL && strcmp(rt->domain, "a.example") == 0,
		    "route: exact wins over ALL");
		rt = config_route(cfg, NULL);
		ok(rt != NULL && strcmp(rt->domain, "ALL") == 0,
		    "route: NULL domain gets ALL");
	}
	config_free(cfg);
}

static void
test_builtin(void)
{
	struct config *cfg, *again;
	struct config_source src;
	const struct cfg_listener *l;
	char err[256];

	cfg = config_builtin_default();
	ok(cfg != NULL, "built-in default");
	if (cfg == NULL)
		return;
	is(cfg->nlisteners, 1, "built-in: one listener");
	l = config_listener(cfg, "Default");
	ok(l != NULL, "built-in: listener Default");
	if (l != NULL) {
		is(l->type, LISTENER_PRIVATE, "built-in: private");
		is_str(l->address, "127.0.0.1", "built-in: 127.0.0.1");
		is(l->port, 2525, "built-in: port 2525");
		is(l->nhat, 2, "built-in: two hat entries");
		is(l->nrat, 0, "built-in: no rat");
		is_str(l->hat[0].group, "RELAYLIST", "built-in: RELAYLIST");
		ok(l->hat[0].nmatch == 2 &&
		    strcmp(l->hat[0].match[0], "127.0.0.0/8") == 0 &&
		    strcmp(l->hat[0].match[1], "::1") == 0,
		    "built-in: relays for 127.0.0.0/8 and ::1");
		ok(l->hat[0].policy != NULL &&
		    l->hat[0].policy->action == ACTION_RELAY,
		    "built-in: RELAYLIST relays");
		ok(strcmp(l->hat[1].group, "ALL") == 0 &&
		    strcmp(l->hat[1].match[0], "ALL") == 0 &&
		    l->hat[1].policy != NULL &&
		    l->hat[1].policy->action == ACTION_REJECT,
		    "built-in: everyone else rejected");
	}
	is(cfg->nroutes, 0, "built-in: delivery by MX");
	is_str(cfg->paths.spool, "/var/spool/sallyport", "built-in: spool");
	ok(config_destination(cfg, "x") != NULL &&
	    config_bounce_profile(cfg, "x") != NULL,
	    "built-in: default destination and bounce profile");

	src.path = (char *)"builtin";
	src.text = (char *)config_builtin_yaml();
	src.len = strlen(src.text);
	again = NULL;
	ok(config_parse_sources(&src, 1, &again, err, sizeof err) == 0,
	    "built-in YAML parses like any config");
	if (again != NULL) {
		ok(again->nlisteners == cfg->nlisteners &&
		    again->npolicies == cfg->npolicies &&
		    again->listeners[0].port == cfg->listeners[0].port &&
		    strcmp(again->listeners[0].hat[0].match[0],
		    cfg->listeners[0].hat[0].match[0]) == 0 &&
		    strcmp(again->paths.log, cfg->paths.log) == 0,
		    "built-in default is the built-in YAML");
	}
	config_free(again);
	config_free(cfg);
}

/* Files in a scratch directory: config_read_sources and merging. */
static void
test_confd(void)
{
	char dir[] = "/tmp/lib_config.XXXXXX", path[512], confd[64], err[512];
	char want[600];
	struct config_source *srcs = NULL;
	struct config *cfg = NULL;
	const struct cfg_listener *in;
	const struct cfg_policy *acc;
	const struct cfg_route *rt;
	const struct cfg_destination *d;
	const struct cfg_bounce_profile *bp;
	size_t n = 99;

	if (mkdtemp(dir) == NULL) {
		printf("Bail out! mkdtemp\n");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/main.yaml", dir);
	snprintf(confd, sizeof confd, "%s/conf.d", dir);

	/* Missing file. */
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) < 0 &&
	    srcs == NULL && n == 0, "missing main file refused");
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	is_str(err, want, "missing file error text");

	write_file(path,
	    "hostname: main.example\n"
	    "paths: { spool: /s1, log: /l1 }\n"
	    "listeners:\n"
	    "  - { name: In, port: 2525, hat: [{ group: ALL, match: ALL, policy: ACCEPTED }],\n"
	    "      rat: [{ match: example.com, action: accept }] }\n"
	    "  - { name: Out, type: private, address: 127.0.0.1, port: 2526,\n"
	    "      hat: [{ group: R, match: 127.0.0.1, policy: RELAYED }] }\n"
	    "policies:\n"
	    "  ACCEPTED: { action: accept, tls: required }\n"
	    "  RELAYED: { action: relay }\n"
	    "smtp_routes:\n"
	    "  example.com: mx1.example.com\n"
	    "destinations:\n"
	    "  example.com: { max_conns: 10 }\n");

	/* No conf.d at all. */
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) == 0 && n == 1,
	    "no conf.d: one source");
	if (n == 1 && srcs != NULL) {
		is_str(srcs[0].path, path, "source path");
		is(srcs[0].len, strlen(srcs[0].text), "source length");
	}
	config_free_sources(srcs, n);

	if (mkdir(confd, 0700) < 0) {
		printf("Bail out! mkdir\n");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/20-b.yaml", confd);
	write_file(path,
	    "smtp_routes:\n"
	    "  EXAMPLE.com: [\"[::1]:2525\", \"10.1.1.1\"]\n"
	    "bounce_profiles:\n"
	    "  slow: { initial_retry: 5m }\n"
	    "destinations:\n"
	    "  example.com: { bounce_profile: slow }\n");
	snprintf(path, sizeof path, "%s/10-a.yaml", confd);
	write_file(path,
	    "hostname: a.example\n"
	    "paths: { spool: /s2 }\n"
	    "policies:\n"
	    "  ACCEPTED: { action: reject }\n"
	    "listeners:\n"
	    "  - { name: In, port: 2600, hat: [{ group: ALL, match: ALL, policy: ACCEPTED }] }\n"
	    "  - { name: Extra, type: sinkhole, sinkhole_queue: true, port: 2700 }\n");
	snprintf(path, sizeof path, "%s/notes.txt", confd);
	write_file(path, "this is not yaml: [\n");
	snprintf(path, sizeof path, "%s/.hidden.yaml", confd);
	write_file(path, "bogus: 1\n");
	snprintf(path, sizeof path, "%s/15-empty.yaml", confd);
	write_file(path, "");
	snprintf(path, sizeof path, "%s/sub.yaml", confd);
	mkdir(path, 0700);

	snprintf(path, sizeof path, "%s/main.yaml", dir);
	srcs = NULL;
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) == 0,
	    "read main file and conf.d");
	is(n, 4, "main + three conf.d files (not .txt, hidden or directory)");
	if (n == 4) {
		snprintf(want, sizeof want, "%s/10-a.yaml", confd);
		is_str(srcs[1].path, want, "conf.d in name order: 10-a first");
		snprintf(want, sizeof want, "%s/15-empty.yaml", confd);
		is_str(srcs[2].path, want, "then 15-empty");
		is(srcs[2].len, 0, "empty file has length 0");
		ok(srcs[2].text != NULL, "empty file has text");
		snprintf(want, sizeof want, "%s/20-b.yaml", confd);
		is_str(srcs[3].path, want, "then 20-b");
	}
	ok(config_parse_sources(srcs, n, &cfg, err, sizeof err) == 0,
	    "merged config parses");
	if (cfg == NULL)
		printf("#   error: %s\n", err);
	if (cfg != NULL) {
		is_str(cfg->hostname, "a.example", "later file overrides hostname");
		is_str(cfg->paths.spool, "/s2", "later file overrides paths.spool");
		is_str(cfg->paths.log, "/l1", "paths.log kept (key by key)");
		is_str(cfg->paths.run, "/run/sallyport", "paths.run default");
		is(cfg->nlisteners, 3, "three listeners after merge");
		is_str(cfg->listeners[0].name, "In", "In keeps its place");
		is_str(cfg->listeners[1].name, "Out", "Out second");
		is_str(cfg->listeners[2].name, "Extra", "new listener appended");
		in = config_listener(cfg, "In");
		ok(in != NULL && in->port == 2600 && in->nrat == 0,
		    "listener replaced whole by name");
		is(cfg->listeners[2].sinkhole_queue, 1, "sinkhole_queue");
		acc = config_policy(cfg, "ACCEPTED");
		ok(acc != NULL && acc->action == ACTION_REJECT &&
		    acc->tls == TLS_IN_OFF && acc->set == POL_ACTION,
		    "policy replaced whole by the later file");
		ok(in != NULL && in->hat[0].policy == acc,
		    "hat points at the merged policy");
		ok(cfg->listeners[1].hat[0].policy == config_policy(cfg,
		    "RELAYED"), "untouched listener's policy resolved");
		is(cfg->nroutes, 1, "route replaced, not added (case)");
		rt = config_route(cfg, "example.com");
		ok(rt != NULL && rt->nhosts == 2 &&
		    strcmp(rt->hosts[0].host, "::1") == 0 &&
		    rt->hosts[0].port == 2525 &&
		    strcmp(rt->hosts[1].host, "10.1.1.1") == 0 &&
		    rt->hosts[1].port == 25, "route from the later file");
		d = config_destination(cfg, "example.com");
		ok(d != NULL && d->max_conns == 500 &&
		    strcmp(d->bounce_profile, "slow") == 0,
		    "destination replaced whole");
		bp = config_bounce_profile(cfg, "slow");
		ok(bp != NULL && bp->initial_retry == 300 &&
		    bp->max_retry == 3600, "bounce profile from conf.d");
	}
	config_free(cfg);
	config_free_sources(srcs, n);

	/* An error in a conf.d file names that file. */
	snprintf(path, sizeof path, "%s/30-bad.yaml", confd);
	write_file(path, "hostname: b.example\npolicy:\n  X: {}\n");
	snprintf(want, sizeof want, "%s:2: unknown key 'policy' in the top level",
	    path);
	snprintf(path, sizeof path, "%s/main.yaml", dir);
	cfg = NULL;
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) == 0 &&
	    config_parse_sources(srcs, n, &cfg, err, sizeof err) < 0 &&
	    cfg == NULL, "bad conf.d file refuses the whole config");
	is_str(err, want, "error names the conf.d file and line");
	config_free_sources(srcs, n);

	/* A cross reference broken by a later file is reported there. */
	snprintf(path, sizeof path, "%s/30-bad.yaml", confd);
	write_file(path, "listeners:\n"
	    "  - name: Out\n"
	    "    port: 2526\n"
	    "    hat: [{ group: G, match: ALL, policy: NOPE }]\n");
	snprintf(want, sizeof want, "%s:4: listener 'Out': sender group 'G' "
	    "uses unknown policy 'NOPE'", path);
	snprintf(path, sizeof path, "%s/main.yaml", dir);
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) == 0 &&
	    config_parse_sources(srcs, n, &cfg, err, sizeof err) < 0,
	    "unknown policy in conf.d refused");
	is_str(err, want, "hat error at the conf.d file and line");
	config_free_sources(srcs, n);

	/* Two listeners of one name in one conf.d file. */
	snprintf(path, sizeof path, "%s/30-bad.yaml", confd);
	write_file(path, "listeners:\n"
	    "  - { name: Out, port: 3000 }\n"
	    "  - { name: Out, port: 3001 }\n");
	snprintf(want, sizeof want, "%s:3: duplicate listener 'Out' (also at "
	    "line 2)", path);
	snprintf(path, sizeof path, "%s/main.yaml", dir);
	ok(config_read_sources(path, &srcs, &n, err, sizeof err) == 0 &&
	    config_parse_sources(srcs, n, &cfg, err, sizeof err) < 0,
	    "duplicate listener within one file refused");
	is_str(err, want, "duplicate listener error");
	config_free_sources(srcs, n);
	snprintf(path, sizeof path, "%s/30-bad.yaml", confd);
	unlink(path);

	/* A relative path finds conf.d beside it. */
	{
		char cwd[512];

		if (getcwd(cwd, sizeof cwd) != NULL && chdir(dir) == 0) {
			ok(config_read_sources("main.yaml", &srcs, &n, err,
			    sizeof err) == 0 && n == 4,
			    "relative path reads ./conf.d");
			config_free_sources(srcs, n);
			if (chdir(cwd) < 0) {
				printf("Bail out! chdir back\n");
				exit(1);
			}
		} else
			ok(0, "chdir into scratch dir");
	}

	/* A directory as the main file. */
	ok(config_read_sources(confd, &srcs, &n, err, sizeof err) < 0,
	    "directory as main file refused");
	snprintf(want, sizeof want, "%s: Is a directory", confd);
	is_str(err, want, "directory error text");

	snprintf(path, sizeof path, "%s/sub.yaml", confd);
	rmdir(path);
	snprintf(path, sizeof path, "%s/20-b.yaml", confd);
	unlink(path);
	snprintf(path, sizeof path, "%s/10-a.yaml", confd);
	unlink(path);
	snprintf(path, sizeof path, "%s/15-empty.yaml", confd);
	unlink(path);
	snprintf(path, sizeof path, "%s/notes.txt", confd);
	unlink(path);
	snprintf(path, sizeof path, "%s/.hidden.yaml", confd);
	unlink(path);
	rmdir(confd);
	snprintf(path, sizeof path, "%s/main.yaml", dir);
	unlink(path);
	ok(rmdir(dir) == 0, "scratch directory cleaned up");
}

/* The shipped sample parses and its values are the documented defaults. */
static void
test_sample(void)
{
	struct config_source *srcs = NULL;
	struct config *cfg = NULL, *def = NULL, *bi;
	char err[512] = "";
	size_t n = 0;

	ok(config_read_sources("etc/sallyport.yaml", &srcs, &n, err,
	    sizeof err) == 0, "etc/sallyport.yaml is readable");
	ok(config_parse_sources(srcs, n, &cfg, err, sizeof err) == 0,
	    "etc/sallyport.yaml parses");
	if (cfg == NULL)
		printf("#   error: %s\n", err);
	def = parse1("", err, sizeof err);
	bi = config_builtin_default();
	if (cfg != NULL && def != NULL && bi != NULL) {
		ok(strcmp(cfg->paths.spool, def->paths.spool) == 0 &&
		    strcmp(cfg->paths.state, def->paths.state) == 0 &&
		    strcmp(cfg->paths.run, def->paths.run) == 0 &&
		    strcmp(cfg->paths.log, def->paths.log) == 0,
		    "sample paths are the defaults");
		ok(strcmp(cfg->users.net, def->users.net) == 0 &&
		    strcmp(cfg->users.queue, def->users.queue) == 0,
		    "sample users are the defaults");
		ok(memcmp(&cfg->processes, &def->processes,
		    sizeof cfg->processes) == 0 &&
		    cfg->drain_delay == def->drain_delay,
		    "sample processes and drain_delay are the defaults");
		ok(memcmp(&cfg->smtpd, &def->smtpd, sizeof cfg->smtpd) == 0,
		    "sample smtpd section is the defaults");
		ok(memcmp(&cfg->deliver, &def->deliver,
		    sizeof cfg->deliver) == 0,
		    "sample deliver section is the defaults");
		ok(memcmp(&cfg->queue, &def->queue, sizeof cfg->queue) == 0,
		    "sample queue section is the defaults");
		ok(cfg->nlisteners == 1 &&
		    strcmp(cfg->listeners[0].name, bi->listeners[0].name) == 0 &&
		    strcmp(cfg->listeners[0].address,
		    bi->listeners[0].address) == 0 &&
		    cfg->listeners[0].port == bi->listeners[0].port &&
		    cfg->listeners[0].type == bi->listeners[0].type &&
		    cfg->listeners[0].nhat == bi->listeners[0].nhat,
		    "sample listener is the built-in one");
		{
			const struct cfg_policy *a = config_policy(cfg,
			    "ACCEPTED");
			const struct cfg_destination *d = config_destination(cfg,
			    "x");
			const struct cfg_destination *dd = config_destination(
			    def, "x");
			const struct cfg_bounce_profile *b =
			    config_bounce_profile(cfg, "default");
			const struct cfg_bounce_profile *db =
			    config_bounce_profile(def, "default");

			ok(a != NULL && a->action == ACTION_ACCEPT &&
			    a->max_message_size == 10 * MIB &&
			    a->max_rcpts_per_msg == 1000 && a->tls == TLS_IN_OFF,
			    "sample policy shows the policy defaults");
			ok(d->max_conns == dd->max_conns && d->tls == dd->tls &&
			    strcmp(d->bounce_profile, dd->bounce_profile) == 0,
			    "sample destination is the default one");
			ok(b->initial_retry == db->initial_retry &&
			    b->max_retry == db->max_retry &&
			    b->max_queue_time == db->max_queue_time &&
			    b->max_attempts == db->max_attempts,
			    "sample bounce profile is the default one");
		}
	}
	config_free(bi);
	config_free(def);
	config_free(cfg);
	config_free_sources(srcs, n);
}

/* Hostile input: nothing crashes, every refusal says file:line. */
static void
test_robustness(void)
{
	static const char alphabet[] = "abc:- \n\t[]{},\"'&*!|>#%@`?~0123456789.\\";
	unsigned long rnd = 12345;
	char text[sizeof design_example], junk[256], err[512];
	struct config_source s;
	struct config *cfg;
	size_t i, j, len = sizeof design_example - 1;
	int bad_err = 0, accepted_n = 0, refused_n = 0;

	s.path = (char *)"t.yaml";
	for (i = 0; i < 3000; i++) {
		memcpy(text, design_example, sizeof text);
		for (j = 0; j < 1 + i % 4; j++) {
			rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;
			text[(rnd >> 33) % len] = (i & 1) ?
			    alphabet[(rnd >> 13) % (sizeof alphabet - 1)] :
			    (char)(rnd >> 21);
		}
		s.text = text;
		s.len = len;
		cfg = NULL;
		err[0] = '\0';
		if (config_parse_sources(&s, 1, &cfg, err, sizeof err) == 0) {
			accepted_n++;
			config_free(cfg);
		} else {
			refused_n++;
			if (strncmp(err, "t.yaml:", 7) != 0 || cfg != NULL)
				bad_err++;
		}
	}
	is(bad_err, 0, "3000 mutated examples: every refusal is file:line");
	ok(accepted_n > 0 && refused_n > 0, "mutations both pass and fail "
	    "(%d accepted, %d refused)", accepted_n, refused_n);

	bad_err = 0;
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < sizeof junk; j++) {
			rnd = rnd * 6364136223846793005UL + 1442695040888963407UL;
			junk[j] = (i & 1) ? alphabet[(rnd >> 13) %
			    (sizeof alphabet - 1)] : (char)(rnd >> 21);
		}
		s.text = junk;
		s.len = (rnd >> 40) % sizeof junk;
		cfg = NULL;
		if (config_parse_sources(&s, 1, &cfg, err, sizeof err) == 0)
			config_free(cfg);
		else if (strncmp(err, "t.yaml:", 7) != 0)
			bad_err++;
	}
	is(bad_err, 0, "2000 random inputs: no crash, file:line errors");

	/* Deep flow nesting far past the limit, and a long flat list. */
	{
		size_t deep = 100000;
		char *t = xmalloc(2 * deep + 8);

		memcpy(t, "a: ", 3);
		memset(t + 3, '[', deep);
		memset(t + 3 + deep, ']', deep);
		t[3 + 2 * deep] = '\0';
		refused(t, "t.yaml:1: nesting deeper than 16 levels",
		    "100000 levels of nesting");
		free(t);
	}
	{
		size_t nroutes = 20000, k;
		char *t = xmalloc(nroutes * 40 + 32);
		size_t off = 0;

		off += (size_t)sprintf(t, "smtp_routes:\n");
		for (k = 0; k < nroutes; k++)
			off += (size_t)snprintf(t + off, 40, "  d%zu.example: m\n",
			    k);
		cfg = accepted(t, "20000 routes");
		if (cfg != NULL) {
			is(cfg->nroutes, nroutes, "all routes kept");
			ok(config_route(cfg, "d19999.example") ==
			    &cfg->routes[nroutes - 1], "last route found");
		}
		config_free(cfg);
		off += (size_t)sprintf(t + off, "  D7.EXAMPLE: x\n");
		refused(t, "t.yaml:20002: duplicate route 'D7.EXAMPLE' (also at "
		    "line 9)", "duplicate among 20000 routes");
		free(t);
	}
	/* A NUL byte in the middle of the text. */
	{
		static const char withnul[] = "hostname: a\0b\n";

		s.text = (char *)withnul;
		s.len = sizeof withnul - 1;
		cfg = NULL;
		ok(config_parse_sources(&s, 1, &cfg, err, sizeof err) < 0 &&
		    strncmp(err, "t.yaml:1: ", 10) == 0,
		    "raw NUL in text refused at its line");
	}
	/* The error buffer is optional and truncation is safe. */
	{
		char tiny[8];

		ok(parse1("foo: 1\n", NULL, 0) == NULL, "error with no buffer");
		ok(parse1("foo: 1\n", tiny, sizeof tiny) == NULL &&
		    strcmp(tiny, "t.yaml:") == 0, "error truncated to buffer");
	}
	/* A NULL out pointer validates only. */
	s.text = (char *)design_example;
	s.len = sizeof design_example - 1;
	ok(config_parse_sources(&s, 1, NULL, err, sizeof err) == 0,
	    "validate-only with out == NULL");
	config_free(NULL);
	config_free_sources(NULL, 0);
}

/* Issue 3 keys: policy limits and texts, listener default policy,
 * rewriting, RAT replies, dns, resource conservation, aliases. */
static void
test_inbound_keys(void)
{
	static const char yaml[] =
	    "dns: { servers: [\"127.0.0.1:5353\", \"[::1]:53\"], timeout: 0 }\n"
	    "resource_conservation: { memory_start: 50, memory_halt: 70, max_delay: 2s }\n"
	    "aliases:\n"
	    "  Joe@Example.COM: [a@x.example, b@y.example]\n"
	    "  spam@: /dev/null\n"
	    "listeners:\n"
	    "  - name: In\n"
	    "    port: 2525\n"
	    "    default_policy: DEF\n"
	    "    default_domain: example.com\n"
	    "    domain_map: { old.example: new.example, .old.example: new.example }\n"
	    "    hat:\n"
	    "      - { group: ALL, match: [ALL], policy: ACC }\n"
	    "    rat:\n"
	    "      - { match: example.com, action: accept, reply: \"250 2.1.5 welcome\", bypass_rate_limit: true }\n"
	    "      - { match: ALL, action: reject, reply: \"550 5.1.1 go away\" }\n"
	    "  - name: Out\n"
	    "    type: private\n"
	    "    port: 2526\n"
	    "    masquerade: { \"@int.example\": \"@example.com\", old.example: new.example }\n"
	    "policies:\n"
	    "  DEF: { max_rcpts_per_hour: 10, max_rcpts_per_hour_text: \"slow down\", "
	    "max_conns_per_ip: 3, banner_code: 220, banner_text: \"hi there\" }\n"
	    "  ACC: { action: accept, max_conns_per_ip: 5, max_msgs_per_conn: 2, "
	    "dhap_max_invalid_rcpts_per_hour: 4, verify_sender_domain: yes, "
	    "verify_sender_code: 550, reject_banner_code: 421, reject_banner_text: bye, auth: false }\n";
	struct config *cfg = accepted(yaml, "issue 3 keys");
	struct cfg_policy eff;
	const struct cfg_listener *l;
	const struct cfg_alias *a;

	if (cfg == NULL)
		return;
	is(cfg->dns.nservers, 2, "two dns servers");
	is_str(cfg->dns.servers[0], "127.0.0.1:5353", "dns server");
	is(cfg->dns.timeout, 0, "dns timeout 0 (disabled)");
	is(cfg->rescon.memory_start, 50, "memory_start");
	is(cfg->rescon.memory_halt, 70, "memory_halt");
	is(cfg->rescon.queue_start, 45, "queue_start default");
	is(cfg->rescon.max_delay, 2, "max_delay");
	l = &cfg->listeners[0];
	ok(l->default_policy == config_policy(cfg, "DEF"), "default policy resolved");
	is_str(l->default_domain, "example.com", "default_domain");
	is(l->ndomain_map, 2, "domain_map entries");
	is_str(l->domain_map[1].from, ".old.example", "domain_map subdomain key");
	is_str(l->rat[0].reply, "250 2.1.5 welcome", "rat reply");
	is(l->rat[0].bypass_rate_limit, 1, "bypass_rate_limit");
	ok(l->rat[1].reply != NULL && l->rat[1].bypass_rate_limit == 0, "second rat entry");
	is(cfg->listeners[1].nmasquerade, 2, "masquerade entries");
	config_policy_merge(l->hat[0].policy, l->default_policy, &eff);
	is(eff.max_conns_per_ip, 5, "group policy wins");
	is(eff.max_rcpts_per_hour, 10, "unset key from the default policy");
	is_str(eff.rate_limit_text, "slow down", "text from the default policy");
	is_str(eff.banner_text, "hi there", "banner from the default policy");
	is(eff.rate_limit_code, 452, "built-in default code");
	is(eff.max_msgs_per_conn, 2, "max_msgs_per_conn");
	is(eff.verify_sender_domain, 1, "verify_sender_domain");
	is(eff.verify_sender_code, 550, "verify_sender_code");
	is(eff.verify_sender_tempfail_code, 451, "tempfail code default");
	is(eff.reject_banner_code, 421, "reject banner code");
	is(eff.dhap_max_invalid_rcpts_per_hour, 4, "dhap limit");
	config_policy_merge(l->hat[0].policy, NULL, &eff);
	is(eff.max_rcpts_per_hour, 0, "no default policy: disabled");
	a = config_alias(cfg, "joe@example.com");
	ok(a != NULL && a->nto == 2, "alias found case-insensitively");
	a = config_alias(cfg, "SPAM@anything.example");
	ok(a != NULL && strcmp(a->to[0], "/dev/null") == 0, "local@ alias for any domain");
	ok(config_alias(cfg, "nobody@example.com") == NULL, "no alias");
	config_free(cfg);

	refused("policies: { P: { banner_code: 554 } }\n",
	    "t.yaml:1: banner_code must be 200 to 299, not '554'", "banner code range");
	refused("policies: { P: { max_rcpts_per_hour_text: \"a\\tb\" } }\n",
	    "t.yaml:1: invalid max_rcpts_per_hour_text 'a?b' (printable text on one line, "
	    "at most 400 bytes)", "control character in a text");
	refused("listeners: [ { name: L, port: 25, rat: [ { match: ALL, action: accept, "
	    "reply: \"hello\" } ] } ]\n",
	    "t.yaml:1: invalid reply 'hello' (an SMTP reply: a code 200-599, a space, text)",
	    "rat reply without a code");
	refused("listeners: [ { name: L, port: 25, default_policy: NOPE } ]\n",
	    "t.yaml:1: listener 'L': unknown default_policy 'NOPE'", "unknown default policy");
	refused("listeners: [ { name: L, port: 25, masquerade: { a.example: b.example } } ]\n",
	    "t.yaml:1: listener 'L': masquerade applies only to private listeners",
	    "masquerade on a public listener");
	refused("dns: { servers: [ns.example] }\n",
	    "t.yaml:1: dns: invalid server 'ns.example' (an IP address with an optional :port)",
	    "dns server by name");
	refused("aliases: { joe@x.example: [\"not an address\"] }\n",
	    "t.yaml:1: aliases: 'joe@x.example': invalid address 'not an address'",
	    "bad alias target");
	refused("resource_conservation: { memory_start: 70, memory_halt: 60 }\n",
	    "t.yaml:1: resource_conservation: a halt threshold is below its start threshold",
	    "halt below start");
}


/* TLS, certificates, AUTH: the keys of the TLS/AUTH issue. */
static void
test_tls_keys(void)
{
	struct config *cfg;
	const struct cfg_certificate *c;
	struct config_source srcs[3];
	char err[512];
	const char *base =
	    "paths: { state: /st }\n"
	    "certificates:\n"
	    "  mx: {}\n"
	    "  ext: { cert: /etc/x.pem, key: /etc/x.key }\n"
	    "tls:\n"
	    "  inbound: { min_version: TLSv1.3, ciphers: 'HIGH:!aNULL', session_cache: false }\n"
	    "  outbound: { certificate: client, ciphersuites: TLS_AES_256_GCM_SHA384 }\n"
	    "  trust: { system: false, custom: true }\n"
	    "  alert_on_failure: false\n"
	    "auth: { users_file: /etc/users, forward: '192.0.2.1:587', forward_tls: required-verify,"
	    " max_failures: 5, max_failures_per_ip: 50 }\n"
	    "dns: { trust_anchors: /etc/anchors }\n"
	    "listeners:\n"
	    "  - { name: In, port: 25, certificate: mx, hat: [ { group: ALL, match: [ALL], policy: P } ] }\n"
	    "  - { name: Sub, port: 587, hat: [ { group: ALL, match: [ALL], policy: S } ] }\n"
	    "  - { name: Plain, port: 26, hat: [ { group: ALL, match: [ALL], policy: O } ] }\n"
	    "policies:\n"
	    "  P: { tls: preferred }\n"
	    "  S: { tls: required, auth: required, auth_requires_tls: false }\n"
	    "  O: { auth: true }\n"
	    "destinations:\n"
	    "  default: { tls: dane }\n"
	    "  bank.example: { tls: required-verify-hosted, certificate: ext }\n";

	cfg = accepted(base, "every TLS and AUTH key");
	if (cfg == NULL)
		return;
	is_str(cfg->tls.inbound.min_version, "TLSv1.3", "tls.inbound.min_version");
	is(cfg->tls.inbound.session_cache, 0, "tls.inbound.session_cache");
	is_str(cfg->tls.outbound.certificate, "client", "tls.outbound.certificate");
	is(cfg->tls.trust.system, 0, "tls.trust.system");
	is(cfg->tls.trust.custom, 1, "tls.trust.custom");
	is_str(cfg->tls.trust.custom_file, "/st/certs/custom-ca.pem",
	    "custom_file defaults to the state directory");
	is_str(cfg->tls.trust.system_file, "/etc/ssl/certs/ca-certificates.crt",
	    "system_file default");
	is(cfg->tls.alert_on_failure, 0, "tls.alert_on_failure");
	is_str(cfg->auth.users_file, "/etc/users", "auth.users_file");
	is_str(cfg->auth.forward->host, "192.0.2.1", "auth.forward host");
	is(cfg->auth.forward->port, 587, "auth.forward port");
	is(cfg->auth.forward_tls, TLS_OUT_REQUIRED_VERIFY, "auth.forward_tls");
	is(cfg->auth.max_failures, 5, "auth.max_failures");
	is(cfg->auth.max_failures_per_ip, 50, "auth.max_failures_per_ip");
	is_str(cfg->dns.trust_anchors, "/etc/anchors", "dns.trust_anchors");
	c = config_certificate(cfg, "mx");
	ok(c != NULL && strcmp(c->cert, "/st/certs/mx.crt") == 0 &&
	    strcmp(c->key, "/st/certs/mx.key") == 0, "a certificate with no files lives in "
	    "<state>/certs");
	c = config_certificate(cfg, "ext");
	ok(c != NULL && strcmp(c->cert, "/etc/x.pem") == 0, "a certificate with its own files");
	ok(config_certificate(cfg, "client") != NULL, "a certificate named only by "
	    "tls.outbound is added with the default files");
	ok(config_certificate(cfg, "default") != NULL, "listeners offering TLS without a "
	    "certificate use 'default'");
	is_str(config_listener_certificate(&cfg->listeners[1]), "default",
	    "the listener's certificate name");
	is(config_listener_tls(cfg, &cfg->listeners[0]), 1, "TLS offered on In");
	is(config_listener_tls(cfg, &cfg->listeners[2]), 1, "AUTH alone needs a "
	    "certificate too");
	is(cfg->policies[1].auth, AUTH_REQUIRED, "auth: required");
	is(cfg->policies[1].auth_requires_tls, 0, "auth_requires_tls: false");
	is(cfg->policies[0].auth_requires_tls, 1, "auth_requires_tls defaults to true");
	is(cfg->policies[2].auth, AUTH_PREFERRED, "auth: true means preferred");
	is(config_destination(cfg, "bank.example")->tls, TLS_OUT_REQUIRED_VERIFY_HOSTED,
	    "destination tls");
	is_str(config_destination(cfg, "bank.example")->certificate, "ext",
	    "destination certificate");
	is(config_destination(cfg, "x.example")->tls, TLS_OUT_DANE, "default tls: dane");
	is(config_tls_version("TLSv1.2"), TLS1_2_VERSION, "TLSv1.2");
	is(config_tls_version(NULL), TLS1_2_VERSION, "the default minimum is TLS 1.2");
	is(config_tls_version("SSLv3"), -1, "SSLv3 is no TLS version");
	config_free(cfg);

	/* Attached files: a source whose path starts with the mark. */
	memset(srcs, 0, sizeof srcs);
	srcs[0].path = (char *)"t.yaml";
	srcs[0].text = (char *)"hostname: a.example\n";
	srcs[0].len = strlen(srcs[0].text);
	srcs[1].path = (char *)"\001/etc/users";
	srcs[1].text = (char *)"alice:$6$x$y\n";
	srcs[1].len = strlen(srcs[1].text);
	srcs[2].path = (char *)"\001/etc/empty";
	srcs[2].text = NULL;
	srcs[2].len = 0;
	cfg = NULL;
	ok(config_parse_sources(srcs, 3, &cfg, err, sizeof err) == 0, "attached files are "
	    "not parsed as YAML");
	if (cfg != NULL) {
		const struct cfg_file *f = config_file(cfg, "/etc/users");

		ok(f != NULL && f->len == 13 && strcmp(f->data, "alice:$6$x$y\n") == 0,
		    "an attached file's bytes");
		ok(config_file(cfg, "/etc/empty") != NULL && config_file(cfg,
		    "/etc/empty")->len == 0, "an empty attached file");
		ok(config_file(cfg, "/etc/other") == NULL, "a file that was not attached");
		is_str(cfg->hostname, "a.example", "the YAML around them still counts");
		config_free(cfg);
	}

	refused("tls: { inbound: { min_version: SSLv3 } }\n",
	    "t.yaml:1: invalid min_version 'SSLv3' (TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)",
	    "an unknown TLS version");
	refused("tls: { inbound: { ciphers: 'NOSUCHCIPHER' } }\n",
	    "t.yaml:1: ciphers: 'NOSUCHCIPHER' names no cipher OpenSSL knows (an OpenSSL "
	    "cipher list, e.g. HIGH:!aNULL)", "a cipher list that selects nothing");
	refused("tls: { outbound: { ciphersuites: 'TLS_NOPE' } }\n",
	    "t.yaml:1: ciphersuites: 'TLS_NOPE' names no cipher OpenSSL knows (TLS 1.3 "
	    "suites, e.g. TLS_AES_256_GCM_SHA384)", "an unknown TLS 1.3 suite");
	refused("tls: { inbound: { certificate: mx } }\n",
	    "t.yaml:1: tls.inbound: a listener names its certificate (listeners: "
	    "certificate:), not tls.inbound", "an inbound certificate in the wrong place");
	refused("certificates: { mx: { cert: /a.pem } }\n",
	    "t.yaml:1: certificate 'mx': give both cert and key, or neither (then they are "
	    "in <paths.state>/certs)", "a certificate with a cert and no key");
	refused("certificates: { 'bad name': {} }\n",
	    "t.yaml:1: invalid certificate name 'bad name' (names match "
	    "^[A-Za-z_][A-Za-z0-9_-]*$, at most 64 characters)", "a bad certificate name");
	refused("auth: { forward: 'mail.example:587' }\n",
	    "t.yaml:1: auth: invalid forward 'mail.example:587' (an IP address with an "
	    "optional :port; smtpd resolves no names)", "auth.forward by name");
	refused("policies: { P: { auth: maybe } }\n",
	    "t.yaml:1: invalid auth 'maybe' (one of: off, preferred, required, false, true)",
	    "an unknown auth value");
	refused("tls: { outbound: { session_cache: true } }\n",
	    "t.yaml:1: unknown key 'session_cache' in tls.outbound",
	    "session resumption is an inbound setting");
	refused("tls: { trust: { sytem: true } }\n",
	    "t.yaml:1: unknown key 'sytem' in tls.trust", "a typo in tls.trust");
	refused("auth: { max_failures: 0 }\n",
	    "t.yaml:1: max_failures must be at least 1, not '0'",
	    "auth.max_failures of 0");
}

int
main(void)
{
	test_tls_keys();
	test_inbound_keys();
	test_design_example();
	test_defaults();
	test_all_keys();
	test_errors();
	test_sizes_durations();
	test_lookups();
	test_builtin();
	test_confd();
	test_sample();
	test_robustness();
	return done_testing();
}
