/*
 * bat-run: the BAT rule workflow engine. Database events start
 * workflows whose every rule is SQL (the eRAD RIS Backend Automation
 * Tool): an inclusion rule picks the first step; each step calculates
 * parameters, waits for its available datetime, then runs its pre rule,
 * its action and its post rule, which names the next step.
 *
 * The definitions, the event queue, the instances and the log are
 * tables in the site's database (pipelines/sql/bat_schema.sql). Every
 * rule's parameters are bound through sp_executesql, never spliced.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bat.h"
#include "db.h"
#include "dbopt.h"
#include "err.h"
#include "mem.h"
#include "opt.h"

enum {
	OPT_ONCE = 256,
	OPT_INTERVAL,
	OPT_BATCH,
	OPT_NOW,
	OPT_LEASE,
	OPT_MAX_STEPS,
	OPT_MAX_ATTEMPTS,
	OPT_QUEUE,
	OPT_CHECK,
	OPT_DRY_RUN,
	OPT_SHOW_VALUES,
	OPT_TEMPLATE,
	OPT_DIALECT,
	OPT_RETRY,
	OPT_RESUME,
	OPT_LIST,
	OPT_STATUS
};

static const char *const statuses[] = {
	"init", "waiting", "running", "done", "aborted", "failed", "disabled",
	NULL
};

static volatile sig_atomic_t stopping;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s [--once | --interval seconds] [--batch n] "
	    "[--lease seconds]\n"
	    "       [--max-steps n] [--max-attempts n] [--queue name] "
	    "[--now datetime]\n"
	    "       " DBOPT_USAGE "\n"
	    "       %s --check [connection options]\n"
	    "       %s --dry-run event_id [--show-values] [--now datetime] "
	    "[connection options]\n"
	    "       %s --retry instance_id | --resume collection | "
	    "--list [--status s]\n"
	    "              [connection options]\n"
	    "       %s --template inclusion|parameter|available-datetime|"
	    "pre|action|post\n"
	    "              [--dialect tsql|sqlite]\n", progname, progname,
	    progname, progname, progname);
	exit(EX_USAGE);
}

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static double
seconds_arg(const char *option, const char *arg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) ||
	    v < 0 || v > 86400)
		die(EX_USAGE, "%s: want seconds from 0 to 86400", option);
	return v;
}

/*
 * Sleeps between passes. The signals are blocked while stopping is
 * read and unblocked only inside ppoll, so one that arrives just before
 * the sleep still wakes it.
 */
static void
nap(double seconds)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)
	};
	sigset_t block, old;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (!stopping)
		ppoll(NULL, 0, &ts, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void
catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	/* db-lib retries a read a signal interrupts: the step goes on */
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* Passes until a signal, or one with --once. */
static int
serve(struct db_settings *settings, struct engine *e, int once,
    double interval)
{
	int status = 0;

	while (!stopping) {
		if (e->db == NULL &&
		    (status = db_connect(settings, &e->db)) != 0) {
			if (once)
				return status;
			nap(interval > 1 ? interval : 1);
			continue;
		}
		status = engine_pass(e);
		if (once)
			break;
		if (db_dead(e->db)) {
			warn("reconnecting after a lost connection");
			db_close(e->db);
			e->db = NULL;
		}
		nap(interval);
	}
	if (!once)
		status = 0;
	return status;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		DBOPT_LONG,
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "interval", required_argument, NULL, OPT_INTERVAL },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "lease", required_argument, NULL, OPT_LEASE },
		{ "max-steps", required_argument, NULL, OPT_MAX_STEPS },
		{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "dry-run", required_argument, NULL, OPT_DRY_RUN },
		{ "show-values", no_argument, NULL, OPT_SHOW_VALUES },
		{ "template", required_argument, NULL, OPT_TEMPLATE },
		{ "dialect", required_argument, NULL, OPT_DIALECT },
		{ "retry", required_argument, NULL, OPT_RETRY },
		{ "resume", required_argument, NULL, OPT_RESUME },
		{ "list", no_argument, NULL, OPT_LIST },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ NULL, 0, NULL, 0 }
	};
	struct db_settings settings;
	struct engine e = {
		.queue = "BAT", .lease = 300, .batch = 10, .max_steps = 100,
		.max_attempts = 3, .stopping = &stopping
	};
	char now[STAMP_LEN + 1], host[64];
	const char *dry_event = NULL, *dialect = NULL, *resume = NULL;
	const char *list_status = NULL;
	double interval = 5;
	int once = 0, check = 0, template = -1, show_values = 0, list = 0;
	int sqlite_dialect = 0, modes, c, status;
	long long event_id = 0, retry_id = 0;

	setprogname(argv[0]);
	db_settings_init(&settings);
	while ((c = opt_next(argc, argv, "+" DBOPT_SHORT, longopts,
	    NULL)) != -1) {
		if (dbopt_apply(&settings, c, optarg))
			continue;
		switch (c) {
		case OPT_ONCE:
			once = 1;
			break;
		case OPT_INTERVAL:
			interval = seconds_arg("--interval", optarg);
			break;
		case OPT_BATCH:
			e.batch = opt_number("--batch", optarg, 1, 100000);
			break;
		case OPT_NOW:
			if (stamp_parse(optarg, strlen(optarg), now) != 0)
				die(EX_USAGE, "--now: want YYYY-MM-DD "
				    "HH:MM:SS");
			e.fixed_now = now;
			break;
		case OPT_LEASE:
			e.lease = opt_number("--lease", optarg, 1, 86400 * 7);
			break;
		case OPT_MAX_STEPS:
			e.max_steps = opt_number("--max-steps", optarg, 1,
			    1000000);
			break;
		case OPT_MAX_ATTEMPTS:
			e.max_attempts = opt_number("--max-attempts", optarg,
			    1, 1000);
			break;
		case OPT_QUEUE:
			e.queue = optarg;
			break;
		case OPT_CHECK:
			check = 1;
			break;
		case OPT_DRY_RUN:
			dry_event = optarg;
			event_id = opt_number("--dry-run", optarg, 1,
			    LONG_MAX);
			break;
		case OPT_SHOW_VALUES:
			show_values = 1;
			break;
		case OPT_DIALECT:
			if (strcmp(optarg, "sqlite") != 0 &&
			    strcmp(optarg, "tsql") != 0)
				die(EX_USAGE, "--dialect: want tsql (SQL "
				    "Server) or sqlite (tdsd)");
			dialect = optarg;
			sqlite_dialect = strcmp(optarg, "sqlite") == 0;
			break;
		case OPT_RETRY:
			retry_id = opt_number("--retry", optarg, 1, LONG_MAX);
			break;
		case OPT_RESUME:
			resume = optarg;
			break;
		case OPT_LIST:
			list = 1;
			break;
		case OPT_STATUS:
			for (c = 0; statuses[c] != NULL &&
			    strcmp(statuses[c], optarg) != 0; c++)
				continue;
			if (statuses[c] == NULL)
				die(EX_USAGE, "--status: want init, waiting, "
				    "running, done, aborted, failed or "
				    "disabled");
			list_status = optarg;
			break;
		case OPT_TEMPLATE:
			if ((template = rule_kind_parse(optarg)) < 0)
				die(EX_USAGE, "--template: want inclusion, "
				    "parameter, available-datetime, pre, "
				    "action or post");
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	modes = check + (dry_event != NULL) + (template >= 0) +
	    (retry_id > 0) + (resume != NULL) + list;
	if (argc != 0 || modes > 1 || (modes == 1 && once) ||
	    (show_values && dry_event == NULL) ||
	    (dialect != NULL && template < 0) ||
	    (list_status != NULL && !list))
		usage();
	if (template >= 0) {
		template_print(template, sqlite_dialect);
		finish_stdout();
		return 0;
	}
	e.trace = settings.verbose;
	if (gethostname(host, sizeof host) != 0)
		snprintf(host, sizeof host, "localhost");
	host[sizeof host - 1] = '\0';
	snprintf(e.me, sizeof e.me, "%s:%ld", host, (long)getpid());
	csv_writer_init(&e.out, stdout);

	if (modes == 1) {
		if ((status = db_connect(&settings, &e.db)) != 0)
			return status;
		if (e.fixed_now == NULL)
			stamp_now(now);
		status = check ? check_rules(e.db, e.queue) :
		    dry_event != NULL ? dry_run(e.db, e.queue, event_id, now,
		    e.max_steps, show_values) :
		    retry_id > 0 ? op_retry(&e, retry_id) :
		    resume != NULL ? op_resume(&e, resume) :
		    op_list(&e, list_status);
	} else {
		catch_signals();
		status = serve(&settings, &e, once, interval);
	}
	db_close(e.db);
	engine_free(&e);
	finish_stdout();
	return status;
}
