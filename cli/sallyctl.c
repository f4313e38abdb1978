/*
 * sallyctl - the Sallyport administration CLI.
 *
 * Sends one command to sallyportd's control socket and prints the answer,
 * in the spec's text layouts (spec/cli-monitoring-queue-snmp.md) or, with
 * --json, as JSON with the same data.  Finds the socket through the same
 * config file as sallyportd (-c FILE; default: the built-in config).
 *
 * Not for: changing anything itself; every action happens in the daemons.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "ctl.h"
#include "ipc.h"
#include "proto.h"
#include "xalloc.h"

static const char usage[] =
    "usage: sallyctl [-c FILE] [--json] COMMAND [ARGS]\n"
    "Commands:\n"
    "  status                      counters and gauges\n"
    "  showrecipients [all | host DOMAIN | from ADDRESS]\n"
    "                              recipients in the delivery queue\n"
    "  delivernow [DOMAIN | all]   retry deferred mail now\n"
    "  suspenddel [DOMAIN ...]     suspend delivery (all, or some domains)\n"
    "  resumedel [DOMAIN ...]      resume delivery\n"
    "  suspendlistener [NAME ...]  stop receiving on listeners (all by default)\n"
    "  resumelistener              receive again on every listener\n"
    "  resetcounters               reset the Reset column of the counters\n"
    "  commit                      reload the configuration (refused if invalid)\n"
    "  version                     version of the running gateway\n"
    "Options:\n"
    "  -c FILE   the gateway's configuration file (to find its control socket)\n"
    "  --json    print the answer as JSON\n"
    "  -h        this help; see sallyctl(8)\n";

/* ---- talking to master ---- */

static int
read_full(int fd, void *p, size_t n)
{
	unsigned char *q = p;

	while (n > 0) {
		ssize_t r = read(fd, q, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
request(const char *sockpath, int argc, char **argv, struct ctl_result *res)
{
	struct sockaddr_un sun;
	unsigned char hbuf[IPC_HDR_LEN], *payload;
	struct ipc_hdr hdr;
	struct buf b;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof sun.sun_path) {
		fprintf(stderr, "sallyctl: control socket path too long: %s\n", sockpath);
		return -1;
	}
	memcpy(sun.sun_path, sockpath, strlen(sockpath) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		fprintf(stderr, "sallyctl: cannot reach sallyportd at %s: %s\n"
		    "(is it running? is -c the same file it was started with?)\n",
		    sockpath, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf_init(&b, 0);
	ctl_encode_request(&b, 1, argc, argv);
	if (write(fd, b.data, b.len) != (ssize_t)b.len) {
		fprintf(stderr, "sallyctl: write to %s: %s\n", sockpath, strerror(errno));
		close(fd);
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	if (read_full(fd, hbuf, sizeof hbuf) < 0 || ipc_frame_parse(hbuf, sizeof hbuf, &hdr) < 0 ||
	    hdr.type != IMSG_CTL_REPLY) {
		fprintf(stderr, "sallyctl: no valid answer from sallyportd\n");
		close(fd);
		return -1;
	}
	payload = xmalloc(hdr.len ? hdr.len : 1);
	if (read_full(fd, payload, hdr.len) < 0 || ctl_result_decode(payload, hdr.len, res) < 0) {
		fprintf(stderr, "sallyctl: malformed answer from sallyportd\n");
		free(payload);
		close(fd);
		return -1;
	}
	free(payload);
	close(fd);
	return 0;
}

/* ---- formatting ---- */

static const char *
commas(const char *digits, char *out, size_t outlen)
{
	size_t n = strlen(digits), i, o = 0;

	for (i = 0; i < n && o + 2 < outlen; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = digits[i];
	}
	out[o] = '\0';
	return out;
}

static const struct ctl_record *
find_rec(const struct ctl_result *res, const char *section, const char *name)
{
	size_t i;

	for (i = 0; i < res->nrec; i++) {
		const char *s = ctl_record_get(&res->recs[i], "section");
		const char *n = ctl_record_get(&res->recs[i], "name");
		if (s && n && strcmp(s, section) == 0 && strcmp(n, name) == 0)
			return &res->recs[i];
	}
	return NULL;
}

static const char *
rec_val(const struct ctl_result *res, const char *section, const char *name, const char *key)
{
	const struct ctl_record *r = find_rec(res, section, name);
	const char *v = r ? ctl_record_get(r, key) : NULL;

	return v ? v : "0";
}

static void
fmt_time(time_t t, char *out, size_t len)
{
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, "%a %b %d %H:%M:%S %Y %Z", &tm);
}

static void
fmt_uptime(unsigned long long s, char *out, size_t len)
{
	unsigned long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (d)
		snprintf(out, len, "%llud %lluh %llum %llus", d, h, m, sec);
	else
		snprintf(out, len, "%lluh %llum %llus", h, m, sec);
}

static void
fmt_age(unsigned long long s, char *out, size_t len)
{
	static const struct { unsigned long long secs; const char *one, *many; } units[] = {
		{ 604800, "week", "weeks" }, { 86400, "day", "days" }, { 3600, "hour", "hours" },
		{ 60, "min", "mins" }, { 1, "sec", "secs" },
	};
	size_t i, o = 0;

	out[0] = '\0';
	for (i = 0; i < sizeof units / sizeof units[0]; i++) {
		unsigned long long n = s / units[i].secs;
		if (n == 0)
			continue;
		s %= units[i].secs;
		o += (size_t)snprintf(out + o, len - o, "%s%llu %s", o ? " " : "", n,
		    n == 1 ? units[i].one : units[i].many);
		if (o >= len)
			break;
	}
	if (out[0] == '\0')
		snprintf(out, len, "0 secs");
}

static void
print_counter(const struct ctl_result *res, const char *label)
{
	char a[32], b[32], c[32];
	char line[128];
	int pad;

	/* Columns end at 39, 53 and 67 as in the spec's example; a long
	 * label pushes only its own row. */
	snprintf(line, sizeof line, "    %s", label);
	commas(rec_val(res, "counter", label, "reset"), a, sizeof a);
	pad = 39 - (int)strlen(line);
	if (pad < (int)strlen(a) + 1)
		pad = (int)strlen(a) + 1;
	printf("%s%*s%14s%14s\n", line, pad, a,
	    commas(rec_val(res, "counter", label, "uptime"), b, sizeof b),
	    commas(rec_val(res, "counter", label, "lifetime"), c, sizeof c));
}

static void
print_id(const struct ctl_result *res, const char *label)
{
	char line[128];

	snprintf(line, sizeof line, "    %s", label);
	printf("%s%*s\n", line, 67 - (int)strlen(line), rec_val(res, "id", label, "value"));
}

static void
print_gauge(const struct ctl_result *res, const char *label)
{
	char line[128], v[32];
	int pad;

	snprintf(line, sizeof line, "    %s", label);
	commas(rec_val(res, "gauge", label, "current"), v, sizeof v);
	pad = 35 - (int)strlen(line);
	if (pad < (int)strlen(v) + 1)
		pad = (int)strlen(v) + 1;
	printf("%s%*s\n", line, pad, v);
}

static void
print_status(const struct ctl_result *res)
{
	char t[64], u[64], age[128];
	time_t now = (time_t)strtoll(rec_val(res, "info", "Status as of", "value"), NULL, 10);
	time_t up = (time_t)strtoll(rec_val(res, "info", "Up since", "value"), NULL, 10);
	time_t reset = (time_t)strtoll(rec_val(res, "info", "Last counter reset", "value"), NULL, 10);
	unsigned long long oldest = strtoull(rec_val(res, "info", "Oldest Message", "value"), NULL, 10);
	unsigned long long queued = strtoull(rec_val(res, "info", "Queued Messages", "value"), NULL, 10);
	const char *dsusp = rec_val(res, "info", "Delivery suspended", "value");

	printf("\n");
	fmt_time(now, t, sizeof t);
	printf("%-23s%s\n", "Status as of:", t);
	fmt_time(up, t, sizeof t);
	fmt_uptime((unsigned long long)(now - up), u, sizeof u);
	printf("%-23s%s (%s)\n", "Up since:", t, u);
	if (reset)
		fmt_time(reset, t, sizeof t);
	printf("%-23s%s\n", "Last counter reset:", reset ? t : "Never");
	/* Receiving counts as suspended only when every listener is. */
	{
		const char *rsusp = rec_val(res, "info", "Receiving suspended", "value");
		int rs = strcmp(rsusp, "all") == 0, ds = strcmp(dsusp, "all") == 0;
		printf("%-23s%s\n", "System status:", rs && ds ? "Offline" : rs ?
		    "Receiving Suspended" : ds ? "Delivery Suspended" : "Online");
	}
	if (queued)
		fmt_age(oldest, age, sizeof age);
	printf("%-23s%s\n", "Oldest Message:", queued ? age : "No Messages");
	printf("\n%-34s%s%14s%14s\n", "Counters:", "Reset", "Uptime", "Lifetime");
	printf("  Receiving\n");
	print_counter(res, "Messages Received");
	print_counter(res, "Recipients Received");
	print_counter(res, "Gen. Bounce Recipients");
	printf("  Rejection\n");
	print_counter(res, "Rejected Recipients");
	print_counter(res, "Dropped Messages");
	printf("  Queue\n");
	print_counter(res, "Soft Bounced Events");
	printf("  Completion\n");
	print_counter(res, "Completed Recipients");
	print_counter(res, "Hard Bounced Recipients");
	print_counter(res, "Delivered Recipients");
	printf("  Current IDs\n");
	print_id(res, "Message ID (MID)");
	print_id(res, "Injection Conn. ID (ICID)");
	print_id(res, "Delivery Conn. ID (DCID)");
	printf("\n%-28s%s\n", "Gauges:", "Current");
	printf("  Connections\n");
	print_gauge(res, "Current Inbound Conn.");
	print_gauge(res, "Current Outbound Conn.");
	printf("  Queue\n");
	print_gauge(res, "Active Recipients");
	print_gauge(res, "Messages In Work Queue");
	print_gauge(res, "Messages In Quarantine");
	print_gauge(res, "Kilobytes Used");
	print_gauge(res, "Kilobytes In Quarantine");
	print_gauge(res, "Kilobytes Free");
}

static void
print_showrecipients(const struct ctl_result *res)
{
	size_t i;

	if (res->nrec == 0)
		return;
	printf("%-9s%-9s%-26s%s\n", "MID/", "Bytes/", "Sender/", "Subject");
	printf("%-9s%-9s%s\n", "[RID]", "[Atmps]", "Recipient");
	for (i = 0; i < res->nrec; i++) {
		const struct ctl_record *r = &res->recs[i];
		char rid[32], at[32];
		const char *s = ctl_record_get(r, "sender");

		printf("%-8s %-8s %-25s %s\n", ctl_record_get(r, "mid"), ctl_record_get(r, "bytes"),
		    s && *s ? s : "<>", ctl_record_get(r, "subject"));
		snprintf(rid, sizeof rid, "[%s]", ctl_record_get(r, "rid"));
		snprintf(at, sizeof at, "[%s]", ctl_record_get(r, "attempts"));
		printf("%-8s %-8s %s\n", rid, at, ctl_record_get(r, "recipient"));
	}
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void
print_json(const char *cmd, const struct ctl_result *res)
{
	size_t i, j;

	printf("{\"command\": ");
	json_str(cmd);
	printf(", \"ok\": %s, \"message\": ", res->status == 0 ? "true" : "false");
	json_str(res->message);
	printf(", \"records\": [");
	for (i = 0; i < res->nrec; i++) {
		printf("%s{", i ? ", " : "");
		for (j = 0; j < res->recs[i].nfield; j++) {
			printf("%s", j ? ", " : "");
			json_str(res->recs[i].keys[j]);
			printf(": ");
			json_str(res->recs[i].vals[j]);
		}
		printf("}");
	}
	printf("]}\n");
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	struct config_source *srcs;
	struct config *cfg;
	struct ctl_result res;
	char err[1024], *sock;
	size_t nsrcs;
	int json = 0, i, rc;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfgpath = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "sallyctl: unknown option %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "sallyctl: no command given (the interactive shell is not built "
		    "yet)\n%s", usage);
		return 2;
	}
	if (cfgpath) {
		if (config_read_sources(cfgpath, &srcs, &nsrcs, err, sizeof err) < 0 ||
		    config_parse_sources(srcs, nsrcs, &cfg, err, sizeof err) < 0) {
			fprintf(stderr, "sallyctl: %s\n", err);
			return 1;
		}
		config_free_sources(srcs, nsrcs);
	} else
		cfg = config_builtin_default();
	sock = xasprintf("%s/control.sock", cfg->paths.run);
	if (request(sock, argc - i, argv + i, &res) < 0)
		return 1;
	if (json)
		print_json(argv[i], &res);
	else if (res.status != 0)
		fprintf(stderr, "sallyctl: %s\n", res.message);
	else if (strcmp(argv[i], "status") == 0)
		print_status(&res);
	else if (strcmp(argv[i], "showrecipients") == 0) {
		print_showrecipients(&res);
		if (res.message[0])
			printf("%s\n", res.message);
	} else if (res.message[0])
		printf("%s\n", res.message);
	rc = res.status == 0 ? 0 : 1;
	ctl_result_free(&res);
	free(sock);
	config_free(cfg);
	return rc;
}
