/* tdsd: a TDS 7.4 server over SQLite, the database peer of the tests.
 * One thread per connection, each with its own SQLite handle. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"
#include "secret.h"
#include "tdsd.h"

#define DEFAULT_USER "schedfeed"
#define DEFAULT_PASSWORD "schedfeed"
#define BUSY_TIMEOUT_MS 60000
#define BUSY_SLICE_MS 5

enum {
	OPT_DROP_AFTER_ROWS = 256,
	OPT_ROW_DELAY_MS,
	OPT_REFUSE_LOGINS
};

static volatile sig_atomic_t stopping;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s -f DB.sqlite [-v] [-a ADDR] [-p PORT] [-U USER]\n"
	    "            [--drop-after-rows N] [--row-delay-ms M] "
	    "[--refuse-logins]\n"
	    "A TDS 7.4 server over SQLite, for tests. Listens on ADDR "
	    "(127.0.0.1) port PORT\n"
	    "(1433; 0 picks a free one), prints \"port N\" once listening, "
	    "runs until SIGTERM.\n"
	    "Login: user %s unless -U; password %s unless TDSD_PASSWORD\n"
	    "(or TDSD_PASSWORD_FILE) says otherwise.\n",
	    progname, DEFAULT_USER, DEFAULT_PASSWORD);
	exit(EX_USAGE);
}

static long
parse_count(const char *text, const char *option, long max)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < 0 ||
	    value > max)
		die(EX_USAGE, "%s: not a number from 0 to %ld: %s", option, max,
		    text);
	return value;
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

/* Checks the database once, and makes it WAL so connections share it. */
static void
prepare_database(const char *path)
{
	sqlite3 *db = NULL;
	char *errmsg = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		die(EX_NOINPUT, "%s: %s", path,
		    db ? sqlite3_errmsg(db) : "cannot open");
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, &errmsg) !=
	    SQLITE_OK)
		die(EX_DATAERR, "%s: %s", path, errmsg);
	sqlite3_close(db);
}

/* A long statement still notices the client's ATTENTION. */
static int
on_progress(void *arg)
{
	return poll_attention(arg, 0);
}

/* Writers queue behind each other instead of failing, up to a minute;
 * the wait watches for ATTENTION. */
static int
on_busy(void *arg, int tries)
{
	if ((long)tries * BUSY_SLICE_MS >= BUSY_TIMEOUT_MS)
		return 0;
	return !poll_attention(arg, BUSY_SLICE_MS);
}

static int
open_database(struct conn *c)
{
	if (sqlite3_open_v2(c->opt->db_path, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		warn("%s: %s", c->opt->db_path,
		    c->db ? sqlite3_errmsg(c->db) : "cannot open");
		return -1;
	}
	/* a test peer: durable across a crash of tdsd, not of the machine */
	sqlite3_exec(c->db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL",
	    NULL, NULL, NULL);
	sqlite3_busy_handler(c->db, on_busy, c);
	sqlite3_progress_handler(c->db, 100000, on_progress, c);
	register_sum(c->db);
	store_open(c);
	return 0;
}

static void
attention_ack(struct conn *c)
{
	tok_done(c, TOK_DONE, DONE_ATTN, 0, 0);
	out_end(c);
}

static void *
serve_connection(void *arg)
{
	struct conn *c = arg;
	int type;

	c->packet_size = 4096;
	c->out = xmalloc(c->packet_size);
	c->out_len = PACKET_HEADER;
	c->tds_version = TDS74;

	type = read_message(c);
	if (type == PKT_PRELOGIN) {
		if (serve_prelogin(c) < 0)
			goto out;
		type = read_message(c);
	}
	if (type != PKT_LOGIN7 || open_database(c) < 0 || serve_login(c) < 0)
		goto out;

	while (!c->broken && (type = read_message(c)) >= 0) {
		c->attention = 0;
		switch (type) {
		case PKT_BATCH:
			serve_sql_batch(c);
			break;
		case PKT_RPC:
			serve_rpc(c);
			break;
		case PKT_TRANSACTION:
			serve_transaction(c);
			break;
		case PKT_BULK:
			serve_bulk(c);
			break;
		case PKT_ATTENTION:
			/* the reply it meant to cancel was already complete */
			attention_ack(c);
			break;
		default:
			if (c->opt->verbose)
				warn("connection %u: packet type %#x not served",
				    c->spid, type);
			goto out;
		}
	}
out:
	if (c->opt->verbose)
		warn("connection %u: closed", c->spid);
	/* an open transaction rolls back here, as on a dropped session */
	sqlite3_close_v2(c->db);
	close(c->fd);
	free(c->in);
	free(c->out);
	buf_free(&c->tok);
	free(c->user);
	free(c->database);
	free(c->bulk_table);
	free(c);
	return NULL;
}

static int
listen_on(const char *address, const char *port)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV
	};
	struct addrinfo *res, *ai;
	int fd = -1, on = 1, rc;

	rc = getaddrinfo(address, port, &hints, &res);
	if (rc != 0)
		die(EX_USAGE, "%s port %s: %s", address, port, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 128) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		die(EX_UNAVAILABLE, "cannot listen on %s port %s:", address,
		    port);
	return fd;
}

static unsigned
bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		die(EX_OSERR, "getsockname:");
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void
accept_loop(int listen_fd, const struct options *opt)
{
	struct pollfd pfd = { .fd = listen_fd, .events = POLLIN };
	pthread_attr_t attr;
	pthread_t thread;
	sigset_t unblocked;
	unsigned next_spid = 51;
	struct conn *c;
	int fd, rc;

	sigemptyset(&unblocked);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	while (!stopping) {
		/* signals are blocked everywhere but here, so they land here */
		rc = ppoll(&pfd, 1, NULL, &unblocked);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			die(EX_OSERR, "poll:");
		}
		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				warn("accept:");
			continue;
		}
		c = xcalloc(1, sizeof *c);
		c->opt = opt;
		c->fd = fd;
		c->spid = next_spid++;
		if (next_spid > 32000)
			next_spid = 51;
		if (opt->verbose)
			warn("connection %u: accepted", c->spid);
		rc = pthread_create(&thread, &attr, serve_connection, c);
		if (rc != 0) {
			errno = rc;
			warn("pthread_create:");
			close(fd);
			free(c);
		}
	}
	pthread_attr_destroy(&attr);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "address", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "user", required_argument, NULL, 'U' },
		{ "password", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "drop-after-rows", required_argument, NULL,
		    OPT_DROP_AFTER_ROWS },
		{ "row-delay-ms", required_argument, NULL, OPT_ROW_DELAY_MS },
		{ "refuse-logins", no_argument, NULL, OPT_REFUSE_LOGINS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct options opt = { .user = DEFAULT_USER };
	const char *address = "127.0.0.1", *port = "1433";
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t blocked;
	char *password;
	int ch, listen_fd;

	setprogname(argv[0]);
	while ((ch = getopt_long(argc, argv, "+f:a:p:U:P:vh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'f':
			opt.db_path = optarg;
			break;
		case 'a':
			address = optarg;
			break;
		case 'p':
			parse_count(optarg, "-p", 65535);
			port = optarg;
			break;
		case 'U':
			opt.user = optarg;
			break;
		case 'P':
			secret_refuse_option("-P", "TDSD_PASSWORD");
		case 'v':
			opt.verbose = 1;
			break;
		case OPT_DROP_AFTER_ROWS:
			opt.drop_after_rows = parse_count(optarg,
			    "--drop-after-rows", LONG_MAX);
			break;
		case OPT_ROW_DELAY_MS:
			opt.row_delay_ms = parse_count(optarg, "--row-delay-ms",
			    INT_MAX);
			break;
		case OPT_REFUSE_LOGINS:
			opt.refuse_logins = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0 || opt.db_path == NULL)
		usage();

	password = secret_get("TDSD_PASSWORD");
	opt.password = password ? password : DEFAULT_PASSWORD;
	prepare_database(opt.db_path);

	/* block the signals in every thread; accept_loop takes them */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGTERM);
	sigaddset(&blocked, SIGINT);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	listen_fd = listen_on(address, port);
	printf("port %u\n", bound_port(listen_fd));
	if (fflush(stdout) == EOF || ferror(stdout))
		die(EX_IOERR, "stdout:");
	accept_loop(listen_fd, &opt);
	close(listen_fd);
	if (opt.verbose)
		warn("stopping");
	return 0;
}
