/*
 * config - read, merge and validate Sallyport's YAML configuration.
 *
 * SUMMARY
 *	config_read_sources() reads the main file and conf.d/ *.yaml (master
 *	only); config_parse_sources() turns those texts into one validated
 *	struct config or one "file:line: what is wrong".  The schema (every
 *	key, its type, default and limits) is defined here and nowhere else:
 *	config.h is its interface, man/sallyport.yaml.5 its documentation and
 *	etc/sallyport.yaml its sample.
 *
 * HOW
 *	Each source is first run through libyaml's event parser to refuse what
 *	a configuration never needs and a hostile file loves: anchors and
 *	aliases (exponential expansion), nesting beyond CFG_MAX_DEPTH, more
 *	than one document, runaway node counts.  Only then is it loaded with
 *	the document API and applied, source after source, onto one struct
 *	config that starts out holding the defaults.  Scalar sections (paths,
 *	smtpd, ...) merge key by key; named maps (policies, smtp_routes,
 *	destinations, bounce_profiles) merge entry by entry, a later entry
 *	replacing the earlier one whole; listeners merge by name, in place, so
 *	their order (which fixes the listening descriptors) stays stable.
 *	Cross references (HAT policy, destination bounce profile) are checked
 *	once everything is merged, with the file and line of the referrer.
 *
 * NOT FOR
 *	Interpreting HAT/RAT match strings (smtpd does), reload policy
 *	(master keeps the old config when this fails), the XML export
 *	(sallyctl), or reading files anywhere but in master: children get
 *	the texts over IPC because they chroot.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "buf.h"
#include "config.h"
#include "hat.h"
#include "xalloc.h"

#define CFG_MAX_SOURCE		(16u * 1024 * 1024)	/* bytes per file */
#define CFG_MAX_DEPTH		16	/* the schema needs 6 */
#define CFG_MAX_EVENTS		(1u << 20)
#define CFG_MAX_LISTENERS	1024
#define CFG_MAX_PROCESSES	1024
#define CFG_MAX_DOMAIN		253
#define NOTFOUND		((size_t)-1)

#define BUILTIN_NAME		"(built-in)"

static const char builtin_yaml[] =
    "# Sallyport built-in default: used when there is no config file.\n"
    "# One private listener on 127.0.0.1:2525 relaying for loopback,\n"
    "# delivery by MX.\n"
    "paths:\n"
    "  spool: /var/spool/sallyport\n"
    "  state: /var/lib/sallyport\n"
    "  run: /run/sallyport\n"
    "  log: /var/log/sallyport\n"
    "listeners:\n"
    "  - name: Default\n"
    "    type: private\n"
    "    address: 127.0.0.1\n"
    "    port: 2525\n"
    "    hat:\n"
    "      - { group: RELAYLIST, match: [\"127.0.0.0/8\", \"::1\"], policy: RELAYED }\n"
    "      - { group: ALL, match: [ALL], policy: BLOCKED }\n"
    "policies:\n"
    "  RELAYED: { action: relay }\n"
    "  BLOCKED: { action: reject }\n";

/* Where an entry was defined: source index and 1-based line. */
struct origin {
	size_t	src;
	int	line;
};

/*
 * Build-time index of one named array of struct config: a hash of names
 * so that merging thousands of routes stays linear, plus where each entry
 * came from.  names[i] points into entry i (which owns the string).
 */
struct nmap {
	const char	**names;
	struct origin	 *orig;
	size_t		  n;
	size_t		  cap;
	size_t		 *slot;		/* entry index + 1; 0 is empty */
	size_t		  nslot;	/* power of two */
	int		  icase;	/* domains compare case-insensitively */
};

struct cfg_parse {
	const struct config_source	*srcs;
	size_t				 isrc;
	yaml_document_t			*doc;
	struct config			*cfg;
	struct nmap			 listeners;
	struct nmap			 policies;
	struct nmap			 routes;
	struct nmap			 destinations;
	struct nmap			 bounces;
	struct nmap			 certs;
	char				*err;
	size_t				 errlen;
};

enum kind {
	K_SPECIAL,	/* handled by the section's own code */
	K_NAME,		/* ^[A-Za-z_][A-Za-z0-9_-]*$ */
	K_HOST,		/* a host name */
	K_PATH,
	K_USER,
	K_ADDR,		/* numeric IPv4 or IPv6 address */
	K_PORT,		/* uint16_t, 1-65535 */
	K_U32,
	K_SIZE,		/* uint64_t, k/M/G */
	K_DUR,		/* uint32_t seconds, s/m/h/d */
	K_BOOL,		/* int */
	K_ENUM,		/* an enum, stored as int */
	K_TEXT,		/* reply text: printable, one line, bounded */
	K_REPLY,	/* "code text": an SMTP reply, code 200-599 */
};

#define CFG_TEXT_MAX	400	/* reply texts fit one SMTP line */

struct enumdef {
	const char	*name;
	int		 value;
};

struct keydef {
	const char		*key;
	enum kind		 kind;
	size_t			 off;
	uint64_t		 min;
	uint64_t		 max;	/* 0: the type's own limit */
	const struct enumdef	*enums;
	const char		*what;	/* K_NAME: "policy", ... */
	unsigned		 bit;	/* or'd into *bits when given */
};

typedef int special_fn(struct cfg_parse *, const struct keydef *,
    yaml_node_t *, void *);

static const struct enumdef listener_types[] = {
	{ "public", LISTENER_PUBLIC },
	{ "private", LISTENER_PRIVATE },
	{ "sinkhole", LISTENER_SINKHOLE },
	{ NULL, 0 },
};

static const struct enumdef policy_actions[] = {
	{ "accept", ACTION_ACCEPT },
	{ "relay", ACTION_RELAY },
	{ "reject", ACTION_REJECT },
	{ "tcprefuse", ACTION_TCPREFUSE },
	{ NULL, 0 },
};

static const struct enumdef rat_actions[] = {
	{ "accept", ACTION_ACCEPT },
	{ "reject", ACTION_REJECT },
	{ NULL, 0 },
};

static const struct enumdef tls_in_values[] = {
	{ "off", TLS_IN_OFF },
	{ "preferred", TLS_IN_PREFERRED },
	{ "required", TLS_IN_REQUIRED },
	{ NULL, 0 },
};

static const struct enumdef auth_values[] = {
	{ "off", AUTH_OFF },
	{ "preferred", AUTH_PREFERRED },
	{ "required", AUTH_REQUIRED },
	{ "false", AUTH_OFF },
	{ "true", AUTH_PREFERRED },
	{ NULL, 0 },
};

static const struct enumdef tls_out_values[] = {
	{ "default", TLS_OUT_DEFAULT },
	{ "off", TLS_OUT_OFF },
	{ "preferred", TLS_OUT_PREFERRED },
	{ "required", TLS_OUT_REQUIRED },
	{ "preferred-verify", TLS_OUT_PREFERRED_VERIFY },
	{ "required-verify", TLS_OUT_REQUIRED_VERIFY },
	{ "required-verify-hosted", TLS_OUT_REQUIRED_VERIFY_HOSTED },
	{ "dane", TLS_OUT_DANE },
	{ NULL, 0 },
};

#define CO(f)	offsetof(struct config, f)

static const struct keydef top_defs[] = {
	{ .key = "hostname", .kind = K_HOST, .off = CO(hostname) },
	{ .key = "paths", .kind = K_SPECIAL },
	{ .key = "users", .kind = K_SPECIAL },
	{ .key = "processes", .kind = K_SPECIAL },
	{ .key = "drain_delay", .kind = K_DUR, .off = CO(drain_delay) },
	{ .key = "smtpd", .kind = K_SPECIAL },
	{ .key = "deliver", .kind = K_SPECIAL },
	{ .key = "queue", .kind = K_SPECIAL },
	{ .key = "listeners", .kind = K_SPECIAL },
	{ .key = "policies", .kind = K_SPECIAL },
	{ .key = "smtp_routes", .kind = K_SPECIAL },
	{ .key = "destinations", .kind = K_SPECIAL },
	{ .key = "bounce_profiles", .kind = K_SPECIAL },
	{ .key = "dns", .kind = K_SPECIAL },
	{ .key = "resource_conservation", .kind = K_SPECIAL },
	{ .key = "aliases", .kind = K_SPECIAL },
	{ .key = "certificates", .kind = K_SPECIAL },
	{ .key = "tls", .kind = K_SPECIAL },
	{ .key = "auth", .kind = K_SPECIAL },
	{ .key = NULL },
};

static const struct keydef tls_defs[] = {
	{ .key = "inbound", .kind = K_SPECIAL },
	{ .key = "outbound", .kind = K_SPECIAL },
	{ .key = "trust", .kind = K_SPECIAL },
	{ .key = "alert_on_failure", .kind = K_BOOL, .off = CO(tls.alert_on_failure) },
	{ .key = NULL },
};

#define RO(f)	offsetof(struct cfg_tls_role, f)

/* tls.inbound ("certificate" is there only to say where it belongs). */
static const struct keydef tls_in_defs[] = {
	{ .key = "min_version", .kind = K_SPECIAL },
	{ .key = "ciphers", .kind = K_SPECIAL },
	{ .key = "ciphersuites", .kind = K_SPECIAL },
	{ .key = "session_cache", .kind = K_BOOL, .off = RO(session_cache) },
	{ .key = "certificate", .kind = K_NAME, .off = RO(certificate),
	  .what = "certificate" },
	{ .key = NULL },
};

static const struct keydef tls_out_defs[] = {
	{ .key = "min_version", .kind = K_SPECIAL },
	{ .key = "ciphers", .kind = K_SPECIAL },
	{ .key = "ciphersuites", .kind = K_SPECIAL },
	{ .key = "certificate", .kind = K_NAME, .off = RO(certificate),
	  .what = "certificate" },
	{ .key = NULL },
};

static const struct keydef trust_defs[] = {
	{ .key = "system", .kind = K_BOOL, .off = CO(tls.trust.system) },
	{ .key = "system_file", .kind = K_PATH, .off = CO(tls.trust.system_file) },
	{ .key = "custom", .kind = K_BOOL, .off = CO(tls.trust.custom) },
	{ .key = "custom_file", .kind = K_PATH, .off = CO(tls.trust.custom_file) },
	{ .key = NULL },
};

static const struct keydef auth_defs[] = {
	{ .key = "users_file", .kind = K_PATH, .off = CO(auth.users_file) },
	{ .key = "forward", .kind = K_SPECIAL },
	{ .key = "forward_tls", .kind = K_ENUM, .off = CO(auth.forward_tls),
	  .enums = tls_out_values },
	{ .key = "max_failures", .kind = K_U32, .off = CO(auth.max_failures),
	  .min = 1 },
	{ .key = "max_failures_per_ip", .kind = K_U32,
	  .off = CO(auth.max_failures_per_ip), .min = 1 },
	{ .key = NULL },
};

static const struct keydef certificate_defs[] = {
	{ .key = "cert", .kind = K_PATH, .off = offsetof(struct cfg_certificate, cert) },
	{ .key = "key", .kind = K_PATH, .off = offsetof(struct cfg_certificate, key) },
	{ .key = NULL },
};

static const struct keydef dns_defs[] = {
	{ .key = "servers", .kind = K_SPECIAL },
	{ .key = "timeout", .kind = K_DUR, .off = CO(dns.timeout) },
	{ .key = "trust_anchors", .kind = K_PATH, .off = CO(dns.trust_anchors) },
	{ .key = NULL },
};

static const struct keydef rescon_defs[] = {
	{ .key = "memory_start", .kind = K_U32, .off = CO(rescon.memory_start),
	  .min = 1, .max = 100 },
	{ .key = "memory_halt", .kind = K_U32, .off = CO(rescon.memory_halt),
	  .min = 1, .max = 100 },
	{ .key = "queue_start", .kind = K_U32, .off = CO(rescon.queue_start),
	  .min = 1, .max = 100 },
	{ .key = "queue_halt", .kind = K_U32, .off = CO(rescon.queue_halt),
	  .min = 1, .max = 100 },
	{ .key = "max_delay", .kind = K_DUR, .off = CO(rescon.max_delay) },
	{ .key = "meminfo", .kind = K_PATH, .off = CO(rescon.meminfo) },
	{ .key = NULL },
};

static const struct keydef paths_defs[] = {
	{ .key = "spool", .kind = K_PATH, .off = CO(paths.spool) },
	{ .key = "state", .kind = K_PATH, .off = CO(paths.state) },
	{ .key = "run", .kind = K_PATH, .off = CO(paths.run) },
	{ .key = "log", .kind = K_PATH, .off = CO(paths.log) },
	{ .key = NULL },
};

static const struct keydef users_defs[] = {
	{ .key = "net", .kind = K_USER, .off = CO(users.net) },
	{ .key = "queue", .kind = K_USER, .off = CO(users.queue) },
	{ .key = NULL },
};

static const struct keydef processes_defs[] = {
	{ .key = "smtpd", .kind = K_U32, .off = CO(processes.smtpd),
	  .max = CFG_MAX_PROCESSES },
	{ .key = "deliver", .kind = K_U32, .off = CO(processes.deliver),
	  .min = 1, .max = CFG_MAX_PROCESSES },
	{ .key = NULL },
};

static const struct keydef smtpd_defs[] = {
	{ .key = "idle_timeout", .kind = K_DUR, .off = CO(smtpd.idle_timeout),
	  .min = 1 },
	{ .key = "session_timeout", .kind = K_DUR,
	  .off = CO(smtpd.session_timeout), .min = 1 },
	{ .key = "max_errors", .kind = K_U32, .off = CO(smtpd.max_errors),
	  .min = 1 },
	{ .key = "max_connections", .kind = K_U32,
	  .off = CO(smtpd.max_connections), .min = 1 },
	{ .key = NULL },
};

static const struct keydef deliver_defs[] = {
	{ .key = "connect_timeout", .kind = K_DUR,
	  .off = CO(deliver.connect_timeout), .min = 1 },
	{ .key = "command_timeout", .kind = K_DUR,
	  .off = CO(deliver.command_timeout), .min = 1 },
	{ .key = "idle_reuse", .kind = K_DUR, .off = CO(deliver.idle_reuse) },
	{ .key = "dns_timeout", .kind = K_DUR, .off = CO(deliver.dns_timeout),
	  .min = 1 },
	{ .key = NULL },
};

static const struct keydef queue_defs[] = {
	{ .key = "map_size", .kind = K_SIZE, .off = CO(queue.map_size),
	  .min = 1024 * 1024 },
	{ .key = "body_file_threshold", .kind = K_SIZE,
	  .off = CO(queue.body_file_threshold) },
	{ .key = NULL },
};

#define LO(f)	offsetof(struct cfg_listener, f)

static const struct keydef listener_defs[] = {
	{ .key = "name", .kind = K_NAME, .off = LO(name), .what = "listener" },
	{ .key = "type", .kind = K_ENUM, .off = LO(type),
	  .enums = listener_types },
	{ .key = "address", .kind = K_ADDR, .off = LO(address) },
	{ .key = "port", .kind = K_PORT, .off = LO(port), .bit = 1 },
	{ .key = "sinkhole_queue", .kind = K_BOOL, .off = LO(sinkhole_queue) },
	{ .key = "hat", .kind = K_SPECIAL },
	{ .key = "rat", .kind = K_SPECIAL },
	{ .key = "default_policy", .kind = K_NAME, .off = LO(default_policy_name),
	  .what = "policy" },
	{ .key = "default_domain", .kind = K_HOST, .off = LO(default_domain) },
	{ .key = "domain_map", .kind = K_SPECIAL },
	{ .key = "masquerade", .kind = K_SPECIAL },
	{ .key = "certificate", .kind = K_NAME, .off = LO(certificate),
	  .what = "certificate" },
	{ .key = NULL },
};

static const struct keydef hat_defs[] = {
	{ .key = "group", .kind = K_NAME,
	  .off = offsetof(struct cfg_hat_entry, group), .what = "sender group" },
	{ .key = "match", .kind = K_SPECIAL },
	{ .key = "policy", .kind = K_NAME,
	  .off = offsetof(struct cfg_hat_entry, policy_name), .what = "policy" },
	{ .key = NULL },
};

/* A RAT entry as written: match may list several, expanded afterwards. */
struct rat_src {
	char	**match;
	size_t	  nmatch;
	int	  action;
	char	 *reply;
	int	  bypass_rate_limit;
};

static const struct keydef rat_defs[] = {
	{ .key = "match", .kind = K_SPECIAL },
	{ .key = "action", .kind = K_ENUM, .off = offsetof(struct rat_src, action),
	  .enums = rat_actions, .bit = 1 },
	{ .key = "reply", .kind = K_REPLY, .off = offsetof(struct rat_src, reply) },
	{ .key = "bypass_rate_limit", .kind = K_BOOL,
	  .off = offsetof(struct rat_src, bypass_rate_limit) },
	{ .key = NULL },
};

#define PO(f)	offsetof(struct cfg_policy, f)

static const struct keydef policy_defs[] = {
	{ .key = "action", .kind = K_ENUM, .off = PO(action),
	  .enums = policy_actions, .bit = POL_ACTION },
	{ .key = "max_message_size", .kind = K_SIZE, .off = PO(max_message_size),
	  .bit = POL_MAX_MESSAGE_SIZE },
	{ .key = "max_rcpts_per_msg", .kind = K_U32,
	  .off = PO(max_rcpts_per_msg), .min = 1, .bit = POL_MAX_RCPTS_PER_MSG },
	{ .key = "tls", .kind = K_ENUM, .off = PO(tls), .enums = tls_in_values,
	  .bit = POL_TLS },
	{ .key = "max_conns_per_ip", .kind = K_U32, .off = PO(max_conns_per_ip),
	  .bit = POL_MAX_CONNS_PER_IP },
	{ .key = "max_msgs_per_conn", .kind = K_U32, .off = PO(max_msgs_per_conn),
	  .bit = POL_MAX_MSGS_PER_CONN },
	{ .key = "max_rcpts_per_hour", .kind = K_U32,
	  .off = PO(max_rcpts_per_hour), .bit = POL_MAX_RCPTS_PER_HOUR },
	{ .key = "max_rcpts_per_hour_code", .kind = K_U32,
	  .off = PO(rate_limit_code), .min = 400, .max = 599,
	  .bit = POL_RATE_LIMIT_CODE },
	{ .key = "max_rcpts_per_hour_text", .kind = K_TEXT,
	  .off = PO(rate_limit_text), .bit = POL_RATE_LIMIT_TEXT },
	{ .key = "banner_code", .kind = K_U32, .off = PO(banner_code),
	  .min = 200, .max = 299, .bit = POL_BANNER_CODE },
	{ .key = "banner_text", .kind = K_TEXT, .off = PO(banner_text),
	  .bit = POL_BANNER_TEXT },
	{ .key = "reject_banner_code", .kind = K_U32,
	  .off = PO(reject_banner_code), .min = 400, .max = 599,
	  .bit = POL_REJECT_BANNER_CODE },
	{ .key = "reject_banner_text", .kind = K_TEXT,
	  .off = PO(reject_banner_text), .bit = POL_REJECT_BANNER_TEXT },
	{ .key = "verify_sender_domain", .kind = K_BOOL,
	  .off = PO(verify_sender_domain), .bit = POL_VERIFY_SENDER },
	{ .key = "verify_sender_code", .kind = K_U32,
	  .off = PO(verify_sender_code), .min = 500, .max = 599,
	  .bit = POL_VERIFY_SENDER_CODE },
	{ .key = "verify_sender_tempfail_code", .kind = K_U32,
	  .off = PO(verify_sender_tempfail_code), .min = 400, .max = 499,
	  .bit = POL_VERIFY_SENDER_TEMP },
	{ .key = "dhap_max_invalid_rcpts_per_hour", .kind = K_U32,
	  .off = PO(dhap_max_invalid_rcpts_per_hour), .bit = POL_DHAP_MAX },
	{ .key = "auth", .kind = K_ENUM, .off = PO(auth), .enums = auth_values,
	  .bit = POL_AUTH },
	{ .key = "auth_requires_tls", .kind = K_BOOL, .off = PO(auth_requires_tls),
	  .bit = POL_AUTH_REQUIRES_TLS },
	{ .key = NULL },
};

static const struct keydef destination_defs[] = {
	{ .key = "max_conns", .kind = K_U32,
	  .off = offsetof(struct cfg_destination, max_conns), .min = 1 },
	{ .key = "tls", .kind = K_ENUM, .off = offsetof(struct cfg_destination, tls),
	  .enums = tls_out_values },
	{ .key = "bounce_profile", .kind = K_NAME,
	  .off = offsetof(struct cfg_destination, bounce_profile),
	  .what = "bounce profile" },
	{ .key = "certificate", .kind = K_NAME,
	  .off = offsetof(struct cfg_destination, certificate),
	  .what = "certificate" },
	{ .key = NULL },
};

#define BO(f)	offsetof(struct cfg_bounce_profile, f)

static const struct keydef bounce_defs[] = {
	{ .key = "initial_retry", .kind = K_DUR, .off = BO(initial_retry),
	  .min = 1 },
	{ .key = "max_retry", .kind = K_DUR, .off = BO(max_retry), .min = 1 },
	{ .key = "max_queue_time", .kind = K_DUR, .off = BO(max_queue_time) },
	{ .key = "max_attempts", .kind = K_U32, .off = BO(max_attempts),
	  .min = 1 },
	{ .key = NULL },
};

/* ---- small helpers ---- */

static int
ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
ascii_casecmp(const char *a, const char *b)
{
	int ca, cb;

	do {
		ca = ascii_lower((unsigned char)*a++);
		cb = ascii_lower((unsigned char)*b++);
	} while (ca == cb && ca != '\0');
	return ca - cb;
}

/* Domains compare case-insensitively and ignore one trailing dot. */
static int
domain_eq(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;

	if (la > 1 && a[la - 1] == '.')
		la--;
	if (lb > 1 && b[lb - 1] == '.')
		lb--;
	if (la != lb)
		return 0;
	for (i = 0; i < la; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

static int
valid_name(const char *s)
{
	const char *p;

	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
	    *s == '_'))
		return 0;
	for (p = s + 1; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* Host and domain names: letters, digits, '.', '-', '_' and UTF-8 (IDN is
 * converted where it is used); a leading '.' is allowed for ".sub" forms. */
static int
valid_domain(const char *s)
{
	const unsigned char *p;
	size_t n = strlen(s);

	if (n == 0 || n > CFG_MAX_DOMAIN || strcmp(s, ".") == 0)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		    *p == '_' || *p >= 0x80))
			return 0;
	return strstr(s, "..") == NULL;
}

static int
valid_user(const char *s)
{
	const char *p;

	if (*s == '\0' || *s == '-' || strlen(s) > 64)
		return 0;
	for (p = s; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
		    *p == '.'))
			return 0;
	return 1;
}

/* Match strings: anything printable without blanks. */
static int
valid_token(const char *s)
{
	const unsigned char *p;

	if (*s == '\0')
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int
valid_text(const char *s)
{
	const unsigned char *p;

	if (*s == '\0' || strlen(s) > CFG_TEXT_MAX)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* "550 text" or "550 5.1.1 text". */
static int
valid_reply(const char *s)
{
	if (s[0] < '2' || s[0] > '5' || s[0] == '3' || s[1] < '0' ||
	    s[1] > '9' || s[2] < '0' || s[2] > '9' || s[3] != ' ')
		return 0;
	return valid_text(s + 4);
}

static int
valid_path(const char *s)
{
	const unsigned char *p;

	if (*s == '\0' || strlen(s) >= PATH_MAX)
		return 0;
	for (p = (const unsigned char *)s; *p; p++)
		if (*p < ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int
valid_ip(const char *s)
{
	unsigned char a[16];

	return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

/* Unsigned decimal, digits only, at most max. */
static int
parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (max - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Digits then at most one suffix character; returns the suffix or -1. */
static int
parse_with_suffix(const char *s, const char *suffixes, uint64_t *num)
{
	size_t n;
	char digits[32];
	int suffix = 0;

	if (s == NULL || (n = strlen(s)) == 0)
		return -1;
	if (strchr(suffixes, s[n - 1]) != NULL) {
		suffix = (unsigned char)s[n - 1];
		n--;
	}
	if (n == 0 || n >= sizeof digits)
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_u64(digits, UINT64_MAX, num) < 0)
		return -1;
	return suffix;
}

int
config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mul = 1;
	int suffix;

	if ((suffix = parse_with_suffix(s, "kKmMgG", &v)) < 0)
		return -1;
	switch (ascii_lower(suffix)) {
	case 'k':
		mul = 1024;
		break;
	case 'm':
		mul = 1024 * 1024;
		break;
	case 'g':
		mul = 1024 * 1024 * 1024;
		break;
	}
	if (v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

int
config_parse_duration(const char *s, uint32_t *out)
{
	uint64_t v, mul = 1;
	int suffix;

	if ((suffix = parse_with_suffix(s, "smhd", &v)) < 0)
		return -1;
	switch (suffix) {
	case 'm':
		mul = 60;
		break;
	case 'h':
		mul = 3600;
		break;
	case 'd':
		mul = 86400;
		break;
	}
	if (v > UINT32_MAX / mul)
		return -1;
	*out = (uint32_t)(v * mul);
	return 0;
}

static const char *
src_name(const struct cfg_parse *p, size_t src)
{
	if (src < NOTFOUND && p->srcs != NULL && p->srcs[src].path != NULL)
		return p->srcs[src].path;
	return "(config)";
}

static int	perr_src(struct cfg_parse *, size_t, size_t, const char *, ...)
		    __attribute__((format(printf, 4, 5)));
static int	perr(struct cfg_parse *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static int
perr_vsrc(struct cfg_parse *p, size_t src, size_t line, const char *fmt,
    va_list ap)
{
	struct buf b;
	unsigned char *c;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	buf_init(&b, 0);
	buf_printf(&b, "%s:%zu: ", src_name(p, src), line);
	buf_vprintf(&b, fmt, ap);
	/* Config text is quoted back: keep control bytes out of logs. */
	for (c = (unsigned char *)b.data; *c; c++)
		if (*c < ' ' || *c == 0x7f)
			*c = '?';
	snprintf(p->err, p->errlen, "%s", b.data);
	buf_free(&b);
	return -1;
}

static int
perr_src(struct cfg_parse *p, size_t src, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_vsrc(p, src, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error in the source being applied. */
static int
perr(struct cfg_parse *p, size_t line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	perr_vsrc(p, p->isrc, line, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t
node_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

static int
int_line(const yaml_node_t *n)
{
	return n->start_mark.line >= INT_MAX ? INT_MAX :
	    (int)n->start_mark.line + 1;
}

static yaml_node_t *
get_node(struct cfg_parse *p, int id)
{
	return yaml_document_get_node(p->doc, id);
}

static int
is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return 0;
	v = (const char *)n->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
	    strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *
node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "a value";
	}
}

/* The text of a scalar node; NULL and an error for anything else. */
static const char *
get_scalar(struct cfg_parse *p, yaml_node_t *n, const char *key)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return perr(p, node_line(n), "'%s' must be a single value, "
		    "not %s", key, node_kind(n)), NULL;
	if (is_null(n))
		return perr(p, node_line(n), "'%s' needs a value", key), NULL;
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return perr(p, node_line(n), "'%s' contains a NUL byte", key),
		    NULL;
	return v;
}

/* A mapping key: a non-empty string without NUL. */
static const char *
get_key(struct cfg_parse *p, yaml_node_t *k)
{
	const char *v;

	if (k->type != YAML_SCALAR_NODE || is_null(k))
		return perr(p, node_line(k), "a key must be a plain string"),
		    NULL;
	v = (const char *)k->data.scalar.value;
	if (strlen(v) != k->data.scalar.length)
		return perr(p, node_line(k), "a key contains a NUL byte"), NULL;
	return v;
}

/* A section that must be a mapping; null (written but empty) is none. */
static int
want_mapping(struct cfg_parse *p, yaml_node_t *n, const char *what)
{
	if (n->type == YAML_MAPPING_NODE)
		return 1;
	if (is_null(n))
		return 0;
	return perr(p, node_line(n), "%s must be a mapping, not %s", what,
	    node_kind(n));
}

static int
want_sequence(struct cfg_parse *p, yaml_node_t *n, const char *what)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return 1;
	if (is_null(n))
		return 0;
	return perr(p, node_line(n), "%s must be a list, not %s", what,
	    node_kind(n));
}

static void
free_strv(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* One string or a list of them (match:, smtp_routes values). */
static int
get_strlist(struct cfg_parse *p, yaml_node_t *n, const char *key,
    char ***out, size_t *nout)
{
	yaml_node_item_t *it;
	yaml_node_t *item;
	const char *s;
	char **v;
	size_t i = 0, cnt;

	if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
		if ((s = get_scalar(p, n, key)) == NULL)
			return -1;
		v = xcalloc(1, sizeof *v);
		v[0] = xstrdup(s);
		*out = v;
		*nout = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return perr(p, node_line(n), "'%s' must be a value or a list of "
		    "values", key);
	cnt = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	v = xcalloc(cnt ? cnt : 1, sizeof *v);
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	    it++) {
		item = get_node(p, *it);
		if ((s = get_scalar(p, item, key)) == NULL) {
			free_strv(v, i);
			return -1;
		}
		v[i++] = xstrdup(s);
	}
	*out = v;
	*nout = i;
	return 0;
}

static int
lookup_enum(const struct enumdef *e, const char *s, int *out)
{
	for (; e->name != NULL; e++)
		if (ascii_casecmp(e->name, s) == 0) {
			*out = e->value;
			return 0;
		}
	return -1;
}

static int
bad_enum(struct cfg_parse *p, yaml_node_t *v, const struct keydef *d,
    const char *s)
{
	const struct enumdef *e;
	struct buf b;

	buf_init(&b, 0);
	for (e = d->enums; e->name != NULL; e++)
		buf_printf(&b, "%s%s", e == d->enums ? "" : ", ", e->name);
	perr(p, node_line(v), "invalid %s '%s' (one of: %s)", d->key, s, b.data);
	buf_free(&b);
	return -1;
}

static int
bad_range(struct cfg_parse *p, yaml_node_t *v, const struct keydef *d,
    const char *s, uint64_t max)
{
	if (max == UINT32_MAX)
		return perr(p, node_line(v), "%s must be at least %llu, not '%s'",
		    d->key, (unsigned long long)d->min, s);
	return perr(p, node_line(v), "%s must be %llu to %llu, not '%s'",
	    d->key, (unsigned long long)d->min, (unsigned long long)max, s);
}

/* Sets one typed field of base from scalar node v. */
static int
set_field(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *base)
{
	void *f = (char *)base + d->off;
	const char *s;
	uint64_t u, max;
	uint32_t dur;
	int e;

	if ((s = get_scalar(p, v, d->key)) == NULL)
		return -1;
	switch (d->kind) {
	case K_NAME:
		if (!valid_name(s))
			return perr(p, node_line(v), "invalid %s name '%s' (names "
			    "match ^[A-Za-z_][A-Za-z0-9_-]*$)", d->what, s);
		break;
	case K_HOST:
		if (!valid_domain(s) || *s == '.')
			return perr(p, node_line(v), "invalid %s '%s'", d->key, s);
		break;
	case K_PATH:
		if (!valid_path(s))
			return perr(p, node_line(v), "invalid path '%s' for %s",
			    s, d->key);
		break;
	case K_USER:
		if (!valid_user(s))
			return perr(p, node_line(v), "invalid user name '%s' for "
			    "%s", s, d->key);
		break;
	case K_ADDR:
		if (!valid_ip(s))
			return perr(p, node_line(v), "invalid address '%s' (an "
			    "IPv4 or IPv6 address)", s);
		break;
	case K_PORT:
		if (parse_u64(s, UINT64_MAX, &u) < 0 || u < 1 || u > 65535)
			return perr(p, node_line(v), "invalid port '%s' "
			    "(1-65535)", s);
		*(uint16_t *)f = (uint16_t)u;
		return 0;
	case K_U32:
		max = d->max ? d->max : UINT32_MAX;
		if (parse_u64(s, d->max ? UINT64_MAX : UINT32_MAX, &u) < 0)
			return perr(p, node_line(v), "invalid number '%s' for %s",
			    s, d->key);
		if (u < d->min || u > max)
			return bad_range(p, v, d, s, max);
		*(uint32_t *)f = (uint32_t)u;
		return 0;
	case K_SIZE:
		if (config_parse_size(s, &u) < 0)
			return perr(p, node_line(v), "invalid size '%s' for %s "
			    "(a number with optional k, M or G)", s, d->key);
		if (u < d->min)
			return perr(p, node_line(v), "%s must be at least %llu "
			    "bytes, not '%s'", d->key, (unsigned long long)d->min,
			    s);
		*(uint64_t *)f = u;
		return 0;
	case K_DUR:
		if (config_parse_duration(s, &dur) < 0)
			return perr(p, node_line(v), "invalid duration '%s' for %s "
			    "(a number with optional s, m, h or d)", s, d->key);
		if (dur < d->min)
			return perr(p, node_line(v), "%s must be at least %llus, "
			    "not '%s'", d->key, (unsigned long long)d->min, s);
		*(uint32_t *)f = dur;
		return 0;
	case K_BOOL:
		if (ascii_casecmp(s, "true") == 0 || ascii_casecmp(s, "yes") == 0 ||
		    ascii_casecmp(s, "on") == 0)
			*(int *)f = 1;
		else if (ascii_casecmp(s, "false") == 0 ||
		    ascii_casecmp(s, "no") == 0 || ascii_casecmp(s, "off") == 0)
			*(int *)f = 0;
		else
			return perr(p, node_line(v), "invalid %s '%s' (true or "
			    "false)", d->key, s);
		return 0;
	case K_ENUM:
		if (lookup_enum(d->enums, s, &e) < 0)
			return bad_enum(p, v, d, s);
		*(int *)f = e;
		return 0;
	case K_TEXT:
		if (!valid_text(s))
			return perr(p, node_line(v), "invalid %s '%s' (printable "
			    "text on one line, at most %d bytes)", d->key, s,
			    CFG_TEXT_MAX);
		break;
	case K_REPLY:
		if (!valid_reply(s))
			return perr(p, node_line(v), "invalid %s '%s' (an SMTP "
			    "reply: a code 200-599, a space, text)", d->key, s);
		break;
	case K_SPECIAL:
		return -1;
	}
	free(*(char **)f);
	*(char **)f = xstrdup(s);
	return 0;
}

/*
 * Applies mapping n onto base: every key must be in defs, at most once.
 * K_SPECIAL keys go to special(p, def, value node, ctx).  The
 * bits of the keys given are or'd into *bits.
 */
static int
apply_map(struct cfg_parse *p, yaml_node_t *n, const char *section,
    const struct keydef *defs, void *base, unsigned *bits,
    special_fn *special, void *ctx)
{
	yaml_node_pair_t *pr;
	yaml_node_t *k, *v;
	const struct keydef *d;
	const char *key;
	uint64_t seen = 0;
	int r;

	if ((r = want_mapping(p, n, section)) <= 0)
		return r;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		k = get_node(p, pr->key);
		v = get_node(p, pr->value);
		if ((key = get_key(p, k)) == NULL)
			return -1;
		for (d = defs; d->key != NULL; d++)
			if (strcmp(d->key, key) == 0)
				break;
		if (d->key == NULL)
			return perr(p, node_line(k), "unknown key '%s' in %s",
			    key, section);
		if (seen & (1ULL << (d - defs)))
			return perr(p, node_line(k), "duplicate key '%s' in %s",
			    key, section);
		seen |= 1ULL << (d - defs);
		if (d->kind == K_SPECIAL)
			r = special(p, d, v, ctx);
		else
			r = set_field(p, d, v, base);
		if (r < 0)
			return -1;
		if (bits != NULL)
			*bits |= d->bit;
	}
	return 0;
}

/* ---- named-array index ---- */

static uint64_t
name_hash(const char *s, int icase)
{
	uint64_t h = 14695981039346656037ULL;
	size_t n = strlen(s);

	if (icase && n > 1 && s[n - 1] == '.')
		n--;
	for (; n > 0; n--, s++) {
		h ^= (uint64_t)(icase ? ascii_lower((unsigned char)*s) :
		    (unsigned char)*s);
		h *= 1099511628211ULL;
	}
	return h;
}

static int
name_eq(const char *a, const char *b, int icase)
{
	return icase ? domain_eq(a, b) : strcmp(a, b) == 0;
}

static size_t
nmap_find(const struct nmap *m, const char *name)
{
	size_t i, mask;

	if (m->nslot == 0)
		return NOTFOUND;
	mask = m->nslot - 1;
	for (i = name_hash(name, m->icase) & mask; m->slot[i] != 0;
	    i = (i + 1) & mask)
		if (name_eq(m->names[m->slot[i] - 1], name, m->icase))
			return m->slot[i] - 1;
	return NOTFOUND;
}

static void
nmap_slot_insert(struct nmap *m, size_t idx)
{
	size_t i, mask = m->nslot - 1;

	for (i = name_hash(m->names[idx], m->icase) & mask; m->slot[i] != 0;
	    i = (i + 1) & mask)
		;
	m->slot[i] = idx + 1;
}

/* Makes room for one more entry, also in the caller's array arr of
 * elements of size el, and returns arr (perhaps moved). */
static void *
nmap_grow(struct nmap *m, void *arr, size_t el)
{
	size_t i;

	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 8;
		arr = xrealloc(arr, m->cap * el);
		m->names = xrealloc(m->names, m->cap * sizeof *m->names);
		m->orig = xrealloc(m->orig, m->cap * sizeof *m->orig);
	}
	if ((m->n + 1) * 2 > m->nslot) {
		free(m->slot);
		m->nslot = m->nslot ? m->nslot * 2 : 16;
		m->slot = xcalloc(m->nslot, sizeof *m->slot);
		for (i = 0; i < m->n; i++)
			nmap_slot_insert(m, i);
	}
	return arr;
}

/* Appends after nmap_grow; returns the new entry's index. */
static size_t
nmap_add(struct nmap *m, const char *name, size_t src, int line)
{
	size_t idx = m->n++;

	m->names[idx] = name;
	m->orig[idx].src = src;
	m->orig[idx].line = line;
	nmap_slot_insert(m, idx);
	return idx;
}

static void
nmap_set(struct nmap *m, size_t idx, const char *name, size_t src, int line)
{
	m->names[idx] = name;
	m->orig[idx].src = src;
	m->orig[idx].line = line;
}

static void
nmap_free(struct nmap *m)
{
	free(m->names);
	free(m->orig);
	free(m->slot);
	memset(m, 0, sizeof *m);
}

/*
 * Where a named entry defined in this source goes: NOTFOUND to append,
 * an index to replace one from an earlier source, or an error when the
 * same source names it twice.
 */
static int
nmap_place(struct cfg_parse *p, struct nmap *m, const char *name,
    const char *what, size_t line, size_t *idx)
{
	*idx = nmap_find(m, name);
	if (*idx != NOTFOUND && m->orig[*idx].src == p->isrc)
		return perr(p, line, "duplicate %s '%s' (also at line %d)", what,
		    name, m->orig[*idx].line);
	return 0;
}

/* ---- freeing ---- */

static void
free_strmap(struct cfg_strmap *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].from);
		free(m[i].to);
	}
	free(m);
}

static void
free_listener(struct cfg_listener *l)
{
	size_t i;

	free(l->name);
	free(l->address);
	for (i = 0; i < l->nhat; i++) {
		free(l->hat[i].group);
		free_strv(l->hat[i].match, l->hat[i].nmatch);
		free(l->hat[i].compiled);
		free(l->hat[i].policy_name);
	}
	free(l->hat);
	for (i = 0; i < l->nrat; i++) {
		free(l->rat[i].match);
		free(l->rat[i].reply);
	}
	free(l->rat);
	free(l->default_policy_name);
	free(l->default_domain);
	free_strmap(l->domain_map, l->ndomain_map);
	free_strmap(l->masquerade, l->nmasquerade);
	free(l->certificate);
}

static void
free_policy(struct cfg_policy *pol)
{
	free(pol->name);
	free(pol->rate_limit_text);
	free(pol->banner_text);
	free(pol->reject_banner_text);
}

static void
free_alias(struct cfg_alias *a)
{
	free(a->from);
	free_strv(a->to, a->nto);
}

static void
free_route(struct cfg_route *r)
{
	size_t i;

	free(r->domain);
	for (i = 0; i < r->nhosts; i++)
		free(r->hosts[i].host);
	free(r->hosts);
}

static void
free_destination(struct cfg_destination *d)
{
	free(d->domain);
	free(d->bounce_profile);
	free(d->certificate);
}

static void
free_certificate(struct cfg_certificate *c)
{
	free(c->name);
	free(c->cert);
	free(c->key);
}

static void
free_tls_role(struct cfg_tls_role *r)
{
	free(r->min_version);
	free(r->ciphers);
	free(r->ciphersuites);
	free(r->certificate);
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->hostname);
	free(cfg->paths.spool);
	free(cfg->paths.state);
	free(cfg->paths.run);
	free(cfg->paths.log);
	free(cfg->users.net);
	free(cfg->users.queue);
	for (i = 0; i < cfg->nlisteners; i++)
		free_listener(&cfg->listeners[i]);
	free(cfg->listeners);
	for (i = 0; i < cfg->npolicies; i++)
		free_policy(&cfg->policies[i]);
	free(cfg->policies);
	free_strv(cfg->dns.servers, cfg->dns.nservers);
	free(cfg->dns.trust_anchors);
	free(cfg->rescon.meminfo);
	for (i = 0; i < cfg->naliases; i++)
		free_alias(&cfg->aliases[i]);
	free(cfg->aliases);
	for (i = 0; i < cfg->nroutes; i++)
		free_route(&cfg->routes[i]);
	free(cfg->routes);
	for (i = 0; i < cfg->ndestinations; i++)
		free_destination(&cfg->destinations[i]);
	free(cfg->destinations);
	for (i = 0; i < cfg->nbounce_profiles; i++)
		free(cfg->bounce_profiles[i].name);
	free(cfg->bounce_profiles);
	for (i = 0; i < cfg->ncertificates; i++)
		free_certificate(&cfg->certificates[i]);
	free(cfg->certificates);
	for (i = 0; i < cfg->nfiles; i++) {
		free(cfg->files[i].path);
		free(cfg->files[i].data);
	}
	free(cfg->files);
	free_tls_role(&cfg->tls.inbound);
	free_tls_role(&cfg->tls.outbound);
	free(cfg->tls.trust.system_file);
	free(cfg->tls.trust.custom_file);
	free(cfg->auth.users_file);
	if (cfg->auth.forward != NULL)
		free(cfg->auth.forward->host);
	free(cfg->auth.forward);
	free(cfg);
}

/* ---- listeners ---- */

static int
hat_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct cfg_hat_entry *h = ctx;

	(void)d;
	return get_strlist(p, v, "match", &h->match, &h->nmatch);
}

static int
parse_hat_entry(struct cfg_parse *p, yaml_node_t *n, struct cfg_hat_entry *h)
{
	size_t i;

	memset(h, 0, sizeof *h);
	h->line = int_line(n);
	if (n->type != YAML_MAPPING_NODE)
		return perr(p, node_line(n), "a hat entry must be a mapping, "
		    "not %s", node_kind(n));
	if (apply_map(p, n, "hat entry", hat_defs, h, NULL, hat_special, h) < 0)
		return -1;
	if (h->group == NULL)
		return perr(p, node_line(n), "hat entry needs a group");
	if (h->nmatch == 0)
		return perr(p, node_line(n), "hat entry '%s' needs a match",
		    h->group);
	for (i = 0; i < h->nmatch; i++)
		if (!valid_token(h->match[i]))
			return perr(p, node_line(n), "hat entry '%s': invalid "
			    "match '%s'", h->group, h->match[i]);
	if (h->policy_name == NULL)
		return perr(p, node_line(n), "hat entry '%s' needs a policy",
		    h->group);
	return 0;
}

static int
rat_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct rat_src *r = ctx;

	(void)d;
	return get_strlist(p, v, "match", &r->match, &r->nmatch);
}

/* One RAT entry as written; a list of matches becomes several entries. */
static int
parse_rat_entry(struct cfg_parse *p, yaml_node_t *n, struct cfg_listener *l)
{
	struct rat_src r;
	unsigned bits = 0;
	size_t i;
	int rc = -1;

	memset(&r, 0, sizeof r);
	if (n->type != YAML_MAPPING_NODE)
		return perr(p, node_line(n), "a rat entry must be a mapping, "
		    "not %s", node_kind(n));
	if (apply_map(p, n, "rat entry", rat_defs, &r, &bits, rat_special,
	    &r) < 0)
		goto out;
	if (r.nmatch == 0) {
		perr(p, node_line(n), "rat entry needs a match");
		goto out;
	}
	for (i = 0; i < r.nmatch; i++)
		if (!valid_token(r.match[i])) {
			perr(p, node_line(n), "rat entry: invalid match '%s'",
			    r.match[i]);
			goto out;
		}
	if (!(bits & 1)) {
		perr(p, node_line(n), "rat entry needs an action (accept or "
		    "reject)");
		goto out;
	}
	l->rat = xrealloc(l->rat, (l->nrat + r.nmatch) * sizeof *l->rat);
	for (i = 0; i < r.nmatch; i++) {
		l->rat[l->nrat].match = r.match[i];
		r.match[i] = NULL;
		l->rat[l->nrat].action = r.action;
		l->rat[l->nrat].reply = r.reply != NULL ? xstrdup(r.reply) : NULL;
		l->rat[l->nrat].bypass_rate_limit = r.bypass_rate_limit;
		l->rat[l->nrat].line = int_line(n);
		l->nrat++;
	}
	rc = 0;
out:
	free_strv(r.match, r.nmatch);
	free(r.reply);
	return rc;
}

/* An address key or value: "local@domain", "local@" or "@domain"
 * (masquerade, aliases); no spaces or controls, one '@' at most outside
 * quotes is not checked: these come from the administrator. */
static int
valid_addr_pattern(const char *s)
{
	const char *at = strrchr(s, '@');

	if (!valid_token(s) || strlen(s) > 512 || at == NULL)
		return 0;
	return at[1] == '\0' ? at != s : valid_domain(at + 1) && at[1] != '.';
}

/*
 * domain_map (addrs 0): domain -> domain, a key may be ".domain" for its
 * subdomains.  masquerade (addrs 1): "@domain", "user@domain" or a bare
 * domain -> the same kinds.
 */
static int
parse_strmap(struct cfg_parse *p, yaml_node_t *n, const char *what, int addrs,
    struct cfg_strmap **out, size_t *nout)
{
	yaml_node_pair_t *pr;
	yaml_node_t *k, *v;
	const char *from, *to;
	int r, okf, okt;

	if ((r = want_mapping(p, n, what)) <= 0)
		return r;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		k = get_node(p, pr->key);
		v = get_node(p, pr->value);
		if ((from = get_key(p, k)) == NULL ||
		    (to = get_scalar(p, v, from)) == NULL)
			return -1;
		okf = valid_domain(from) || (addrs && valid_addr_pattern(from));
		okt = (valid_domain(to) && *to != '.') ||
		    (addrs && valid_addr_pattern(to));
		if (!okf || !okt)
			return perr(p, node_line(k), "%s: invalid entry '%s: %s'",
			    what, from, to);
		*out = xrealloc(*out, (*nout + 1) * sizeof **out);
		(*out)[*nout].from = xstrdup(from);
		(*out)[*nout].to = xstrdup(to);
		(*nout)++;
	}
	return 0;
}

static int
listener_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct cfg_listener *l = ctx;
	yaml_node_item_t *it;
	size_t cnt;
	int r;

	if (strcmp(d->key, "domain_map") == 0)
		return parse_strmap(p, v, d->key, 0, &l->domain_map, &l->ndomain_map);
	if (strcmp(d->key, "masquerade") == 0)
		return parse_strmap(p, v, d->key, 1, &l->masquerade, &l->nmasquerade);
	if ((r = want_sequence(p, v, d->key)) <= 0)
		return r;
	cnt = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (strcmp(d->key, "hat") == 0) {
		l->hat = xcalloc(cnt ? cnt : 1, sizeof *l->hat);
		for (it = v->data.sequence.items.start;
		    it < v->data.sequence.items.top; it++) {
			r = parse_hat_entry(p, get_node(p, *it), &l->hat[l->nhat]);
			l->nhat++;	/* freed with the listener either way */
			if (r < 0)
				return -1;
		}
		return 0;
	}
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	    it++)
		if (parse_rat_entry(p, get_node(p, *it), l) < 0)
			return -1;
	return 0;
}

static int
parse_listener(struct cfg_parse *p, yaml_node_t *n)
{
	struct config *cfg = p->cfg;
	struct cfg_listener l;
	unsigned bits = 0;
	size_t idx;

	memset(&l, 0, sizeof l);
	l.type = LISTENER_PUBLIC;
	l.line = int_line(n);
	if (n->type != YAML_MAPPING_NODE) {
		perr(p, node_line(n), "a listener must be a mapping, not %s",
		    node_kind(n));
		goto fail;
	}
	if (apply_map(p, n, "listener", listener_defs, &l, &bits,
	    listener_special, &l) < 0)
		goto fail;
	if (l.name == NULL) {
		perr(p, node_line(n), "listener needs a name");
		goto fail;
	}
	if (!(bits & 1)) {
		perr(p, node_line(n), "listener '%s' needs a port", l.name);
		goto fail;
	}
	if (l.sinkhole_queue && l.type != LISTENER_SINKHOLE) {
		perr(p, node_line(n), "listener '%s': sinkhole_queue applies "
		    "only to sinkhole listeners", l.name);
		goto fail;
	}
	if (l.address == NULL)
		l.address = xstrdup("0.0.0.0");
	if (nmap_place(p, &p->listeners, l.name, "listener", node_line(n),
	    &idx) < 0)
		goto fail;
	if (idx != NOTFOUND) {
		free_listener(&cfg->listeners[idx]);
		cfg->listeners[idx] = l;
		nmap_set(&p->listeners, idx, l.name, p->isrc, l.line);
		return 0;
	}
	if (cfg->nlisteners >= CFG_MAX_LISTENERS) {
		perr(p, node_line(n), "too many listeners (at most %d)",
		    CFG_MAX_LISTENERS);
		goto fail;
	}
	cfg->listeners = nmap_grow(&p->listeners, cfg->listeners,
	    sizeof *cfg->listeners);
	cfg->listeners[cfg->nlisteners++] = l;
	nmap_add(&p->listeners, l.name, p->isrc, l.line);
	return 0;
fail:
	free_listener(&l);
	return -1;
}

/* ---- named maps ---- */


/* "host", "host:port", "[v6]", "[v6]:port", or a bare IPv6 address. */
static int
parse_hostport(const char *s, struct cfg_hostport *hp)
{
	const char *end, *colon, *portstr = NULL;
	char *host;
	uint64_t port = 25;
	int ok;

	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL)
			return -1;
		if (end[1] == ':')
			portstr = end + 2;
		else if (end[1] != '\0')
			return -1;
		host = xstrndup(s + 1, (size_t)(end - s - 1));
		ok = valid_ip(host);
	} else if ((colon = strchr(s, ':')) != NULL &&
	    strchr(colon + 1, ':') != NULL) {
		host = xstrdup(s);
		ok = valid_ip(host);
	} else if (colon != NULL) {
		portstr = colon + 1;
		host = xstrndup(s, (size_t)(colon - s));
		ok = valid_domain(host) && *host != '.';
	} else {
		host = xstrdup(s);
		ok = valid_domain(host) && *host != '.';
	}
	if (ok && portstr != NULL &&
	    (parse_u64(portstr, UINT64_MAX, &port) < 0 || port < 1 ||
	    port > 65535))
		ok = 0;
	if (!ok) {
		free(host);
		return -1;
	}
	hp->host = host;
	hp->port = (uint16_t)port;
	return 0;
}


static void
destination_defaults(struct cfg_destination *d)
{
	d->max_conns = 500;
	d->tls = TLS_OUT_DEFAULT;
}


static void
bounce_defaults(struct cfg_bounce_profile *b)
{
	b->initial_retry = 60;
	b->max_retry = 3600;
	b->max_queue_time = 72 * 3600;
	b->max_attempts = 100;
}


/* ---- dns, aliases ---- */

/* "192.0.2.1", "192.0.2.1:5353", "[2001:db8::1]:53" or a bare IPv6. */
static int
valid_server(const char *s)
{
	struct cfg_hostport hp;
	int ok;

	if (parse_hostport(s, &hp) < 0)
		return 0;
	ok = valid_ip(hp.host);
	free(hp.host);
	return ok;
}

static int
dns_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct config *cfg = p->cfg;
	size_t i;

	(void)d;
	(void)ctx;
	free_strv(cfg->dns.servers, cfg->dns.nservers);
	cfg->dns.servers = NULL;
	cfg->dns.nservers = 0;
	if (get_strlist(p, v, "servers", &cfg->dns.servers,
	    &cfg->dns.nservers) < 0)
		return -1;
	for (i = 0; i < cfg->dns.nservers; i++)
		if (!valid_server(cfg->dns.servers[i]))
			return perr(p, node_line(v), "dns: invalid server '%s' "
			    "(an IP address with an optional :port)",
			    cfg->dns.servers[i]);
	return 0;
}

/* "local@domain" or "local@", domain lower-cased. */
static char *
alias_key(const char *s)
{
	char *k = xstrdup(s), *at = strrchr(k, '@'), *c;

	if (at != NULL)
		for (c = at + 1; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	return k;
}

static int
parse_aliases(struct cfg_parse *p, yaml_node_t *n)
{
	struct config *cfg = p->cfg;
	struct cfg_alias a;
	yaml_node_pair_t *pr;
	yaml_node_t *k, *v;
	const char *from;
	size_t i, j;
	int r;

	if ((r = want_mapping(p, n, "aliases")) <= 0)
		return r;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		k = get_node(p, pr->key);
		v = get_node(p, pr->value);
		if ((from = get_key(p, k)) == NULL)
			return -1;
		if (!valid_addr_pattern(from) || from[0] == '@')
			return perr(p, node_line(k), "aliases: invalid address "
			    "'%s' (local@domain or local@)", from);
		memset(&a, 0, sizeof a);
		if (get_strlist(p, v, from, &a.to, &a.nto) < 0)
			return -1;
		for (j = 0; j < a.nto; j++)
			if (strcmp(a.to[j], "/dev/null") != 0 &&
			    (!valid_addr_pattern(a.to[j]) ||
			    strrchr(a.to[j], '@')[1] == '\0' || a.to[j][0] == '@')) {
				perr(p, node_line(k), "aliases: '%s': invalid "
				    "address '%s'", from, a.to[j]);
				free_strv(a.to, a.nto);
				return -1;
			}
		if (a.nto == 0) {
			free_strv(a.to, a.nto);
			return perr(p, node_line(k), "aliases: '%s' expands to "
			    "nothing", from);
		}
		a.from = alias_key(from);
		for (i = 0; i < cfg->naliases; i++)
			if (strcmp(cfg->aliases[i].from, a.from) == 0)
				break;
		if (i < cfg->naliases) {
			free_alias(&cfg->aliases[i]);
			cfg->aliases[i] = a;
			continue;
		}
		cfg->aliases = xrealloc(cfg->aliases, (cfg->naliases + 1) *
		    sizeof *cfg->aliases);
		cfg->aliases[cfg->naliases++] = a;
	}
	return 0;
}

/* ---- TLS, certificates, AUTH ---- */

static const struct enumdef tls_versions[] = {
	{ "TLSv1", TLS1_VERSION },
	{ "TLSv1.1", TLS1_1_VERSION },
	{ "TLSv1.2", TLS1_2_VERSION },
	{ "TLSv1.3", TLS1_3_VERSION },
	{ NULL, 0 },
};

int
config_tls_version(const char *name)
{
	int v;

	if (name == NULL)
		return TLS1_2_VERSION;
	return lookup_enum(tls_versions, name, &v) < 0 ? -1 : v;
}

/* OpenSSL accepts a cipher list if at least one cipher in it exists; a
 * list that selects nothing would make every handshake fail. */
static int
cipher_list_ok(const char *list, int tls13)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	int ok;

	if (ctx == NULL)
		return 0;
	ok = tls13 ? SSL_CTX_set_ciphersuites(ctx, list) :
	    SSL_CTX_set_cipher_list(ctx, list);
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return ok == 1;
}

static int
tls_role_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct cfg_tls_role *r = ctx;
	const char *s;
	char **f;

	if ((s = get_scalar(p, v, d->key)) == NULL)
		return -1;
	if (strcmp(d->key, "min_version") == 0) {
		if (config_tls_version(s) < 0)
			return perr(p, node_line(v), "invalid min_version '%s' "
			    "(TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3)", s);
		f = &r->min_version;
	} else {
		int tls13 = strcmp(d->key, "ciphersuites") == 0;

		if (!valid_text(s) || !cipher_list_ok(s, tls13))
			return perr(p, node_line(v), "%s: '%s' names no cipher "
			    "OpenSSL knows%s", d->key, s, tls13 ? " (TLS 1.3 "
			    "suites, e.g. TLS_AES_256_GCM_SHA384)" : " (an "
			    "OpenSSL cipher list, e.g. HIGH:!aNULL)");
		f = tls13 ? &r->ciphersuites : &r->ciphers;
	}
	free(*f);
	*f = xstrdup(s);
	return 0;
}

static int
tls_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct config *cfg = p->cfg;
	struct cfg_tls_role *r;

	(void)ctx;
	if (strcmp(d->key, "trust") == 0)
		return apply_map(p, v, "tls.trust", trust_defs, cfg, NULL, NULL,
		    NULL);
	r = strcmp(d->key, "inbound") == 0 ? &cfg->tls.inbound :
	    &cfg->tls.outbound;
	if (apply_map(p, v, r == &cfg->tls.inbound ? "tls.inbound" :
	    "tls.outbound", r == &cfg->tls.inbound ? tls_in_defs : tls_out_defs, r, NULL,
	    tls_role_special, r) < 0)
		return -1;
	if (r == &cfg->tls.inbound && r->certificate != NULL)
		return perr(p, node_line(v), "tls.inbound: a listener names its "
		    "certificate (listeners: certificate:), not tls.inbound");

	return 0;
}

static int
auth_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	struct config *cfg = p->cfg;
	struct cfg_hostport hp;
	const char *s;

	(void)d;
	(void)ctx;
	if ((s = get_scalar(p, v, "forward")) == NULL)
		return -1;
	memset(&hp, 0, sizeof hp);
	if (parse_hostport(s, &hp) < 0 || !valid_ip(hp.host)) {
		free(hp.host);
		return perr(p, node_line(v), "auth: invalid forward '%s' (an IP "
		    "address with an optional :port; smtpd resolves no names)", s);
	}
	if (cfg->auth.forward != NULL)
		free(cfg->auth.forward->host);
	else
		cfg->auth.forward = xcalloc(1, sizeof *cfg->auth.forward);
	*cfg->auth.forward = hp;
	return 0;
}


/* A certificate name used somewhere: declared, or added with the default
 * files (the objects `sallyctl certconfig` keeps in the state directory). */
static void
use_certificate(struct cfg_parse *p, const char *name)
{
	struct config *cfg = p->cfg;
	struct cfg_certificate *c;

	if (nmap_find(&p->certs, name) != NOTFOUND)
		return;
	cfg->certificates = nmap_grow(&p->certs, cfg->certificates,
	    sizeof *cfg->certificates);
	c = &cfg->certificates[cfg->ncertificates++];
	memset(c, 0, sizeof *c);
	c->name = xstrdup(name);
	nmap_add(&p->certs, c->name, NOTFOUND, 0);
}

static void
finalize_tls(struct cfg_parse *p)
{
	struct config *cfg = p->cfg;
	struct cfg_certificate *c;
	size_t i;

	for (i = 0; i < cfg->nlisteners; i++)
		if (cfg->listeners[i].certificate != NULL ||
		    config_listener_tls(cfg, &cfg->listeners[i]))
			use_certificate(p, config_listener_certificate(
			    &cfg->listeners[i]));
	for (i = 0; i < cfg->ndestinations; i++)
		if (cfg->destinations[i].certificate != NULL)
			use_certificate(p, cfg->destinations[i].certificate);
	if (cfg->tls.outbound.certificate != NULL)
		use_certificate(p, cfg->tls.outbound.certificate);
	for (i = 0; i < cfg->ncertificates; i++) {
		c = &cfg->certificates[i];
		if (c->cert == NULL) {
			c->cert = xasprintf("%s/certs/%s.crt", cfg->paths.state,
			    c->name);
			c->key = xasprintf("%s/certs/%s.key", cfg->paths.state,
			    c->name);
		}
	}
	if (cfg->tls.trust.custom_file == NULL)
		cfg->tls.trust.custom_file = xasprintf("%s/certs/custom-ca.pem",
		    cfg->paths.state);
}

const struct cfg_certificate *
config_certificate(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < cfg->ncertificates; i++)
		if (strcmp(cfg->certificates[i].name, name) == 0)
			return &cfg->certificates[i];
	return NULL;
}

const struct cfg_file *
config_file(const struct config *cfg, const char *path)
{
	size_t i;

	for (i = 0; path != NULL && i < cfg->nfiles; i++)
		if (strcmp(cfg->files[i].path, path) == 0)
			return &cfg->files[i];
	return NULL;
}

int
config_listener_tls(const struct config *cfg, const struct cfg_listener *l)
{
	struct cfg_policy m;
	size_t i;

	(void)cfg;
	for (i = 0; i < l->nhat; i++) {
		if (l->hat[i].policy == NULL)
			continue;
		config_policy_merge(l->hat[i].policy, l->default_policy, &m);
		if (m.tls != TLS_IN_OFF || m.auth != AUTH_OFF)
			return 1;
	}
	return 0;
}

const char *
config_listener_certificate(const struct cfg_listener *l)
{
	return l->certificate != NULL ? l->certificate : "default";
}

/* ---- named maps: policies, smtp_routes, destinations, bounce_profiles,
 * certificates ---- */

/* The value of one entry parsed into el (zeroed); -1 after an error
 * (el is freed by the caller). */
typedef int entry_fn(struct cfg_parse *, yaml_node_t *k, yaml_node_t *v, const char *key,
    void *el);
typedef void entry_free_fn(void *el);

/* One kind of "key: value" map.  The walk, key check, duplicate check,
 * merging by key (a later source replaces an entry whole) and storage are
 * parse_named_map's; the value is the kind's own. */
struct named_map {
	const char	*section;	/* "policies" */
	const char	*what;		/* "policy", for duplicates */
	const char	*key_what;	/* "policy name", for invalid keys */
	const char	*key_hint;	/* appended to that error */
	int		(*key_ok)(const char *);
	size_t		 nmap_off;	/* the index, in struct cfg_parse */
	size_t		 arr_off;	/* the array and its count, in struct config */
	size_t		 count_off;
	size_t		 el_size;
	size_t		 name_off;	/* the entry's char *key, in the element */
	entry_fn	*parse;
	entry_free_fn	*free_el;
};

union named_el {
	struct cfg_policy		pol;
	struct cfg_route		rt;
	struct cfg_destination		dst;
	struct cfg_bounce_profile	bp;
	struct cfg_certificate		cert;
};

static int
parse_named_map(struct cfg_parse *p, yaml_node_t *n, const struct named_map *m)
{
	struct nmap *nm = (struct nmap *)(void *)((char *)p + m->nmap_off);
	void **arr = (void **)(void *)((char *)p->cfg + m->arr_off);
	size_t *count = (size_t *)(void *)((char *)p->cfg + m->count_off);
	union named_el el;
	yaml_node_pair_t *pr;
	yaml_node_t *k, *v;
	const char *key;
	char **name;
	size_t idx;
	int r;

	if ((r = want_mapping(p, n, m->section)) <= 0)
		return r;
	for (pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
	    pr++) {
		k = get_node(p, pr->key);
		v = get_node(p, pr->value);
		if ((key = get_key(p, k)) == NULL)
			return -1;
		if (!m->key_ok(key))
			return perr(p, node_line(k), "invalid %s '%s'%s", m->key_what,
			    key, m->key_hint);
		if (nmap_place(p, nm, key, m->what, node_line(k), &idx) < 0)
			return -1;
		memset(&el, 0, sizeof el);
		if (m->parse(p, k, v, key, &el) < 0) {
			m->free_el(&el);
			return -1;
		}
		name = (char **)(void *)((char *)&el + m->name_off);
		*name = xstrdup(key);
		if (idx != NOTFOUND) {
			m->free_el((char *)*arr + idx * m->el_size);
			memcpy((char *)*arr + idx * m->el_size, &el, m->el_size);
			nmap_set(nm, idx, *name, p->isrc, int_line(k));
			continue;
		}
		*arr = nmap_grow(nm, *arr, m->el_size);
		memcpy((char *)*arr + (*count)++ * m->el_size, &el, m->el_size);
		nmap_add(nm, *name, p->isrc, int_line(k));
	}
	return 0;
}

static int
policy_entry(struct cfg_parse *p, yaml_node_t *k, yaml_node_t *v, const char *key,
    void *el)
{
	struct cfg_policy *pol = el;

	(void)key;
	pol->line = int_line(k);
	return apply_map(p, v, "policy", policy_defs, pol, &pol->set, NULL, NULL);
}

static int
route_entry(struct cfg_parse *p, yaml_node_t *k, yaml_node_t *v, const char *dom,
    void *el)
{
	struct cfg_route *rt = el;
	char **hosts;
	size_t nhosts, i;

	(void)k;
	if (get_strlist(p, v, dom, &hosts, &nhosts) < 0)
		return -1;
	if (nhosts == 0) {
		free(hosts);
		return perr(p, node_line(v), "route '%s' has no hosts", dom);
	}
	rt->hosts = xcalloc(nhosts, sizeof *rt->hosts);
	for (i = 0; i < nhosts; i++) {
		if (parse_hostport(hosts[i], &rt->hosts[i]) < 0) {
			perr(p, node_line(v), "route '%s': invalid host '%s' "
			    "(host[:port], [IPv6]:port)", dom, hosts[i]);
			free_strv(hosts, nhosts);
			return -1;
		}
		rt->nhosts++;
	}
	free_strv(hosts, nhosts);
	return 0;
}

static int
destination_entry(struct cfg_parse *p, yaml_node_t *k, yaml_node_t *v, const char *key,
    void *el)
{
	struct cfg_destination *d = el;

	(void)k;
	(void)key;
	destination_defaults(d);
	if (apply_map(p, v, "destination", destination_defs, d, NULL, NULL, NULL) < 0)
		return -1;
	if (d->bounce_profile == NULL)
		d->bounce_profile = xstrdup("default");
	return 0;
}

static int
bounce_entry(struct cfg_parse *p, yaml_node_t *k, yaml_node_t *v, const char *key,
    void *el)
{
	(void)k;
	(void)key;
	bounce_defaults(el);
	return apply_map(p, v, "bounce profile", bounce_defs, el, NULL, NULL, NULL);
}

static int
certificate_entry(struct cfg_parse *p, yaml_node_t *k, yaml_node_t *v, const char *name,
    void *el)
{
	struct cfg_certificate *c = el;

	c->line = int_line(k);
	if (!is_null(v) && apply_map(p, v, "certificate", certificate_defs, c, NULL, NULL,
	    NULL) < 0)
		return -1;
	if ((c->cert == NULL) != (c->key == NULL))
		return perr(p, node_line(k), "certificate '%s': give both cert and key, or "
		    "neither (then they are in <paths.state>/certs)", name);
	return 0;
}

static void free_policy_el(void *el) { free_policy(el); }
static void free_route_el(void *el) { free_route(el); }
static void free_destination_el(void *el) { free_destination(el); }
static void free_bounce_el(void *el) { free(((struct cfg_bounce_profile *)el)->name); }
static void free_certificate_el(void *el) { free_certificate(el); }

static int
valid_cert_name(const char *s)
{
	return valid_name(s) && strlen(s) <= 64;
}

#define NAME_HINT " (names match ^[A-Za-z_][A-Za-z0-9_-]*$)"
#define NM(field, type)	offsetof(struct cfg_parse, field), offsetof(struct config, type), \
	offsetof(struct config, n##type), sizeof(((struct config *)0)->type[0])

static const struct named_map policies_map = {
	"policies", "policy", "policy name", NAME_HINT, valid_name,
	NM(policies, policies), offsetof(struct cfg_policy, name),
	policy_entry, free_policy_el,
};
static const struct named_map routes_map = {
	"smtp_routes", "route", "route domain", "", valid_domain,
	NM(routes, routes), offsetof(struct cfg_route, domain),
	route_entry, free_route_el,
};
static const struct named_map destinations_map = {
	"destinations", "destination", "destination domain", "", valid_domain,
	NM(destinations, destinations), offsetof(struct cfg_destination, domain),
	destination_entry, free_destination_el,
};
static const struct named_map bounces_map = {
	"bounce_profiles", "bounce profile", "bounce profile name", NAME_HINT, valid_name,
	NM(bounces, bounce_profiles), offsetof(struct cfg_bounce_profile, name),
	bounce_entry, free_bounce_el,
};
static const struct named_map certificates_map = {
	"certificates", "certificate", "certificate name",
	" (names match ^[A-Za-z_][A-Za-z0-9_-]*$, at most 64 characters)", valid_cert_name,
	NM(certs, certificates), offsetof(struct cfg_certificate, name),
	certificate_entry, free_certificate_el,
};

#undef NM

/* ---- top level ---- */

static int
top_special(struct cfg_parse *p, const struct keydef *d, yaml_node_t *v,
    void *ctx)
{
	yaml_node_item_t *it;
	int r;

	(void)ctx;
	if (strcmp(d->key, "paths") == 0)
		return apply_map(p, v, "paths", paths_defs, p->cfg, NULL, NULL,
		    NULL);
	if (strcmp(d->key, "users") == 0)
		return apply_map(p, v, "users", users_defs, p->cfg, NULL, NULL,
		    NULL);
	if (strcmp(d->key, "processes") == 0)
		return apply_map(p, v, "processes", processes_defs, p->cfg,
		    NULL, NULL, NULL);
	if (strcmp(d->key, "smtpd") == 0)
		return apply_map(p, v, "smtpd", smtpd_defs, p->cfg, NULL, NULL,
		    NULL);
	if (strcmp(d->key, "deliver") == 0)
		return apply_map(p, v, "deliver", deliver_defs, p->cfg, NULL,
		    NULL, NULL);
	if (strcmp(d->key, "queue") == 0)
		return apply_map(p, v, "queue", queue_defs, p->cfg, NULL, NULL,
		    NULL);
	if (strcmp(d->key, "policies") == 0)
		return parse_named_map(p, v, &policies_map);
	if (strcmp(d->key, "smtp_routes") == 0)
		return parse_named_map(p, v, &routes_map);
	if (strcmp(d->key, "destinations") == 0)
		return parse_named_map(p, v, &destinations_map);
	if (strcmp(d->key, "bounce_profiles") == 0)
		return parse_named_map(p, v, &bounces_map);
	if (strcmp(d->key, "dns") == 0)
		return apply_map(p, v, "dns", dns_defs, p->cfg, NULL,
		    dns_special, NULL);
	if (strcmp(d->key, "resource_conservation") == 0)
		return apply_map(p, v, "resource_conservation", rescon_defs,
		    p->cfg, NULL, NULL, NULL);
	if (strcmp(d->key, "aliases") == 0)
		return parse_aliases(p, v);
	if (strcmp(d->key, "certificates") == 0)
		return parse_named_map(p, v, &certificates_map);
	if (strcmp(d->key, "tls") == 0)
		return apply_map(p, v, "tls", tls_defs, p->cfg, NULL,
		    tls_special, NULL);
	if (strcmp(d->key, "auth") == 0)
		return apply_map(p, v, "auth", auth_defs, p->cfg, NULL,
		    auth_special, NULL);
	/* listeners */
	if ((r = want_sequence(p, v, "listeners")) <= 0)
		return r;
	for (it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	    it++)
		if (parse_listener(p, get_node(p, *it)) < 0)
			return -1;
	return 0;
}

static int
yaml_error(struct cfg_parse *p, const yaml_parser_t *yp, const char *text,
    size_t len)
{
	size_t line, i, end;

	if (yp->error == YAML_MEMORY_ERROR)
		return perr(p, 1, "out of memory parsing YAML");
	if (yp->error == YAML_READER_ERROR) {
		line = 1;
		end = yp->problem_offset < len ? yp->problem_offset : len;
		for (i = 0; i < end; i++)
			if (text[i] == '\n')
				line++;
		return perr(p, line, "%s", yp->problem ? yp->problem :
		    "unreadable input");
	}
	line = yp->problem_mark.line + 1;
	if (yp->context != NULL)
		return perr(p, line, "%s %s", yp->problem ? yp->problem :
		    "syntax error", yp->context);
	return perr(p, line, "%s", yp->problem ? yp->problem : "syntax error");
}

/*
 * Refuses, before building any tree, what no configuration needs:
 * anchors and aliases (a few lines of aliases expand to gigabytes),
 * deep nesting, several documents, more nodes than CFG_MAX_EVENTS.
 */
static int
yaml_prescan(struct cfg_parse *p, const char *text, size_t len)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	const char *anchor;
	size_t nevents = 0, line;
	int depth = 0, ndocs = 0, rc = -1, done = 0;

	if (!yaml_parser_initialize(&yp))
		return perr(p, 1, "out of memory parsing YAML");
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			yaml_error(p, &yp, text, len);
			goto out;
		}
		line = ev.start_mark.line + 1;
		anchor = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++ndocs > 1) {
				perr(p, line, "only one YAML document per file");
				goto bad;
			}
			break;
		case YAML_ALIAS_EVENT:
			perr(p, line, "YAML aliases (*%s) are not allowed",
			    (const char *)ev.data.alias.anchor);
			goto bad;
		case YAML_SCALAR_EVENT:
			anchor = (const char *)ev.data.scalar.anchor;
			break;
		case YAML_SEQUENCE_START_EVENT:
			anchor = (const char *)ev.data.sequence_start.anchor;
			depth++;
			break;
		case YAML_MAPPING_START_EVENT:
			anchor = (const char *)ev.data.mapping_start.anchor;
			depth++;
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (anchor != NULL) {
			perr(p, line, "YAML anchors (&%s) are not allowed", anchor);
			goto bad;
		}
		if (depth > CFG_MAX_DEPTH) {
			perr(p, line, "nesting deeper than %d levels",
			    CFG_MAX_DEPTH);
			goto bad;
		}
		if (++nevents > CFG_MAX_EVENTS) {
			perr(p, line, "more than %u YAML nodes", CFG_MAX_EVENTS);
			goto bad;
		}
		yaml_event_delete(&ev);
	}
	rc = 0;
	goto out;
bad:
	yaml_event_delete(&ev);
out:
	yaml_parser_delete(&yp);
	return rc;
}

static int
apply_source(struct cfg_parse *p, const struct config_source *src)
{
	yaml_parser_t yp;
	yaml_document_t doc;
	yaml_node_t *root;
	const char *text = src->text != NULL ? src->text : "";
	size_t len = src->text != NULL ? src->len : 0;
	int rc = -1;

	if (len > CFG_MAX_SOURCE)
		return perr(p, 1, "larger than 16 MiB");
	if (yaml_prescan(p, text, len) < 0)
		return -1;
	if (!yaml_parser_initialize(&yp))
		return perr(p, 1, "out of memory parsing YAML");
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	if (!yaml_parser_load(&yp, &doc)) {
		yaml_error(p, &yp, text, len);
		yaml_parser_delete(&yp);
		return -1;
	}
	p->doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (root == NULL || is_null(root))
		rc = 0;
	else if (root->type != YAML_MAPPING_NODE)
		perr(p, node_line(root), "the top level must be a mapping, "
		    "not %s", node_kind(root));
	else
		rc = apply_map(p, root, "the top level", top_defs, p->cfg, NULL,
		    top_special, NULL);
	p->doc = NULL;
	yaml_document_delete(&doc);
	yaml_parser_delete(&yp);
	return rc;
}

static struct config *
config_new(void)
{
	struct config *cfg = xcalloc(1, sizeof *cfg);

	cfg->paths.spool = xstrdup("/var/spool/sallyport");
	cfg->paths.state = xstrdup("/var/lib/sallyport");
	cfg->paths.run = xstrdup("/run/sallyport");
	cfg->paths.log = xstrdup("/var/log/sallyport");
	cfg->users.net = xstrdup("sallyport-net");
	cfg->users.queue = xstrdup("sallyport-queue");
	cfg->processes.smtpd = 0;
	cfg->processes.deliver = 1;
	cfg->drain_delay = 30;
	cfg->smtpd.idle_timeout = 300;
	cfg->smtpd.session_timeout = 1800;
	cfg->smtpd.max_errors = 20;
	cfg->smtpd.max_connections = 5000;
	cfg->deliver.connect_timeout = 30;
	cfg->deliver.command_timeout = 300;
	cfg->deliver.idle_reuse = 10;
	cfg->deliver.dns_timeout = 20;
	cfg->dns.timeout = 20;
	cfg->rescon.memory_start = 45;
	cfg->rescon.memory_halt = 60;
	cfg->rescon.queue_start = 45;
	cfg->rescon.queue_halt = 60;
	cfg->rescon.max_delay = 5;
	cfg->rescon.meminfo = xstrdup("/proc/meminfo");
	cfg->queue.map_size = 1024ULL * 1024 * 1024;
	cfg->queue.body_file_threshold = 256 * 1024;
	cfg->tls.inbound.session_cache = 1;
	cfg->tls.trust.system = 1;
	cfg->tls.trust.system_file = xstrdup("/etc/ssl/certs/ca-certificates.crt");
	cfg->tls.alert_on_failure = 0;	/* spec 3.4: optional, assumed off */
	cfg->auth.forward_tls = TLS_OUT_REQUIRED;
	cfg->auth.max_failures = 3;
	cfg->auth.max_failures_per_ip = 20;
	return cfg;
}

static char *
default_hostname(void)
{
	char h[256];

	memset(h, 0, sizeof h);
	if (gethostname(h, sizeof h - 1) < 0 || h[0] == '\0')
		return xstrdup("localhost");
	return xstrdup(h);
}

/* Defaults that depend on the merged whole, then cross references. */
static int
finalize(struct cfg_parse *p)
{
	struct config *cfg = p->cfg;
	struct cfg_listener *l, *o;
	struct cfg_policy *pol;
	struct cfg_hat_entry *h;
	struct cfg_destination *d;
	size_t i, j, idx;

	if (cfg->hostname == NULL)
		cfg->hostname = default_hostname();
	for (i = 0; i < cfg->npolicies; i++) {
		pol = &cfg->policies[i];
		if (!(pol->set & POL_ACTION))
			pol->action = ACTION_ACCEPT;
		if (!(pol->set & POL_MAX_MESSAGE_SIZE))
			pol->max_message_size = 10 * 1024 * 1024;
		if (!(pol->set & POL_MAX_RCPTS_PER_MSG))
			pol->max_rcpts_per_msg = 1000;
		if (!(pol->set & POL_TLS))
			pol->tls = TLS_IN_OFF;
		if (!(pol->set & POL_AUTH_REQUIRES_TLS))
			pol->auth_requires_tls = 1;
		if (!(pol->set & POL_RATE_LIMIT_CODE))
			pol->rate_limit_code = 452;
		if (!(pol->set & POL_BANNER_CODE))
			pol->banner_code = 220;
		if (!(pol->set & POL_REJECT_BANNER_CODE))
			pol->reject_banner_code = 554;
		if (!(pol->set & POL_VERIFY_SENDER_CODE))
			pol->verify_sender_code = 553;
		if (!(pol->set & POL_VERIFY_SENDER_TEMP))
			pol->verify_sender_tempfail_code = 451;
	}
	if (cfg->rescon.memory_halt < cfg->rescon.memory_start ||
	    cfg->rescon.queue_halt < cfg->rescon.queue_start)
		return perr_src(p, 0, 1, "resource_conservation: a halt "
		    "threshold is below its start threshold");
	if (nmap_find(&p->bounces, "default") == NOTFOUND) {
		cfg->bounce_profiles = nmap_grow(&p->bounces,
		    cfg->bounce_profiles, sizeof *cfg->bounce_profiles);
		memset(&cfg->bounce_profiles[cfg->nbounce_profiles], 0,
		    sizeof *cfg->bounce_profiles);
		bounce_defaults(&cfg->bounce_profiles[cfg->nbounce_profiles]);
		cfg->bounce_profiles[cfg->nbounce_profiles].name =
		    xstrdup("default");
		nmap_add(&p->bounces,
		    cfg->bounce_profiles[cfg->nbounce_profiles].name, NOTFOUND, 0);
		cfg->nbounce_profiles++;
	}
	if (nmap_find(&p->destinations, "default") == NOTFOUND) {
		cfg->destinations = nmap_grow(&p->destinations,
		    cfg->destinations, sizeof *cfg->destinations);
		d = &cfg->destinations[cfg->ndestinations];
		memset(d, 0, sizeof *d);
		destination_defaults(d);
		d->domain = xstrdup("default");
		d->bounce_profile = xstrdup("default");
		nmap_add(&p->destinations, d->domain, NOTFOUND, 0);
		cfg->ndestinations++;
	}
	for (i = 0; i < cfg->ndestinations; i++) {
		d = &cfg->destinations[i];
		if (nmap_find(&p->bounces, d->bounce_profile) == NOTFOUND)
			return perr_src(p, p->destinations.orig[i].src,
			    (size_t)p->destinations.orig[i].line, "destination "
			    "'%s': unknown bounce profile '%s'", d->domain,
			    d->bounce_profile);
	}
	for (i = 0; i < cfg->nlisteners; i++) {
		l = &cfg->listeners[i];
		if (l->default_policy_name != NULL) {
			idx = nmap_find(&p->policies, l->default_policy_name);
			if (idx == NOTFOUND)
				return perr_src(p, p->listeners.orig[i].src,
				    (size_t)l->line, "listener '%s': unknown "
				    "default_policy '%s'", l->name,
				    l->default_policy_name);
			l->default_policy = &cfg->policies[idx];
		}
		if (l->nmasquerade > 0 && l->type != LISTENER_PRIVATE)
			return perr_src(p, p->listeners.orig[i].src,
			    (size_t)l->line, "listener '%s': masquerade applies "
			    "only to private listeners", l->name);
		for (j = 0; j < l->nhat; j++) {
			h = &l->hat[j];
			idx = nmap_find(&p->policies, h->policy_name);
			if (idx == NOTFOUND)
				return perr_src(p, p->listeners.orig[i].src,
				    (size_t)h->line, "listener '%s': sender group "
				    "'%s' uses unknown policy '%s'", l->name,
				    h->group, h->policy_name);
			h->policy = &cfg->policies[idx];
			free(h->compiled);
			hat_compile_entry(h);
		}
		for (j = 0; j < i; j++) {
			o = &cfg->listeners[j];
			if (o->port == l->port && strcmp(o->address,
			    l->address) == 0)
				return perr_src(p, p->listeners.orig[i].src,
				    (size_t)l->line, "listener '%s': %s port %u "
				    "is already used by listener '%s'", l->name,
				    l->address, (unsigned)l->port, o->name);
		}
	}
	finalize_tls(p);
	return 0;
}

static void
add_file(struct config *cfg, const char *path, const char *data, size_t len)
{
	struct cfg_file *f;

	cfg->files = xrealloc(cfg->files, (cfg->nfiles + 1) * sizeof *cfg->files);
	f = &cfg->files[cfg->nfiles++];
	f->path = xstrdup(path);
	f->data = xmalloc(len + 1);
	if (len > 0)
		memcpy(f->data, data, len);
	f->data[len] = '\0';
	f->len = len;
}

int
config_parse_sources(const struct config_source *srcs, size_t nsrcs,
    struct config **out, char *err, size_t errlen)
{
	struct cfg_parse p;
	size_t i;
	int rc = -1;

	memset(&p, 0, sizeof p);
	p.srcs = srcs;
	p.err = err;
	p.errlen = errlen;
	p.routes.icase = 1;
	p.destinations.icase = 1;
	p.cfg = config_new();
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 0; i < nsrcs; i++) {
		p.isrc = i;
		if (srcs[i].path != NULL && srcs[i].path[0] == CONFIG_ATTACH_MARK) {
			add_file(p.cfg, srcs[i].path + 1, srcs[i].text,
			    srcs[i].text != NULL ? srcs[i].len : 0);
			continue;
		}
		if (apply_source(&p, &srcs[i]) < 0)
			goto out;
	}
	if (finalize(&p) < 0)
		goto out;
	rc = 0;
out:
	nmap_free(&p.listeners);
	nmap_free(&p.policies);
	nmap_free(&p.routes);
	nmap_free(&p.destinations);
	nmap_free(&p.bounces);
	nmap_free(&p.certs);
	if (rc < 0 || out == NULL) {
		config_free(p.cfg);
		p.cfg = NULL;
	}
	if (out != NULL)
		*out = p.cfg;
	return rc;
}

/* ---- reading files (master only) ---- */

static int read_file(const char *, struct config_source *, char *, size_t);

/* Reads one file into an attached source (once per path). */
static int
attach(struct config *cfg, struct config_source **srcs, size_t *n,
    const char *what, const char *path, char *err, size_t errlen)
{
	struct config_source src;
	char e[512];

	if (config_file(cfg, path) != NULL)
		return 0;
	memset(&src, 0, sizeof src);
	if (read_file(path, &src, e, sizeof e) < 0) {
		snprintf(err, errlen, "%s: %s", what, e);
		return -1;
	}
	if (src.len > CONFIG_ATTACH_MAX) {
		snprintf(err, errlen, "%s: %s: larger than %u bytes", what, path,
		    CONFIG_ATTACH_MAX);
		free(src.path);
		free(src.text);
		return -1;
	}
	add_file(cfg, path, src.text, src.len);
	free(src.path);
	src.path = xasprintf("%c%s", CONFIG_ATTACH_MARK, path);
	*srcs = xrealloc(*srcs, (*n + 1) * sizeof **srcs);
	(*srcs)[(*n)++] = src;
	return 0;
}

int
config_attach_files(struct config *cfg, struct config_source **srcs,
    size_t *n, char *err, size_t errlen)
{
	const struct cfg_certificate *c;
	char what[128];
	size_t i;

	for (i = 0; i < cfg->ncertificates; i++) {
		c = &cfg->certificates[i];
		snprintf(what, sizeof what, "certificate '%s'", c->name);
		if (attach(cfg, srcs, n, what, c->cert, err, errlen) < 0 ||
		    attach(cfg, srcs, n, what, c->key, err, errlen) < 0)
			return -1;
	}
	/* A machine without a CA bundle (no ca-certificates package) still
	 * runs: the system list is then empty, and verification fails. */
	if (cfg->tls.trust.system && access(cfg->tls.trust.system_file, F_OK) == 0 &&
	    attach(cfg, srcs, n, "tls.trust.system_file", cfg->tls.trust.system_file,
	    err, errlen) < 0)
		return -1;
	if (cfg->tls.trust.custom && attach(cfg, srcs, n, "tls.trust.custom_file",
	    cfg->tls.trust.custom_file, err, errlen) < 0)
		return -1;
	if (cfg->dns.trust_anchors != NULL && attach(cfg, srcs, n, "dns.trust_anchors",
	    cfg->dns.trust_anchors, err, errlen) < 0)
		return -1;
	if (cfg->auth.users_file != NULL && attach(cfg, srcs, n,
	    "auth.users_file", cfg->auth.users_file, err, errlen) < 0)
		return -1;
	return 0;
}

static int
read_file(const char *path, struct config_source *src, char *err,
    size_t errlen)
{
	struct buf b;
	struct stat st;
	size_t room;
	ssize_t n;
	char c;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s", path, S_ISDIR(st.st_mode) ?
		    strerror(EISDIR) : "not a regular file");
		close(fd);
		return -1;
	}
	buf_init(&b, CFG_MAX_SOURCE);
	for (;;) {
		if (b.len == CFG_MAX_SOURCE) {
			/* Full: only end of file may follow. */
			while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
				;
			if (n == 0)
				break;
			snprintf(err, errlen, "%s: %s", path, n < 0 ?
			    strerror(errno) : "larger than 16 MiB");
			goto fail;
		}
		room = CFG_MAX_SOURCE - b.len;
		if (room > 65536)
			room = 65536;
		if (buf_reserve(&b, room) < 0) {
			snprintf(err, errlen, "%s: larger than 16 MiB", path);
			goto fail;
		}
		n = read(fd, b.data + b.len, room);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		b.len += (size_t)n;
		b.data[b.len] = '\0';
	}
	close(fd);
	src->path = xstrdup(path);
	src->len = b.len;
	src->text = b.data != NULL ? buf_steal(&b) : xstrdup("");
	return 0;
fail:
	close(fd);
	buf_free(&b);
	return -1;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conf.d entries that are read: "*.yaml", not hidden. */
static int
confd_wanted(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

int
config_read_sources(const char *path, struct config_source **srcs,
    size_t *nsrcs, char *err, size_t errlen)
{
	struct config_source *v = NULL;
	struct dirent *de;
	struct stat st;
	DIR *dir;
	char **names = NULL, *confd, *slash, *file;
	size_t n = 0, nnames = 0, capnames = 0, i;
	int rc = -1;

	*srcs = NULL;
	*nsrcs = 0;
	v = xcalloc(1, sizeof *v);
	if (read_file(path, &v[0], err, errlen) < 0) {
		free(v);
		return -1;
	}
	n = 1;
	if ((slash = strrchr(path, '/')) == NULL)
		confd = xstrdup("conf.d");
	else
		confd = xasprintf("%.*s/conf.d", (int)(slash - path), path);
	if ((dir = opendir(confd)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR) {
			rc = 0;
			goto out;
		}
		snprintf(err, errlen, "%s: %s", confd, strerror(errno));
		goto out;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!confd_wanted(de->d_name))
			continue;
		if (nnames == capnames) {
			capnames = capnames ? capnames * 2 : 16;
			names = xrealloc(names, capnames * sizeof *names);
		}
		names[nnames++] = xstrdup(de->d_name);
	}
	closedir(dir);
	if (nnames > 0)
		qsort(names, nnames, sizeof *names, name_cmp);
	v = xrealloc(v, (1 + nnames) * sizeof *v);
	for (i = 0; i < nnames; i++) {
		file = xasprintf("%s/%s", confd, names[i]);
		/* A directory named x.yaml is skipped, not an error. */
		if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
			free(file);
			continue;
		}
		if (read_file(file, &v[n], err, errlen) < 0) {
			free(file);
			goto out;
		}
		free(file);
		n++;
	}
	rc = 0;
out:
	for (i = 0; i < nnames; i++)
		free(names[i]);
	free(names);
	free(confd);
	if (rc < 0) {
		config_free_sources(v, n);
		return -1;
	}
	*srcs = v;
	*nsrcs = n;
	return 0;
}

void
config_free_sources(struct config_source *srcs, size_t nsrcs)
{
	size_t i;

	if (srcs == NULL)
		return;
	for (i = 0; i < nsrcs; i++) {
		free(srcs[i].path);
		free(srcs[i].text);
	}
	free(srcs);
}

/* ---- built-in default and lookups ---- */

const char *
config_builtin_yaml(void)
{
	return builtin_yaml;
}

struct config *
config_builtin_default(void)
{
	struct config_source src;
	struct config *cfg;
	char err[256];

	src.path = (char *)BUILTIN_NAME;
	src.text = (char *)builtin_yaml;
	src.len = sizeof builtin_yaml - 1;
	if (config_parse_sources(&src, 1, &cfg, err, sizeof err) < 0) {
		/* The built-in text is ours: failing to parse it is a bug. */
		fprintf(stderr, "config: built-in default: %s\n", err);
		abort();
	}
	return cfg;
}

const struct cfg_policy *
config_policy(const struct config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->npolicies; i++)
		if (strcmp(cfg->policies[i].name, name) == 0)
			return &cfg->policies[i];
	return NULL;
}

#define MERGE(bit, field) \
	out->field = (pol->set & (bit)) || deflt == NULL || \
	    !(deflt->set & (bit)) ? pol->field : deflt->field

void
config_policy_merge(const struct cfg_policy *pol, const struct cfg_policy *deflt,
    struct cfg_policy *out)
{
	*out = *pol;
	MERGE(POL_ACTION, action);
	MERGE(POL_MAX_MESSAGE_SIZE, max_message_size);
	MERGE(POL_MAX_RCPTS_PER_MSG, max_rcpts_per_msg);
	MERGE(POL_TLS, tls);
	MERGE(POL_MAX_CONNS_PER_IP, max_conns_per_ip);
	MERGE(POL_MAX_MSGS_PER_CONN, max_msgs_per_conn);
	MERGE(POL_MAX_RCPTS_PER_HOUR, max_rcpts_per_hour);
	MERGE(POL_RATE_LIMIT_CODE, rate_limit_code);
	MERGE(POL_RATE_LIMIT_TEXT, rate_limit_text);
	MERGE(POL_BANNER_CODE, banner_code);
	MERGE(POL_BANNER_TEXT, banner_text);
	MERGE(POL_REJECT_BANNER_CODE, reject_banner_code);
	MERGE(POL_REJECT_BANNER_TEXT, reject_banner_text);
	MERGE(POL_VERIFY_SENDER, verify_sender_domain);
	MERGE(POL_VERIFY_SENDER_CODE, verify_sender_code);
	MERGE(POL_VERIFY_SENDER_TEMP, verify_sender_tempfail_code);
	MERGE(POL_DHAP_MAX, dhap_max_invalid_rcpts_per_hour);
	MERGE(POL_AUTH, auth);
	MERGE(POL_AUTH_REQUIRES_TLS, auth_requires_tls);
	if (deflt != NULL)
		out->set = pol->set | deflt->set;
}

#undef MERGE

const struct cfg_alias *
config_alias(const struct config *cfg, const char *addr)
{
	const struct cfg_alias *any = NULL;
	const char *at;
	size_t i, llen;

	if (cfg == NULL || addr == NULL || (at = strrchr(addr, '@')) == NULL)
		return NULL;
	llen = (size_t)(at - addr) + 1;
	for (i = 0; i < cfg->naliases; i++) {
		const char *f = cfg->aliases[i].from;

		if (ascii_casecmp(f, addr) == 0)
			return &cfg->aliases[i];
		if (any == NULL && strlen(f) == llen &&
		    strncasecmp(f, addr, llen) == 0)
			any = &cfg->aliases[i];
	}
	return any;
}

const struct cfg_listener *
config_listener(const struct config *cfg, const char *name)
{
	size_t i;

	if (cfg == NULL || name == NULL)
		return NULL;
	for (i = 0; i < cfg->nlisteners; i++)
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	return NULL;
}

const struct cfg_route *
config_route(const struct config *cfg, const char *domain)
{
	const struct cfg_route *all = NULL;
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < cfg->nroutes; i++) {
		if (domain != NULL && domain_eq(cfg->routes[i].domain, domain))
			return &cfg->routes[i];
		if (ascii_casecmp(cfg->routes[i].domain, "ALL") == 0)
			all = &cfg->routes[i];
	}
	return all;
}

const struct cfg_destination *
config_destination(const struct config *cfg, const char *domain)
{
	const struct cfg_destination *def = NULL;
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < cfg->ndestinations; i++) {
		if (domain != NULL &&
		    domain_eq(cfg->destinations[i].domain, domain))
			return &cfg->destinations[i];
		if (ascii_casecmp(cfg->destinations[i].domain, "default") == 0)
			def = &cfg->destinations[i];
	}
	return def;
}

const struct cfg_bounce_profile *
config_bounce_profile(const struct config *cfg, const char *name)
{
	const struct cfg_bounce_profile *def = NULL;
	size_t i;

	if (cfg == NULL)
		return NULL;
	for (i = 0; i < cfg->nbounce_profiles; i++) {
		if (name != NULL && strcmp(cfg->bounce_profiles[i].name,
		    name) == 0)
			return &cfg->bounce_profiles[i];
		if (strcmp(cfg->bounce_profiles[i].name, "default") == 0)
			def = &cfg->bounce_profiles[i];
	}
	return def;
}
