/*
 * config - the one configuration schema of Sallyport (DESIGN.md section 5).
 *
 * YAML (libyaml) is read from a list of sources: the main file, then
 * conf.d/NAME.yaml in name order.  Merging: a later source's mapping entries
 * override the earlier ones key by key at the top level and inside the
 * named maps (policies, smtp_routes, destinations, bounce_profiles);
 * `listeners` entries are merged by name (a listener named in a later file
 * replaces the earlier one of that name, new names are appended).
 *
 * Parsing never partially succeeds: either a whole struct config comes
 * back, validated (every policy a listener names exists, names match
 * ^[A-Za-z_][A-Za-z0-9_-]*$, ports 1-65535, sizes and durations parse), or
 * an error "file:line: what is wrong" and nothing else.  Sizes take k/M/G
 * suffixes (powers of 1024), durations s/m/h/d (a bare number is seconds).
 * Unknown keys are errors, so a typo is never silently ignored.
 *
 * Master reads the files (config_read_sources) and sends the same sources
 * to every child, which parses them again (children chroot and cannot
 * read /etc themselves).
 */
#ifndef SP_CONFIG_H
#define SP_CONFIG_H
#include <stddef.h>
#include <stdint.h>

struct config_source {
	char	*path;		/* for error messages */
	char	*text;		/* the YAML document, or an attached file */
	size_t	 len;
};

/*
 * Files the config refers to (certificates and keys, CA lists, the AUTH
 * user file) travel with it: master reads them (config_attach_files) and
 * sends them to the children, which are chrooted and cannot.  An attached
 * file is a source whose path starts with CONFIG_ATTACH_MARK; the parser
 * keeps its bytes (config_file) instead of reading it as YAML.
 */
#define CONFIG_ATTACH_MARK	'\001'
#define CONFIG_ATTACH_MAX	(2u * 1024 * 1024)	/* bytes per file */

struct cfg_file {
	char	*path;		/* as the config names it */
	char	*data;		/* NUL-terminated */
	size_t	 len;
};

enum cfg_listener_type { LISTENER_PUBLIC, LISTENER_PRIVATE, LISTENER_SINKHOLE };
enum cfg_action { ACTION_ACCEPT, ACTION_RELAY, ACTION_REJECT, ACTION_TCPREFUSE };
enum cfg_tls_in { TLS_IN_OFF, TLS_IN_PREFERRED, TLS_IN_REQUIRED };
enum cfg_auth { AUTH_OFF, AUTH_PREFERRED, AUTH_REQUIRED };
enum cfg_tls_out {
	TLS_OUT_DEFAULT, TLS_OUT_OFF, TLS_OUT_PREFERRED, TLS_OUT_REQUIRED,
	TLS_OUT_PREFERRED_VERIFY, TLS_OUT_REQUIRED_VERIFY,
	TLS_OUT_REQUIRED_VERIFY_HOSTED, TLS_OUT_DANE,
};

/* Bits of cfg_policy.set: which keys the policy gives explicitly. */
#define POL_ACTION		0x01
#define POL_MAX_MESSAGE_SIZE	0x02
#define POL_MAX_RCPTS_PER_MSG	0x04
#define POL_TLS			0x08
#define POL_MAX_CONNS_PER_IP	0x10
#define POL_MAX_MSGS_PER_CONN	0x20
#define POL_MAX_RCPTS_PER_HOUR	0x40
#define POL_RATE_LIMIT_CODE	0x80
#define POL_RATE_LIMIT_TEXT	0x100
#define POL_BANNER_CODE		0x200
#define POL_BANNER_TEXT		0x400
#define POL_REJECT_BANNER_CODE	0x800
#define POL_REJECT_BANNER_TEXT	0x1000
#define POL_VERIFY_SENDER	0x2000
#define POL_VERIFY_SENDER_CODE	0x4000
#define POL_VERIFY_SENDER_TEMP	0x8000
#define POL_DHAP_MAX		0x10000
#define POL_AUTH		0x20000
#define POL_AUTH_REQUIRES_TLS	0x40000

/*
 * A mail flow policy (`policies:` map).  Unset keys take the defaults
 * below when the config is loaded; `set` keeps which keys were written,
 * so that config_policy_merge() can let a listener's default_policy fill
 * what a sender group's policy leaves open.  Limits of 0 mean unlimited
 * (max_conns_per_ip, max_msgs_per_conn) or disabled (max_rcpts_per_hour,
 * dhap_max_invalid_rcpts_per_hour).  Texts are NULL for "the built-in
 * text".
 */
struct cfg_policy {
	char		*name;
	unsigned	 set;
	enum cfg_action	 action;		/* accept */
	uint64_t	 max_message_size;	/* 10M */
	uint32_t	 max_rcpts_per_msg;	/* 1000 */
	enum cfg_tls_in	 tls;			/* off */
	uint32_t	 max_conns_per_ip;	/* 0 */
	uint32_t	 max_msgs_per_conn;	/* 0 */
	uint32_t	 max_rcpts_per_hour;	/* 0 */
	uint32_t	 rate_limit_code;	/* 452 */
	char		*rate_limit_text;	/* "Too many recipients received this hour" */
	uint32_t	 banner_code;		/* 220 */
	char		*banner_text;		/* "<hostname> ESMTP Sallyport" */
	uint32_t	 reject_banner_code;	/* 554 */
	char		*reject_banner_text;	/* "<hostname> Access denied" */
	int		 verify_sender_domain;	/* false */
	uint32_t	 verify_sender_code;	/* 553: malformed or no such domain */
	uint32_t	 verify_sender_tempfail_code; /* 451: DNS did not answer */
	uint32_t	 dhap_max_invalid_rcpts_per_hour; /* 0 */
	enum cfg_auth	 auth;			/* off (true = preferred, false = off) */
	int		 auth_requires_tls;	/* true: AUTH offered only under TLS */
	int		 line;
};

struct hat_pattern;

/* One HAT sender group.  match entries: see hat.h for the kinds; the
 * schema keeps them as strings, and compiled (nmatch entries, filled when
 * the config is loaded; NULL in hand-built tables) holds them parsed.
 * policy points into config.policies. */
struct cfg_hat_entry {
	char			*group;
	char			**match;
	size_t			 nmatch;
	struct hat_pattern	*compiled;
	char			*policy_name;
	struct cfg_policy	*policy;
	int			 line;
};

/* One RAT entry: match is "ALL", a domain, ".subdomain" or a full
 * address; action is ACTION_ACCEPT or ACTION_REJECT.  reply is a custom
 * "code text" answer to RCPT (NULL: the default one); an accepted
 * recipient with bypass_rate_limit does not count towards the policy's
 * max_rcpts_per_hour. */
struct cfg_rat_entry {
	char		*match;
	enum cfg_action	 action;
	char		*reply;
	int		 bypass_rate_limit;
	int		 line;
};

/* A string -> string map entry (domain_map, masquerade). */
struct cfg_strmap {
	char	*from;
	char	*to;
};

/* One alias: an address (or "local@" for any domain, lower case) and its
 * expansion; "/dev/null" in the expansion drops the recipient. */
struct cfg_alias {
	char	 *from;
	char	**to;
	size_t	  nto;
};

struct cfg_listener {
	char			*name;
	enum cfg_listener_type	 type;
	char			*address;	/* default "0.0.0.0" */
	uint16_t		 port;		/* required */
	int			 sinkhole_queue;
	struct cfg_hat_entry	*hat;
	size_t			 nhat;
	struct cfg_rat_entry	*rat;
	size_t			 nrat;
	char			*default_policy_name;	/* fills unset policy keys */
	struct cfg_policy	*default_policy;	/* NULL: none */
	char			*default_domain;	/* for bare local parts */
	struct cfg_strmap	*domain_map;		/* recipient domains */
	size_t			 ndomain_map;
	struct cfg_strmap	*masquerade;		/* envelope sender, private */
	size_t			 nmasquerade;
	char			*certificate;	/* name in certificates:; NULL: "default"
						 * when a policy offers TLS */
	int			 line;
};

/* certificates: name -> the files of a certificate object (lib/tls_cert.h).
 * cert and key default to <paths.state>/certs/<name>.crt and .key, where
 * `sallyctl certconfig` keeps them. */
struct cfg_certificate {
	char	*name;
	char	*cert;
	char	*key;
	int	 line;
};

/* tls.inbound / tls.outbound: protocol and cipher settings of one role. */
struct cfg_tls_role {
	char		*min_version;	/* "TLSv1.2" (default), "TLSv1.3" */
	char		*ciphers;	/* TLS 1.2 list; NULL: OpenSSL's default */
	char		*ciphersuites;	/* TLS 1.3 list; NULL: OpenSSL's default */
	int		 session_cache;	/* inbound only: resumption (cache + tickets), default true */
	char		*certificate;	/* outbound: the client certificate; NULL: none */
};

struct cfg_hostport {
	char		*host;		/* name, IPv4, or IPv6 (written [::1]:25) */
	uint16_t	 port;		/* default 25 */
};

/* smtp_routes: domain (or "ALL") -> list of "host[:port]". */
struct cfg_route {
	char			*domain;
	struct cfg_hostport	*hosts;
	size_t			 nhosts;
};

/* destinations: domain (or "default") -> delivery controls. */
struct cfg_destination {
	char			*domain;
	uint32_t		 max_conns;	/* default 500 */
	enum cfg_tls_out	 tls;		/* default TLS_OUT_DEFAULT */
	char			*bounce_profile; /* default "default" */
	char			*certificate;	/* client certificate; NULL: tls.outbound's */
};

struct cfg_bounce_profile {
	char		*name;
	uint32_t	 initial_retry;		/* seconds, default 60 */
	uint32_t	 max_retry;		/* seconds, default 3600 */
	uint32_t	 max_queue_time;	/* seconds, default 259200 (72h) */
	uint32_t	 max_attempts;		/* default 100 */
};

struct config {
	char	*hostname;	/* default: gethostname() */
	struct {
		char	*spool;	/* default /var/spool/sallyport */
		char	*state;	/* default /var/lib/sallyport */
		char	*run;	/* default /run/sallyport */
		char	*log;	/* default /var/log/sallyport */
	} paths;
	struct {
		char	*net;	/* smtpd, deliver; default "sallyport-net" */
		char	*queue;	/* qmgr; default "sallyport-queue" */
	} users;
	struct {
		uint32_t smtpd;		/* default 0 = one per core */
		uint32_t deliver;	/* default 1 */
	} processes;
	uint32_t drain_delay;		/* `drain_delay:`, seconds, default 30 */
	struct {			/* `smtpd:` */
		uint32_t idle_timeout;		/* default 300 s */
		uint32_t session_timeout;	/* default 1800 s */
		uint32_t max_errors;		/* bad/unknown commands, default 20 */
		uint32_t max_connections;	/* per process, default 5000 */
	} smtpd;
	struct {			/* `deliver:` */
		uint32_t connect_timeout;	/* default 30 s */
		uint32_t command_timeout;	/* default 300 s */
		uint32_t idle_reuse;		/* keep idle connections, default 10 s */
		uint32_t dns_timeout;		/* default 20 s */
	} deliver;
	struct {			/* `dns:` (smtpd) */
		char	**servers;		/* "ip" or "ip:port"; none: resolv.conf */
		size_t	  nservers;
		uint32_t  timeout;		/* default 20 s; 0 disables lookups */
		char	 *trust_anchors;	/* DNSSEC anchors (DS/DNSKEY) for tls: dane */
	} dns;
	struct {			/* `resource_conservation:` (smtpd) */
		uint32_t memory_start;		/* percent, default 45 */
		uint32_t memory_halt;		/* percent, default 60 */
		uint32_t queue_start;		/* percent of the spool's file system */
		uint32_t queue_halt;		/* or LMDB map, defaults 45 and 60 */
		uint32_t max_delay;		/* tarpit seconds at the top, default 5 */
		char	*meminfo;		/* file to read, default /proc/meminfo */
	} rescon;
	struct {			/* `tls:` */
		struct cfg_tls_role inbound;
		struct cfg_tls_role outbound;
		struct {		/* tls.trust: the CA lists (spec 3.6) */
			int	 system;	/* default true */
			char	*system_file;	/* default /etc/ssl/certs/ca-certificates.crt */
			int	 custom;	/* default false */
			char	*custom_file;	/* default <paths.state>/certs/custom-ca.pem */
		} trust;
		int	 alert_on_failure;	/* TLS failure alert, default false */
	} tls;
	struct {			/* `auth:` SMTP AUTH credentials (smtpd) */
		char		*users_file;	/* "user:crypt-hash" lines; NULL: none */
		struct cfg_hostport *forward;	/* check by AUTH at this server; NULL: none */
		enum cfg_tls_out forward_tls;	/* default required */
		uint32_t	 max_failures;	/* per connection, then 421; default 3 */
		uint32_t	 max_failures_per_ip;	/* per hour, then 454; default 20 */
	} auth;
	struct {			/* `queue:` */
		uint64_t map_size;		/* LMDB map, default 1G */
		uint64_t body_file_threshold;	/* bodies above go to files, default 256k */
	} queue;

	struct cfg_listener		*listeners;
	size_t				 nlisteners;
	struct cfg_policy		*policies;
	size_t				 npolicies;
	struct cfg_route		*routes;
	size_t				 nroutes;
	struct cfg_destination		*destinations;
	size_t				 ndestinations;
	struct cfg_bounce_profile	*bounce_profiles;
	size_t				 nbounce_profiles;
	struct cfg_alias		*aliases;	/* `aliases:` */
	size_t				 naliases;
	struct cfg_certificate		*certificates;	/* `certificates:` */
	size_t				 ncertificates;
	struct cfg_file			*files;		/* attached (see above) */
	size_t				 nfiles;
};

/* Reads path and, when present, <dir of path>/conf.d/NAME.yaml in name order.
 * Returns 0, or -1 with err set ("path: No such file or directory"). */
int	config_read_sources(const char *path, struct config_source **srcs,
	    size_t *nsrcs, char *err, size_t errlen);
void	config_free_sources(struct config_source *srcs, size_t nsrcs);

/* Parses and validates; 0 and *out, or -1 and err = "file:line: ...". */
int	config_parse_sources(const struct config_source *srcs, size_t nsrcs,
	    struct config **out, char *err, size_t errlen);

/* The built-in default (DESIGN.md section 1): one private listener
 * "Default" on 127.0.0.1:2525 whose HAT relays for 127.0.0.0/8 and ::1
 * (policy RELAYED) and rejects everyone else (BLOCKED), delivery by MX. */
struct config	*config_builtin_default(void);
/* The built-in default as YAML, so master can send it to children like any
 * other config. */
const char	*config_builtin_yaml(void);

void	config_free(struct config *cfg);

const struct cfg_policy		*config_policy(const struct config *cfg, const char *name);
const struct cfg_listener	*config_listener(const struct config *cfg, const char *name);
/* Exact domain (case-insensitive), else "ALL", else NULL (use MX). */
const struct cfg_route		*config_route(const struct config *cfg, const char *domain);
/* Exact domain, else "default" (always present after loading). */
const struct cfg_destination	*config_destination(const struct config *cfg, const char *domain);
/* By name, else "default" (always present after loading). */
const struct cfg_bounce_profile	*config_bounce_profile(const struct config *cfg, const char *name);

/*
 * The policy in effect for a sender group: every key pol sets, else the
 * one deflt sets (deflt may be NULL), else pol's loaded default.  out
 * borrows pol's and deflt's strings.
 */
void	config_policy_merge(const struct cfg_policy *pol, const struct cfg_policy *deflt,
	    struct cfg_policy *out);
/* The alias of a recipient (local@domain, domain lower case): an exact
 * entry, else "local@" (local part ASCII case-insensitive); NULL. */
const struct cfg_alias		*config_alias(const struct config *cfg, const char *addr);

/* A certificate object by name, NULL if the config has none of that name. */
const struct cfg_certificate	*config_certificate(const struct config *cfg, const char *name);
/* An attached file by the path the config names; NULL if not attached. */
const struct cfg_file		*config_file(const struct config *cfg, const char *path);
/* 1 if some sender group's policy on the listener offers TLS (preferred
 * or required), so it needs a certificate. */
int				 config_listener_tls(const struct config *cfg,
				    const struct cfg_listener *l);
/* The certificate name a listener uses: its own, else "default". */
const char			*config_listener_certificate(const struct cfg_listener *l);
/*
 * Master: reads every file the config refers to and appends it to srcs as
 * an attached source (and to cfg->files), so that config_parse_sources()
 * of the extended list gives the children the same config with the files.
 * Certificates named by listeners, destinations and tls.outbound, the
 * enabled CA lists, auth.users_file.  -1 with err ("certificate 'mx':
 * /var/lib/sallyport/certs/mx.key: No such file or directory").
 */
int	config_attach_files(struct config *cfg, struct config_source **srcs,
	    size_t *nsrcs, char *err, size_t errlen);

/* OpenSSL's version number for a min_version name (NULL: TLS 1.2), -1
 * for an unknown one. */
int	config_tls_version(const char *name);

/* Helpers shared with sallyctl: "10M" -> bytes, "72h" -> seconds. */
int	config_parse_size(const char *s, uint64_t *out);
int	config_parse_duration(const char *s, uint32_t *out);

#endif
