/*
 * sallyctl - the Sallyport administration CLI.
 *
 * Sends commands to sallyportd's control socket and prints the answers in
 * the spec's text layouts (format.c) or, with --json, as JSON with the same
 * data.  Finds the socket through the same config file as sallyportd (-c
 * FILE; default: the built-in config).  Every command works from its
 * arguments alone; an argument left out is asked for when stdin is a
 * terminal (the spec's prompts), and otherwise takes the spec's default.
 * Confirmations default to No; --yes answers them.  With no command,
 * sallyctl is an interactive shell (libedit) with the prompt
 * "<hostname>> ".
 *
 * Not for: changing anything itself; every action happens in the daemons.
 * The exceptions are findevent, which reads the log files (findevent.c),
 * and certconfig, which manages the certificate files (certconfig.c).
 */
#include <errno.h>
#include <histedit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "certconfig.h"
#include "config.h"
#include "ctl.h"
#include "findevent.h"
#include "format.h"
#include "ipc.h"
#include "proto.h"
#include "xalloc.h"

#define LINE_MAX_INPUT	1024

static const char usage[] =
    "usage: sallyctl [-c FILE] [--json] [--yes] [COMMAND [ARGS]]\n"
    "With no command: an interactive shell ('help' lists the commands).\n"
    "Commands:\n"
    "  status [detail]             counters and gauges (detail: and rates)\n"
    "  hoststatus DOMAIN           one destination: counters, DNS, last errors\n"
    "  tophosts [1-5]              top 20 destinations (sort: 1 active, 2 conn. out,\n"
    "                              3 delivered, 4 soft bounced, 5 hard bounced)\n"
    "  rate [SECONDS [COUNT]]      activity every SECONDS (default 10) until Ctrl-C\n"
    "  hostrate DOMAIN [SECONDS [COUNT]]\n"
    "  dnsstatus | dnsflush        DNS cache counters | empty the DNS cache\n"
    "  tcpservices                 listening sockets of the gateway\n"
    "  showrecipients [all | host DOMAIN | from ADDRESS]\n"
    "  deleterecipients [all | host DOMAIN | from ADDRESS]\n"
    "  bouncerecipients [all | host DOMAIN | from ADDRESS]\n"
    "  redirectrecipients HOST[:PORT]\n"
    "  delivernow [DOMAIN | all]   retry deferred mail now\n"
    "  suspenddel [SECONDS] [DOMAIN ...] | resumedel [DOMAIN ...]\n"
    "  suspendlistener [NAME ...] | resumelistener\n"
    "  suspend [SECONDS] | resume  receiving and delivery together\n"
    "  workqueue [status | pause [REASON] | resume | rate]\n"
    "  showmessage MID | oldmessage | removemessage MID | archivemessage MID\n"
    "  findevent from|to|subject REGEX | mid MID  [current | all]\n"
    "  resetcounters | commit | version\n"
    "  tlsverify DOMAIN [HOST[:PORT]]  connect as delivery would and check TLS as\n"
    "                              required-verify, step by step (exit 1: not verified)\n"
    "  certconfig [list | show | generate | csr | upload | import | export | delete |\n"
    "             certauthority] ...  certificates and CA lists ('certconfig help')\n"
    "Options:\n"
    "  -c FILE   the gateway's configuration file (to find its control socket)\n"
    "  --json    print the answer as JSON\n"
    "  --yes     answer yes to confirmations\n"
    "  -h        this help; see sallyctl(8)\n";

struct cli {
	struct config	*cfg;
	char		*sock;
	int		 json;
	int		 yes;
	int		 tty;		/* stdin is a terminal: prompt for what is missing */
};

static volatile sig_atomic_t interrupted;

static void
on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* ---- talking to master ---- */

static int
request(struct cli *c, int argc, char **argv, struct ctl_result *res)
{
	struct sockaddr_un sun;
	unsigned char *payload = NULL;
	struct ipc_hdr hdr;
	struct buf b;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(c->sock) >= sizeof sun.sun_path) {
		fprintf(stderr, "sallyctl: control socket path too long: %s\n", c->sock);
		return -1;
	}
	memcpy(sun.sun_path, c->sock, strlen(c->sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		fprintf(stderr, "sallyctl: cannot reach sallyportd at %s: %s\n"
		    "(is it running? is -c the same file it was started with?)\n",
		    c->sock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf_init(&b, 0);
	ctl_encode_request(&b, 1, argc, argv);
	if (write(fd, b.data, b.len) != (ssize_t)b.len) {
		fprintf(stderr, "sallyctl: write to %s: %s\n", c->sock, strerror(errno));
		close(fd);
		buf_free(&b);
		return -1;
	}
	buf_free(&b);
	if (ipc_read_frame(fd, &hdr, &payload) < 0 || hdr.type != IMSG_CTL_REPLY) {
		fprintf(stderr, "sallyctl: no valid answer from sallyportd\n");
		free(payload);
		close(fd);
		return -1;
	}
	if (ctl_result_decode(payload, hdr.len, res) < 0) {
		fprintf(stderr, "sallyctl: malformed answer from sallyportd\n");
		free(payload);
		close(fd);
		return -1;
	}
	free(payload);
	close(fd);
	return 0;
}

/* ---- prompts ---- */

/* Reads one line (bounded) after printing the prompt; NULL at EOF. */
static char *
ask(const char *prompt, const char *def, char *out, size_t outlen)
{
	size_t n;

	printf("%s", prompt);
	fflush(stdout);
	if (fgets(out, (int)outlen, stdin) == NULL)
		return NULL;
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == outlen - 1) {
		int ch;
		while ((ch = getchar()) != EOF && ch != '\n')
			;
	}
	out[n] = '\0';
	if (out[0] == '\0' && def)
		snprintf(out, outlen, "%s", def);
	return out;
}

/* A confirmation: --yes, else the answer read from stdin; default No. */
static int
confirm(struct cli *c, const char *question)
{
	char line[64];

	if (c->yes)
		return 1;
	printf("%s", question);
	fflush(stdout);
	if (fgets(line, sizeof line, stdin) == NULL) {
		printf("\n");
		return 0;
	}
	return line[0] == 'y' || line[0] == 'Y';
}

/* ---- commands ---- */

static int
print_reply(struct cli *c, const char *cmd, struct ctl_result *res,
    void (*fmt)(FILE *, const struct ctl_result *))
{
	if (c->json)
		fmt_json(stdout, cmd, res);
	else if (res->status != 0)
		fprintf(stderr, "sallyctl: %s\n", res->message);
	else {
		if (fmt)
			fmt(stdout, res);
		if (res->message && res->message[0])
			printf("%s\n", res->message);
	}
	return res->status == 0 ? 0 : 1;
}

/* Sends argv and prints the answer with fmt (NULL: the message only). */
static int
simple(struct cli *c, int argc, char **argv, void (*fmt)(FILE *, const struct ctl_result *))
{
	struct ctl_result res;
	int rc;

	if (request(c, argc, argv, &res) < 0)
		return 1;
	rc = print_reply(c, argv[0], &res, fmt);
	ctl_result_free(&res);
	return rc;
}

static void
fmt_status_plain(FILE *fp, const struct ctl_result *res)
{
	fmt_status(fp, res, 0);
}

static void
fmt_status_detail(FILE *fp, const struct ctl_result *res)
{
	fmt_status(fp, res, 1);
}

/* Selection for show/delete/bounce recipients: all, host D, from A. */
static int
select_recipients(struct cli *c, const char *verb, int argc, char **argv, char *mode,
    size_t modelen, char *arg, size_t arglen)
{
	char line[LINE_MAX_INPUT];

	arg[0] = '\0';
	if (argc > 1) {
		snprintf(mode, modelen, "%s", argv[1]);
		if (argc > 2)
			snprintf(arg, arglen, "%s", argv[2]);
	} else if (c->tty) {
		printf("Please select how you would like to %s messages:\n1. By recipient host.\n"
		    "2. By Envelope From address.\n3. All.\n", verb);
		if (ask("[1]> ", "1", line, sizeof line) == NULL)
			return -1;
		snprintf(mode, modelen, "%s", line[0] == '3' ? "all" : line[0] == '2' ? "from" : "host");
	} else
		snprintf(mode, modelen, "all");
	if (strcmp(mode, "all") != 0 && strcmp(mode, "host") != 0 && strcmp(mode, "from") != 0) {
		fprintf(stderr, "sallyctl: %s: select all, host DOMAIN or from ADDRESS\n", argv[0]);
		return -1;
	}
	if (strcmp(mode, "all") != 0 && arg[0] == '\0') {
		if (!c->tty) {
			fprintf(stderr, "sallyctl: %s %s: which %s?\n", argv[0], mode,
			    strcmp(mode, "host") == 0 ? "domain" : "address");
			return -1;
		}
		if (strcmp(mode, "host") == 0)
			printf("Please enter the hostname for the messages you wish to %s.\n", verb);
		else
			printf("Please enter the Envelope From address for the messages you wish to "
			    "%s.\n", verb);
		if (ask("[]> ", NULL, arg, arglen) == NULL || arg[0] == '\0')
			return -1;
	}
	return 0;
}

static int
cmd_showrecipients(struct cli *c, int argc, char **argv)
{
	char mode[16], arg[LINE_MAX_INPUT];
	char *av[3];

	if (select_recipients(c, "show", argc, argv, mode, sizeof mode, arg, sizeof arg) < 0)
		return 1;
	av[0] = argv[0];
	av[1] = mode;
	av[2] = arg;
	if (c->tty && !c->json)
		printf("Showing messages, please wait.\n");
	return simple(c, strcmp(mode, "all") == 0 ? 2 : 3, av, fmt_showrecipients);
}

/* deleterecipients, bouncerecipients. */
static int
cmd_remove_recipients(struct cli *c, int argc, char **argv)
{
	int bounce = strcmp(argv[0], "bouncerecipients") == 0;
	const char *verb = bounce ? "bounce" : "delete";
	char mode[16], arg[LINE_MAX_INPUT], q[LINE_MAX_INPUT + 200];
	char *av[3];

	if (select_recipients(c, verb, argc, argv, mode, sizeof mode, arg, sizeof arg) < 0)
		return 1;
	if (strcmp(mode, "host") == 0)
		snprintf(q, sizeof q, "Are you sure you want to %s all messages being delivered to "
		    "\"%s\"? [N]> ", verb, arg);
	else if (strcmp(mode, "from") == 0)
		snprintf(q, sizeof q, "Are you sure you want to %s all messages with the Envelope "
		    "From address of\n\"%s\"? [N]> ", verb, arg);
	else if (bounce)
		snprintf(q, sizeof q, "Are you sure you want to bounce all messages in the queue? "
		    "[N]> ");
	else
		snprintf(q, sizeof q, "Are you sure you want to delete all messages in the delivery "
		    "queue (all active recipients)?\n[N]> ");
	if (!confirm(c, q))
		return 1;
	av[0] = argv[0];
	av[1] = mode;
	av[2] = arg;
	if (!c->json)
		printf("%s messages, please wait.\n", bounce ? "Bouncing" : "Deleting");
	return simple(c, strcmp(mode, "all") == 0 ? 2 : 3, av, NULL);
}

static int
cmd_redirect(struct cli *c, int argc, char **argv)
{
	char host[LINE_MAX_INPUT], q[LINE_MAX_INPUT + 100];
	char *av[2];

	if (argc > 1)
		snprintf(host, sizeof host, "%s", argv[1]);
	else if (!c->tty || (printf("Please enter the hostname or IP address of the machine you "
	    "want to send all mail to.\n"), ask("[]> ", NULL, host, sizeof host)) == NULL ||
	    host[0] == '\0') {
		fprintf(stderr, "sallyctl: redirectrecipients: which host?\n");
		return 1;
	}
	if (!c->json)
		printf("WARNING: redirecting recipients to a host or IP address that is not prepared "
		    "to accept\nlarge volumes of SMTP mail from this host will cause messages to "
		    "bounce and possibly\nresult in the loss of mail.\n");
	snprintf(q, sizeof q, "Are you sure you want to redirect all mail in the queue to \"%s\"? "
	    "[N]> ", host);
	if (!confirm(c, q))
		return 1;
	if (!c->json)
		printf("Redirecting messages, please wait.\n");
	av[0] = argv[0];
	av[1] = host;
	return simple(c, 2, av, NULL);
}

/* Argument 1 or a prompt with a default (NULL when there is none). */
static const char *
arg_or_ask(struct cli *c, int argc, char **argv, int i, const char *prompt, const char *bracket,
    const char *def, char *buf, size_t len)
{
	if (argc > i)
		return argv[i];
	if (!c->tty)
		return def;
	printf("%s", prompt);
	if (ask(bracket, def, buf, len) == NULL)
		return NULL;
	return buf[0] ? buf : def;
}

static int
cmd_hoststatus(struct cli *c, int argc, char **argv)
{
	char buf[LINE_MAX_INPUT];
	const char *host = arg_or_ask(c, argc, argv, 1, "Recipient host:\n", "[]> ", NULL, buf,
	    sizeof buf);
	char *av[2];

	if (host == NULL || *host == '\0') {
		fprintf(stderr, "sallyctl: hoststatus: which recipient host?\n");
		return 1;
	}
	av[0] = argv[0];
	av[1] = (char *)host;
	return simple(c, 2, av, fmt_hoststatus);
}

static int
cmd_tophosts(struct cli *c, int argc, char **argv)
{
	char buf[64];
	const char *sort = arg_or_ask(c, argc, argv, 1, "Sort results by:\n1. Active Recipients\n"
	    "2. Connections Out\n3. Delivered Recipients\n4. Soft Bounced Events\n"
	    "5. Hard Bounced Recipients\n", "[1]> ", "1", buf, sizeof buf);
	char *av[2];

	av[0] = argv[0];
	av[1] = (char *)(sort ? sort : "1");
	return simple(c, 2, av, fmt_tophosts);
}

static void
sleep_until(struct timespec *next)
{
	while (!interrupted && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

/* rate, hostrate: a row every interval until Ctrl-C (or COUNT rows). */
static int
cmd_rate(struct cli *c, int argc, char **argv)
{
	int host = strcmp(argv[0], "hostrate") == 0, base = host ? 2 : 1;
	char hbuf[LINE_MAX_INPUT], ibuf[32];
	const char *dom = NULL, *ival;
	struct ctl_result res, prev;
	struct sigaction sa, old;
	struct timespec next;
	long interval, count, n;
	char *av[2];
	int have_prev = 0, rc = 0;

	if (host) {
		dom = arg_or_ask(c, argc, argv, 1, "Recipient host:\n", "[]> ", NULL, hbuf, sizeof hbuf);
		if (dom == NULL || *dom == '\0') {
			fprintf(stderr, "sallyctl: hostrate: which recipient host?\n");
			return 1;
		}
	}
	ival = arg_or_ask(c, argc, argv, base, "Enter the number of seconds between displays.\n",
	    "[10]> ", "10", ibuf, sizeof ibuf);
	interval = strtol(ival ? ival : "10", NULL, 10);
	if (interval < 1 || interval > 3600) {
		fprintf(stderr, "sallyctl: %s: the interval is 1 to 3600 seconds\n", argv[0]);
		return 1;
	}
	count = argc > base + 1 ? strtol(argv[base + 1], NULL, 10) : -1;
	av[0] = host ? "hoststatus" : "status";
	av[1] = (char *)dom;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigint;
	sigaction(SIGINT, &sa, &old);
	interrupted = 0;
	if (!c->json)
		printf("Hit Ctrl-C to return to the main prompt.\n");
	if (!c->json && !host)
		fmt_rate_header(stdout);
	else if (!c->json)
		fmt_hostrate_header(stdout);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (n = 0; !interrupted && (count < 0 || n < count); n++) {
		if (request(c, host ? 2 : 1, av, &res) < 0) {
			rc = 1;
			break;
		}
		if (res.status != 0) {
			rc = print_reply(c, argv[0], &res, NULL);
			ctl_result_free(&res);
			break;
		}
		if (c->json)
			fmt_json(stdout, argv[0], &res);
		else if (host)
			fmt_hostrate_row(stdout, &res, have_prev ? &prev : NULL);
		else
			fmt_rate_row(stdout, &res, have_prev ? &prev : NULL);
		fflush(stdout);
		if (have_prev)
			ctl_result_free(&prev);
		prev = res;
		have_prev = 1;
		if (count >= 0 && n + 1 >= count)
			break;
		/* Absolute deadlines: the rows do not drift. */
		next.tv_sec += interval;
		sleep_until(&next);
	}
	if (have_prev)
		ctl_result_free(&prev);
	if (interrupted && !c->json)
		printf("^C\n");
	sigaction(SIGINT, &old, NULL);
	return rc;
}

static int
cmd_suspenddel(struct cli *c, int argc, char **argv, int with_listeners)
{
	char buf[32], **av;
	const char *secs = NULL;
	long delay, waited;
	int i, n = 1, rc, first = 1;
	struct ctl_result res;

	if (argc > 1 && argv[1][0] != '\0' && strspn(argv[1], "0123456789") == strlen(argv[1])) {
		secs = argv[1];
		first = 2;
	} else
		secs = arg_or_ask(c, 1, argv, 1, "Enter the number of seconds to wait before abruptly "
		    "closing connections.\n", "[30]> ", "30", buf, sizeof buf);
	delay = strtol(secs ? secs : "30", NULL, 10);
	if (delay < 0 || delay > 86400) {
		fprintf(stderr, "sallyctl: %s: the delay is 0 to 86400 seconds\n", argv[0]);
		return 1;
	}
	if (with_listeners) {
		char *lv[1] = { "suspendlistener" };
		if ((rc = simple(c, 1, lv, NULL)) != 0)
			return rc;
	}
	av = xcalloc((size_t)argc + 2, sizeof *av);
	av[0] = "suspenddel";
	snprintf(buf, sizeof buf, "%ld", delay);
	av[n++] = buf;
	for (i = first; i < argc; i++)
		av[n++] = argv[i];
	if (request(c, n, av, &res) < 0) {
		free(av);
		return 1;
	}
	free(av);
	if (res.status != 0 || c->json) {
		uint32_t status = res.status;

		rc = print_reply(c, argv[0], &res, NULL);
		ctl_result_free(&res);
		if (rc != 0 || status != 0)
			return rc ? rc : 1;
	} else {
		ctl_result_free(&res);
		printf("Waiting for outgoing deliveries to finish...\n");
		fflush(stdout);
	}
	/* qmgr starts no new delivery; wait for those in flight, then cut
	 * off what is left (it stays queued). */
	for (waited = 0; waited <= delay * 10; waited++) {
		char *sv[1] = { "status" };
		unsigned long long out;

		if (request(c, 1, sv, &res) < 0)
			return 1;
		out = strtoull(fmt_val(&res, "gauge", "Current Outbound Conn.", "current"), NULL, 10) +
		    strtoull(fmt_val(&res, "info", "Deliveries In Flight", "value"), NULL, 10);
		ctl_result_free(&res);
		if (out == 0)
			break;
		if (waited == delay * 10) {
			av = xcalloc((size_t)argc + 1, sizeof *av);
			av[0] = "abortdeliveries";
			n = 1;
			for (i = first; i < argc; i++)
				av[n++] = argv[i];
			rc = request(c, n, av, &res);
			free(av);
			if (rc < 0)
				return 1;
			ctl_result_free(&res);
			break;
		}
		usleep(100000);
	}
	if (!c->json)
		printf("Mail delivery suspended.\n");
	return 0;
}

static int
cmd_workqueue(struct cli *c, int argc, char **argv)
{
	char buf[LINE_MAX_INPUT], reason[LINE_MAX_INPUT];
	const char *op;
	char *av[3];
	int rc;

	if (argc > 1)
		op = argv[1];
	else if (c->tty) {
		char *sv[2] = { "workqueue", "status" };
		if ((rc = simple(c, 2, sv, fmt_workqueue)) != 0)
			return rc;
		printf("Choose the operation you want to perform:\n- STATUS - Display work queue "
		    "status\n- PAUSE - Pause the work queue\n- RESUME - Resume the work queue\n"
		    "- RATE - Display work queue statistics over time\n");
		if (ask("[]> ", "status", buf, sizeof buf) == NULL)
			return 1;
		op = buf;
	} else
		op = "status";
	av[0] = argv[0];
	av[1] = (char *)op;
	if (strcasecmp(op, "pause") == 0) {
		if (!confirm(c, "Manually pause work queue? This will only affect unprocessed messages. "
		    "[N]> "))
			return 1;
		if (argc > 2)
			snprintf(reason, sizeof reason, "%s", argv[2]);
		else if (!c->tty || (printf("Reason for pausing work queue:\n"),
		    ask("[]> ", "", reason, sizeof reason)) == NULL)
			reason[0] = '\0';
		av[1] = "pause";
		av[2] = reason;
		return simple(c, 3, av, fmt_workqueue);
	}
	if (strcasecmp(op, "resume") == 0)
		av[1] = "resume";
	else if (strcasecmp(op, "rate") == 0)
		av[1] = "rate";
	else if (strcasecmp(op, "status") == 0)
		av[1] = "status";
	else {
		fprintf(stderr, "sallyctl: workqueue: status, pause [REASON], resume or rate\n");
		return 1;
	}
	return simple(c, 2, av, fmt_workqueue);
}

static int
cmd_mid(struct cli *c, int argc, char **argv)
{
	char buf[32], q[128];
	int archive = strcmp(argv[0], "archivemessage") == 0;
	int remove = strcmp(argv[0], "removemessage") == 0;
	const char *mid = arg_or_ask(c, argc, argv, 1, archive ? "Enter the MID to archive and "
	    "remove.\n" : remove ? "Enter the MID to remove.\n" : "Enter the MID to show.\n",
	    "[0]> ", NULL, buf, sizeof buf);
	char *av[2];

	if (mid == NULL || strspn(mid, "0123456789") != strlen(mid) || *mid == '\0') {
		fprintf(stderr, "sallyctl: %s: give a MID (a number)\n", argv[0]);
		return 1;
	}
	snprintf(q, sizeof q, "Are you sure you want to remove MID %s? [N]> ", mid);
	if (remove && !confirm(c, q))
		return 1;
	av[0] = argv[0];
	av[1] = (char *)mid;
	return simple(c, 2, av, strcmp(argv[0], "showmessage") == 0 ? fmt_oldmessage : NULL);
}

static void
fmt_resetcounters(FILE *fp, const struct ctl_result *res)
{
	time_t t = (time_t)strtoll(fmt_val(res, "info", "Last counter reset", "value"), NULL, 10);
	struct tm tm;
	char s[64];

	localtime_r(&t, &tm);
	strftime(s, sizeof s, "%a %b %d %H:%M:%S %Y", &tm);
	fprintf(fp, "Counters reset: %s\n", s);
}

/* tlsverify DOMAIN [HOST[:PORT]]: deliver connects as it would to deliver
 * (spec testing-trace-troubleshooting.md 2.5) and reports each step. */
static int
cmd_tlsverify(struct cli *c, int argc, char **argv)
{
	char dbuf[300], hbuf[320], bracket[340];
	const char *domain, *host;
	char *av[3];
	struct ctl_result res;
	size_t i;
	int ok = 0, n = 2;

	domain = arg_or_ask(c, argc, argv, 1, "Enter the TLS domain to verify against:\n\n",
	    "[ ]> ", NULL, dbuf, sizeof dbuf);
	if (domain == NULL || *domain == '\0') {
		fprintf(stderr, "sallyctl: tlsverify: which domain?\n");
		return 1;
	}
	snprintf(bracket, sizeof bracket, "[%s]> ", domain);
	/* Interactive, the host defaults to the domain (the spec's prompt);
	 * from arguments alone, to the host delivery would use. */
	host = arg_or_ask(c, argc, argv, 2, "\nEnter the destination host to connect to. "
	    "Append the port (example.com:26) if you are\nnot connecting on port 25:\n\n",
	    bracket, c->tty ? domain : NULL, hbuf, sizeof hbuf);
	av[0] = "tlsverify";
	av[1] = (char *)domain;
	if (host != NULL && *host != '\0')
		av[n++] = (char *)host;
	if (request(c, n, av, &res) < 0)
		return 1;
	for (i = 0; i < res.nrec; i++) {
		const char *sec = ctl_record_get(&res.recs[i], "section");
		const char *v = ctl_record_get(&res.recs[i], sec && strcmp(sec, "result") == 0 ?
		    "ok" : "text");

		if (sec && strcmp(sec, "result") == 0)
			ok = v && strcmp(v, "1") == 0;
		else if (!c->json && sec && strcmp(sec, "line") == 0 && v)
			printf("%s\n", v);
	}
	if (c->json)
		fmt_json(stdout, "tlsverify", &res);
	else if (res.status != 0)
		fprintf(stderr, "sallyctl: %s\n", res.message);
	n = res.status == 0 && ok ? 0 : 1;
	ctl_result_free(&res);
	return n;
}

static int
cmd_findevent(struct cli *c, int argc, char **argv)
{
	char tbuf[16], rbuf[LINE_MAX_INPUT], sbuf[16];
	const char *type, *re, *set;

	type = arg_or_ask(c, argc, argv, 1, "Please choose which type of search you want to "
	    "perform:\n1. Search by envelope FROM\n2. Search by Message ID\n3. Search by Subject\n"
	    "4. Search by envelope TO\n", "[1]> ", "1", tbuf, sizeof tbuf);
	if (type == NULL)
		return 1;
	if (strcmp(type, "1") == 0)
		type = "from";
	else if (strcmp(type, "2") == 0)
		type = "mid";
	else if (strcmp(type, "3") == 0)
		type = "subject";
	else if (strcmp(type, "4") == 0)
		type = "to";
	re = arg_or_ask(c, argc, argv, 2, strcmp(type, "mid") == 0 ? "Enter the Message ID (MID) "
	    "you want to track.\n" : "Enter the regular expression to search for.\n", "[]> ", NULL,
	    rbuf, sizeof rbuf);
	if (re == NULL || *re == '\0') {
		fprintf(stderr, "sallyctl: findevent: what to search for?\n");
		return 1;
	}
	set = arg_or_ask(c, argc, argv, 3, "Please choose which set of logs to search:\n"
	    "1. All available log files\n3. Current log file\n", "[3]> ", "current", sbuf,
	    sizeof sbuf);
	return findevent_run(stdout, c->cfg->paths.log, type, re,
	    set && (strcmp(set, "1") == 0 || strcmp(set, "all") == 0), c->json);
}

static int run_command(struct cli *c, int argc, char **argv);

/* suspendlistener / resumelistener on a terminal without names: the
 * spec's menu ("1. All", then each listener; several with commas) and,
 * to suspend, the drain delay. */
static int
cmd_listeners(struct cli *c, int argc, char **argv)
{
	int suspend = argv[0][0] == 's';
	char line[LINE_MAX_INPUT], dbuf[32], *tok, *save = NULL;
	char *av[CTL_MAX_ARGS + 1];
	size_t i;
	int n = 1, rc;

	if (argc > 1 || !c->tty || c->cfg->nlisteners == 0)
		return simple(c, argc, argv, NULL);
	printf("Choose the listener(s) you wish to %s.\nSeparate multiple entries with commas.\n"
	    "1. All\n", suspend ? "suspend" : "resume");
	for (i = 0; i < c->cfg->nlisteners; i++)
		printf("%zu. %s\n", i + 2, c->cfg->listeners[i].name);
	if (ask("[1]> ", "1", line, sizeof line) == NULL)
		return 1;
	av[0] = argv[0];
	for (tok = strtok_r(line, ", ", &save); tok && n < CTL_MAX_ARGS;
	    tok = strtok_r(NULL, ", ", &save)) {
		long k = strtol(tok, NULL, 10);
		if (k == 1) {
			n = 1;		/* All */
			break;
		}
		if (k < 2 || (size_t)k > c->cfg->nlisteners + 1) {
			fprintf(stderr, "sallyctl: no listener number %s\n", tok);
			return 1;
		}
		av[n++] = c->cfg->listeners[k - 2].name;
	}
	if (suspend) {
		printf("Enter the number of seconds to wait before abruptly closing connections.\n");
		if (ask("[30]> ", "30", dbuf, sizeof dbuf) == NULL)
			return 1;
		printf("Waiting for listeners to exit...\n");
	}
	av[n] = NULL;
	rc = simple(c, n, av, NULL);
	return rc;
}

static int
cmd_resume(struct cli *c)
{
	char *lv[1] = { "resumelistener" }, *dv[1] = { "resumedel" };
	int rc = simple(c, 1, lv, NULL);

	return simple(c, 1, dv, NULL) || rc;
}

static int
run_command(struct cli *c, int argc, char **argv)
{
	const char *cmd = argv[0];

	if (strcmp(cmd, "status") == 0) {
		int detail = argc > 1 && strcmp(argv[1], "detail") == 0;
		return simple(c, argc > 2 ? 2 : argc, argv, detail ? fmt_status_detail :
		    fmt_status_plain);
	}
	if (strcmp(cmd, "hoststatus") == 0)
		return cmd_hoststatus(c, argc, argv);
	if (strcmp(cmd, "tophosts") == 0)
		return cmd_tophosts(c, argc, argv);
	if (strcmp(cmd, "rate") == 0 || strcmp(cmd, "hostrate") == 0)
		return cmd_rate(c, argc, argv);
	if (strcmp(cmd, "dnsstatus") == 0)
		return simple(c, 1, argv, fmt_dnsstatus);
	if (strcmp(cmd, "tcpservices") == 0)
		return simple(c, 1, argv, fmt_tcpservices);
	if (strcmp(cmd, "topin") == 0)
		return simple(c, 1, argv, fmt_topin);
	if (strcmp(cmd, "showrecipients") == 0)
		return cmd_showrecipients(c, argc, argv);
	if (strcmp(cmd, "deleterecipients") == 0 || strcmp(cmd, "bouncerecipients") == 0)
		return cmd_remove_recipients(c, argc, argv);
	if (strcmp(cmd, "redirectrecipients") == 0)
		return cmd_redirect(c, argc, argv);
	if (strcmp(cmd, "suspenddel") == 0)
		return cmd_suspenddel(c, argc, argv, 0);
	if (strcmp(cmd, "suspend") == 0)
		return cmd_suspenddel(c, argc, argv, 1);
	if (strcmp(cmd, "resume") == 0)
		return cmd_resume(c);
	if (strcmp(cmd, "suspendlistener") == 0 || strcmp(cmd, "resumelistener") == 0 ||
	    strcmp(cmd, "resumelister") == 0)
		return cmd_listeners(c, argc, argv);
	if (strcmp(cmd, "workqueue") == 0)
		return cmd_workqueue(c, argc, argv);
	if (strcmp(cmd, "showmessage") == 0 || strcmp(cmd, "removemessage") == 0 ||
	    strcmp(cmd, "archivemessage") == 0)
		return cmd_mid(c, argc, argv);
	if (strcmp(cmd, "oldmessage") == 0)
		return simple(c, 1, argv, fmt_oldmessage);
	if (strcmp(cmd, "findevent") == 0)
		return cmd_findevent(c, argc, argv);
	if (strcmp(cmd, "tlsverify") == 0)
		return cmd_tlsverify(c, argc, argv);
	if (strcmp(cmd, "certconfig") == 0)
		return certconfig_run(c->cfg, argc, argv, c->json, c->yes);
	if (strcmp(cmd, "resetcounters") == 0)
		return simple(c, 1, argv, fmt_resetcounters);
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "?") == 0) {
		printf("%s", usage);
		return 0;
	}
	if (strcmp(cmd, "delivernow") == 0 && argc == 1 && c->tty) {
		char buf[LINE_MAX_INPUT], dom[LINE_MAX_INPUT];
		char *av[2] = { argv[0], dom };
		printf("Please choose an option for scheduling immediate delivery.\n"
		    "1. By recipient host\n2. All messages\n");
		if (ask("[1]> ", "1", buf, sizeof buf) == NULL)
			return 1;
		if (buf[0] == '2')
			snprintf(dom, sizeof dom, "all");
		else if (printf("Please enter the domain to schedule for immediate delivery.\n"),
		    ask("[]> ", NULL, dom, sizeof dom) == NULL || dom[0] == '\0')
			return 1;
		return simple(c, 2, av, NULL);
	}
	/* delivernow, resumedel, suspendlistener, resumelistener, dnsflush,
	 * commit, version, and anything master refuses by name. */
	return simple(c, argc, argv, NULL);
}

/* ---- the interactive shell ---- */

static char prompt_text[300];

static const char *const command_names[] = {
	"archivemessage", "bouncerecipients", "certconfig", "commit", "deleterecipients", "delivernow",
	"dnsflush", "dnsstatus", "findevent", "help", "hostrate", "hoststatus", "oldmessage",
	"quit", "rate", "redirectrecipients", "removemessage", "resetcounters", "resume",
	"resumedel", "resumelistener", "showmessage", "showrecipients", "status", "suspend",
	"suspenddel", "suspendlistener", "tcpservices", "tlsverify", "tophosts", "topin", "version",
	"workqueue",
};

/* Tab: completes a command name (the first word), or lists the choices. */
static unsigned char
complete_command(EditLine *el, int ch)
{
	const LineInfo *li = el_line(el);
	const char *start = li->cursor, *match = NULL;
	size_t len, i, n = 0, common = 0;

	(void)ch;
	while (start > li->buffer && start[-1] != ' ' && start[-1] != '\t')
		start--;
	for (i = 0; li->buffer + i < start; i++)
		if (li->buffer[i] != ' ' && li->buffer[i] != '\t')
			return CC_ERROR;	/* only the command is completed */
	len = (size_t)(li->cursor - start);
	for (i = 0; i < sizeof command_names / sizeof command_names[0]; i++) {
		if (strncmp(command_names[i], start, len) != 0)
			continue;
		if (n++ == 0) {
			match = command_names[i];
			common = strlen(match);
		} else
			while (common > len && strncmp(match, command_names[i], common) != 0)
				common--;
	}
	if (n == 0)
		return CC_ERROR;
	if (n == 1) {
		char rest[64];
		snprintf(rest, sizeof rest, "%s ", match + len);
		el_insertstr(el, rest);
		return CC_REFRESH;
	}
	if (common > len) {
		char rest[64];
		snprintf(rest, sizeof rest, "%.*s", (int)(common - len), match + len);
		el_insertstr(el, rest);
		return CC_REFRESH;
	}
	putchar('\n');
	for (i = 0; i < sizeof command_names / sizeof command_names[0]; i++)
		if (strncmp(command_names[i], start, len) == 0)
			printf("%s  ", command_names[i]);
	putchar('\n');
	return CC_REDISPLAY;
}

static char *
prompt_fn(EditLine *el)
{
	(void)el;
	return prompt_text;
}

static int
shell(struct cli *c)
{
	EditLine *el;
	History *hist;
	HistEvent ev;
	Tokenizer *tok;
	const char *line;
	int count, rc = 0;

	snprintf(prompt_text, sizeof prompt_text, "%s> ", c->cfg->hostname);
	el = el_init("sallyctl", stdin, stdout, stderr);
	hist = history_init();
	tok = tok_init(NULL);
	history(hist, &ev, H_SETSIZE, 500);
	history(hist, &ev, H_SETUNIQUE, 1);
	el_set(el, EL_PROMPT, prompt_fn);
	el_set(el, EL_EDITOR, "emacs");
	el_set(el, EL_HIST, history, hist);
	el_set(el, EL_SIGNAL, 1);
	el_set(el, EL_ADDFN, "sp-complete", "complete a command name", complete_command);
	el_set(el, EL_BIND, "^I", "sp-complete", NULL);
	el_source(el, NULL);
	while ((line = el_gets(el, &count)) != NULL) {
		int argc, i, saved_json = c->json, saved_yes = c->yes;
		const char **argv;

		if (count > LINE_MAX_INPUT) {
			fprintf(stderr, "sallyctl: line too long (at most %d characters)\n",
			    LINE_MAX_INPUT);
			continue;
		}
		tok_reset(tok);
		if (tok_str(tok, line, &argc, &argv) != 0) {
			fprintf(stderr, "sallyctl: unbalanced quotes\n");
			continue;
		}
		if (argc == 0)
			continue;
		history(hist, &ev, H_ENTER, line);
		if (strcmp(argv[0], "quit") == 0 || strcmp(argv[0], "exit") == 0)
			break;
		for (i = 0; i < argc && argv[i][0] == '-'; i++) {
			if (strcmp(argv[i], "--json") == 0)
				c->json = 1;
			else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
				c->yes = 1;
		}
		if (argc - i > CTL_MAX_ARGS)
			fprintf(stderr, "sallyctl: too many arguments (at most %d)\n", CTL_MAX_ARGS);
		else if (i < argc) {
			char *av[CTL_MAX_ARGS + 1];
			int k;

			/* run_command takes a mutable argv like main's. */
			for (k = i; k < argc; k++)
				av[k - i] = xstrdup(argv[k]);
			av[argc - i] = NULL;
			rc = run_command(c, argc - i, av);
			for (k = 0; k < argc - i; k++)
				free(av[k]);
		}
		c->json = saved_json;
		c->yes = saved_yes;
		fflush(stdout);
	}
	if (line == NULL)
		printf("\n");
	tok_end(tok);
	history_end(hist);
	el_end(el);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cfgpath = NULL;
	struct config_source *srcs;
	struct cli c;
	char err[1024];
	size_t nsrcs;
	int i, rc;

	memset(&c, 0, sizeof c);
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfgpath = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			c.json = 1;
		else if (strcmp(argv[i], "--yes") == 0 || strcmp(argv[i], "-y") == 0)
			c.yes = 1;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			printf("%s", usage);
			return 0;
		} else {
			fprintf(stderr, "sallyctl: unknown option %s\n%s", argv[i], usage);
			return 2;
		}
	}
	if (argc - i > CTL_MAX_ARGS) {
		fprintf(stderr, "sallyctl: too many arguments (at most %d)\n", CTL_MAX_ARGS);
		return 2;
	}
	if (cfgpath) {
		if (config_read_sources(cfgpath, &srcs, &nsrcs, err, sizeof err) < 0 ||
		    config_parse_sources(srcs, nsrcs, &c.cfg, err, sizeof err) < 0) {
			fprintf(stderr, "sallyctl: %s\n", err);
			return 1;
		}
		config_free_sources(srcs, nsrcs);
	} else
		c.cfg = config_builtin_default();
	c.sock = xasprintf("%s/control.sock", c.cfg->paths.run);
	c.tty = isatty(0);
	if (i >= argc) {
		rc = shell(&c);
	} else
		rc = run_command(&c, argc - i, argv + i);
	free(c.sock);
	config_free(c.cfg);
	return rc;
}
