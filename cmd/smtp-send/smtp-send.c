/*
 * smtp-send: mail a message body and attachments over SMTP (libcurl does
 * SMTP, TLS and MIME) and print one receipt row per attachment delivered.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "csvio.h"
#include "digest.h"
#include "err.h"
#include "header.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"
#include "secret.h"
#include "tlscheck.h"
#include "utf8.h"

/* The body is text for people; the data travels as attachments. */
#define BODY_MAX (8 * 1024 * 1024)
/* RFC 5321: a line of text is at most 998 characters before CRLF. */
#define SMTP_LINE_MAX 998
#define BACKOFF_MAX 30

/* Spelled with three Ls until curl 8.2 (Debian 12 has 7.88). */
#if LIBCURL_VERSION_NUM < 0x080200
#define CURLOPT_MAIL_RCPT_ALLOWFAILS CURLOPT_MAIL_RCPT_ALLLOWFAILS
#endif

struct attachment {
	const char *path;	/* as given: the receipt's file column */
	const char *name;	/* base name, as the recipient sees it */
	int fd;
	uint64_t size;		/* at open; exactly this much is sent */
	uint64_t sent;		/* bytes handed to curl in this attempt */
	struct digest *digest;	/* of the bytes handed to curl */
	char sha256[SHA256_HEX_LEN + 1];
	int failed;		/* read error or the file shrank */
};

/* What the SMTP conversation got to, from curl's protocol trace. */
struct trace {
	char command[16];	/* verb of the last command sent */
	char rcpt[256];		/* address of the last RCPT TO */
	int code;		/* code of the last reply */
	int data_sent;		/* DATA was sent: the message may be in */
	int quit;		/* QUIT was sent: later replies say nothing */
};

struct options {
	const char *server;
	const char *from;
	char **to, **cc;
	size_t to_count, cc_count;
	const char *subject;
	const char *user;
	const char *cacert;
	const char *tls;
	const char *body_file;
	char *message_id;	/* <left@right>, or NULL for a random one */
	long retries;
	long timeout;
};

static struct option longopts[] = {
	{ "server",	required_argument,	NULL, 's' },
	{ "from",	required_argument,	NULL, 'f' },
	{ "to",		required_argument,	NULL, 't' },
	{ "cc",		required_argument,	NULL, 'c' },
	{ "subject",	required_argument,	NULL, 'S' },
	{ "user",	required_argument,	NULL, 'u' },
	{ "cacert",	required_argument,	NULL, 'C' },
	{ "tls",	required_argument,	NULL, 'T' },
	{ "body-file",	required_argument,	NULL, 'b' },
	{ "message-id",	required_argument,	NULL, 'm' },
	{ "retries",	required_argument,	NULL, 'r' },
	{ "timeout",	required_argument,	NULL, 'w' },
	{ "password",	required_argument,	NULL, 'P' },
	{ "help",	no_argument,		NULL, 'h' },
	{ NULL,		0,			NULL, 0 }
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s --server smtp://HOST:PORT|smtps://HOST:PORT "
	    "--from ADDR --to ADDR\n"
	    "\t[--to ADDR ...] [--cc ADDR ...] --subject TEXT [--user USER]\n"
	    "\t[--cacert FILE] [--tls starttls|none] [--body-file FILE]\n"
	    "\t[--message-id ID] [--retries N] [--timeout SECONDS] "
	    "[FILE ...]\n", progname);
	exit(EX_USAGE);
}

/* A dot-atom (RFC 5322 3.2.3) of at most max bytes: atext and inner dots. */
static int
dot_atom(const char *s, size_t len, size_t max)
{
	static const char atext[] = "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~";

	if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' ? s[i + 1] == '.' :
		    strchr(atext, s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return 1;
}

/*
 * --message-id: left@right, with or without the angle brackets, each side
 * a dot-atom; the caller's own id, so that the same message sent again
 * (its first sending's outcome unknown) is known for the same one.
 */
static char *
message_id_arg(const char *arg)
{
	size_t len = strlen(arg);
	const char *at;

	if (len >= 2 && arg[0] == '<' && arg[len - 1] == '>') {
		arg++;
		len -= 2;
	}
	at = memchr(arg, '@', len);
	if (at == NULL || !dot_atom(arg, (size_t)(at - arg), 128) ||
	    !dot_atom(at + 1, len - (size_t)(at - arg) - 1, 190))
		die(EX_USAGE, "--message-id: expected left@right, each a "
		    "dot-atom (RFC 5322)");
	return xasprintf("<%.*s>", (int)len, arg);
}

static void
add_address(char ***list, size_t *count, const char *option, char *addr)
{
	if (!address_plain(addr))
		die(EX_USAGE, "%s: not a plain address (local@domain)", option);
	*list = xreallocarray(*list, *count + 1, sizeof **list);
	(*list)[(*count)++] = addr;
}

/*
 * Checks the server URL with curl's own parser: smtp or smtps, a host, no
 * credentials (a password in argv is refused), no query or fragment.
 * Returns "scheme://host:port" for messages.
 */
static char *
check_server(const char *server, int *implicit_tls)
{
	CURLU *url = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *part = NULL;
	char *where;

	if (url == NULL)
		die(EX_OSERR, "out of memory");
	if (curl_url_set(url, CURLUPART_URL, server, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK)
		die(EX_USAGE, "--server: not a URL smtp://HOST:PORT or "
		    "smtps://HOST:PORT");
	if (strcmp(scheme, "smtp") != 0 && strcmp(scheme, "smtps") != 0)
		die(EX_USAGE, "--server: the scheme must be smtp or smtps");
	if (curl_url_get(url, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK)
		secret_refuse_option("--server", "SMTP_PASSWORD");
	if (curl_url_get(url, CURLUPART_USER, &part, 0) == CURLUE_OK)
		die(EX_USAGE, "--server: give the user with --user");
	if (curl_url_get(url, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(url, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
		die(EX_USAGE, "--server: no query or fragment");
	*implicit_tls = strcmp(scheme, "smtps") == 0;
	where = xasprintf("%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(url);
	return where;
}

static void
open_attachment(struct attachment *a, const char *path)
{
	struct stat st;
	const char *slash = strrchr(path, '/');

	a->path = path;
	a->name = slash != NULL ? slash + 1 : path;
	if (*a->name == '\0')
		die(EX_USAGE, "%s: an attachment must name a file", path);
	a->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0)
		die(EX_NOINPUT, "%s:", path);
	if (fstat(a->fd, &st) != 0)
		die(EX_IOERR, "%s:", path);
	if (!S_ISREG(st.st_mode))
		die(EX_NOINPUT, "%s: not a regular file", path);
	a->size = (uint64_t)st.st_size;
	a->sent = 0;
	a->digest = digest_new("sha256");
	a->failed = 0;
}

static const char *
mime_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ "csv", "text/csv" },
		{ "pdf", "application/pdf" },
		{ "txt", "text/plain" },
	};
	const char *dot = strrchr(name, '.');

	if (dot != NULL)
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (strcasecmp(dot + 1, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}

/*
 * Hands curl the file's bytes, hashing exactly what goes out, and never
 * more than the size the file had when it was opened. A file that shrinks
 * aborts the transfer before the message is complete.
 */
static size_t
attachment_read(char *buf, size_t size, size_t nitems, void *arg)
{
	struct attachment *a = arg;
	size_t room = size * nitems;
	uint64_t left = a->size - a->sent;
	ssize_t got;

	if (left == 0)
		return 0;
	if (room > left)
		room = (size_t)left;
	got = read(a->fd, buf, room);
	if (got <= 0) {
		a->failed = got < 0 ? errno : -1;
		return CURL_READFUNC_ABORT;
	}
	digest_update(a->digest, buf, (size_t)got);
	a->sent += (uint64_t)got;
	return (size_t)got;
}

static int
attachment_seek(void *arg, curl_off_t offset, int origin)
{
	struct attachment *a = arg;

	if (offset != 0 || origin != SEEK_SET)
		return CURL_SEEKFUNC_CANTSEEK;
	if (lseek(a->fd, 0, SEEK_SET) != 0)
		return CURL_SEEKFUNC_FAIL;
	digest_final(a->digest, NULL, NULL);
	a->digest = digest_new("sha256");
	a->sent = 0;
	return CURL_SEEKFUNC_OK;
}

/*
 * Reads the whole body, keeping its size and digest for the receipt, and
 * returns it with CRLF line ends: bare LF is refused by strict servers.
 */
static char *
read_body(const char *path, size_t *out_len, uint64_t *bytes, char *sha256)
{
	FILE *fp = stdin;
	char *raw = xmalloc(BODY_MAX + 1), *body;
	const char *name = path != NULL ? path : "stdin";
	struct digest *d = digest_new("sha256");
	size_t len, out = 0;

	if (path != NULL && (fp = fopen(path, "re")) == NULL)
		die(EX_NOINPUT, "%s:", path);
	len = fread(raw, 1, BODY_MAX + 1, fp);
	if (ferror(fp))
		die(EX_IOERR, "%s: read error:", name);
	if (len > BODY_MAX)
		die(EX_DATAERR, "%s: the body is over %d bytes; attach large "
		    "data as a file", name, BODY_MAX);
	if (fp != stdin)
		fclose(fp);
	if (!utf8_valid((const unsigned char *)raw, len))
		die(EX_DATAERR, "%s: the body is not valid UTF-8", name);
	digest_update(d, raw, len);
	digest_final(d, sha256, NULL);
	*bytes = len;
	body = xmalloc(2 * len + 1);
	for (size_t i = 0; i < len; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			body[out++] = '\r';
		body[out++] = raw[i];
		if (raw[i] == '\r' && (i + 1 == len || raw[i + 1] != '\n'))
			body[out++] = '\n';
	}
	body[out] = '\0';
	free(raw);
	*out_len = out;
	return body;
}

/* 7bit when the body is short-lined ASCII, else quoted-printable. */
static const char *
body_encoding(const char *body, size_t len)
{
	size_t line = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)body[i];

		if (c >= 0x80 || c == '\0')
			return "quoted-printable";
		if (c == '\n')
			line = 0;
		else if (c != '\r' && ++line > SMTP_LINE_MAX)
			return "quoted-printable";
	}
	return "7bit";
}

static void
check_mime(CURLcode res, const char *what)
{
	if (res != CURLE_OK)
		die(res == CURLE_OUT_OF_MEMORY ? EX_OSERR : EX_SOFTWARE,
		    "cannot build the message (%s): %s", what,
		    curl_easy_strerror(res));
}

static curl_mime *
build_mime(CURL *curl, const char *body, size_t body_len,
    struct attachment *att, size_t att_count)
{
	curl_mime *mime = curl_mime_init(curl);
	curl_mimepart *part;

	if (mime == NULL)
		die(EX_OSERR, "out of memory");
	part = curl_mime_addpart(mime);
	check_mime(curl_mime_data(part, body, body_len), "body");
	check_mime(curl_mime_type(part, "text/plain; charset=UTF-8"), "body");
	check_mime(curl_mime_encoder(part, body_encoding(body, body_len)),
	    "body");
	for (size_t i = 0; i < att_count; i++) {
		struct attachment *a = &att[i];

		part = curl_mime_addpart(mime);
		check_mime(curl_mime_data_cb(part, (curl_off_t)a->size,
		    attachment_read, attachment_seek, NULL, a), a->path);
		check_mime(curl_mime_type(part, mime_type(a->name)), a->path);
		check_mime(curl_mime_encoder(part, "base64"), a->path);
		if (filename_plain(a->name)) {
			check_mime(curl_mime_filename(part, a->name), a->path);
		} else {
			char *disposition = header_disposition_2231(a->name);
			struct curl_slist *headers;

			if (disposition == NULL)
				die(EX_USAGE, "%s: the file name is not valid "
				    "UTF-8", a->path);
			headers = curl_slist_append(NULL, disposition);
			if (headers == NULL)
				die(EX_OSERR, "out of memory");
			check_mime(curl_mime_headers(part, headers, 1),
			    a->path);
			free(disposition);
		}
	}
	return mime;
}

static struct curl_slist *
append_header(struct curl_slist *list, char *line)
{
	struct curl_slist *longer = curl_slist_append(list, line);

	if (longer == NULL)
		die(EX_OSERR, "out of memory");
	free(line);
	return longer;
}

static const char *const smtp_verbs[] = {
	"EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "RSET",
	NULL
};

/*
 * Watches the conversation (curl reports it only with CURLOPT_VERBOSE) to
 * learn which command a failure answered. Only verbs, reply codes and
 * recipient addresses are kept: AUTH lines carry the password.
 */
static int
trace_cb(CURL *curl, curl_infotype type, char *data, size_t size, void *arg)
{
	struct trace *t = arg;

	if (t->quit)
		return 0;
	if (type == CURLINFO_HEADER_OUT && size >= 4 &&
	    strncmp(data, "QUIT", 4) == 0) {
		t->quit = 1;
		return 0;
	}
	if (type == CURLINFO_HEADER_IN && size >= 3 && data[0] >= '1' &&
	    data[0] <= '5' && data[1] >= '0' && data[1] <= '9' &&
	    data[2] >= '0' && data[2] <= '9') {
		t->code = (data[0] - '0') * 100 + (data[1] - '0') * 10 +
		    (data[2] - '0');
		return 0;
	}
	if (type != CURLINFO_HEADER_OUT)
		return 0;
	for (size_t i = 0; smtp_verbs[i] != NULL; i++) {
		size_t len = strlen(smtp_verbs[i]);

		if (size < len || strncmp(data, smtp_verbs[i], len) != 0 ||
		    (size > len && data[len] != ' ' && data[len] != '\r'))
			continue;
		snprintf(t->command, sizeof t->command, "%s", smtp_verbs[i]);
		t->code = 0;
		if (strcmp(smtp_verbs[i], "DATA") == 0)
			t->data_sent = 1;
		if (strcmp(smtp_verbs[i], "RCPT") == 0) {
			const char *lt = memchr(data, '<', size);
			const char *gt = lt != NULL ?
			    memchr(lt, '>', size - (size_t)(lt - data)) : NULL;

			t->rcpt[0] = '\0';
			if (gt != NULL && (size_t)(gt - lt) < sizeof t->rcpt)
				snprintf(t->rcpt, sizeof t->rcpt, "%.*s",
				    (int)(gt - lt - 1), lt + 1);
		}
		break;
	}
	return 0;
}

struct outcome {
	int status;		/* 0 when the server took the message */
	int retry;		/* worth another attempt: nothing was sent */
	char *message;
};

/*
 * curl calls some certificate refusals (a forged signature) a failed
 * handshake: the verify result makes them 77, never retried.
 */
static void
cert_refused(CURL *curl, CURLcode res, const char *where, struct outcome *o)
{
	const char *why;

	if (res == CURLE_OK || o->status == EX_NOPERM ||
	    (why = tls_verify_failure(curl)) == NULL)
		return;
	free(o->message);
	o->status = EX_NOPERM;
	o->retry = 0;
	o->message = xasprintf("%s: TLS certificate verification failed: %s",
	    where, why);
}

/* Turns curl's result and the trace into an exit status and a message. */
static struct outcome
classify(CURLcode res, const struct trace *t, const char *where,
    const char *errbuf, struct attachment *att, size_t att_count)
{
	struct outcome o = { 0, 0, NULL };
	int code = t->code, class = code / 100;

	for (size_t i = 0; i < att_count; i++) {
		if (att[i].failed == 0)
			continue;
		o.status = att[i].failed > 0 ? EX_IOERR : EX_DATAERR;
		o.message = att[i].failed > 0 ?
		    xasprintf("%s: read error: %s; nothing was sent",
		    att[i].path, strerror(att[i].failed)) :
		    xasprintf("%s: the file shrank while it was being sent; "
		    "nothing was sent", att[i].path);
		return o;
	}
	switch (res) {
	case CURLE_OK:
		return o;
	case CURLE_COULDNT_RESOLVE_HOST:
		o.status = EX_TEMPFAIL;
		o.retry = 1;
		o.message = xasprintf("%s: cannot resolve the host name", where);
		return o;
	case CURLE_COULDNT_CONNECT:
		o.status = EX_TEMPFAIL;
		o.retry = 1;
		o.message = xasprintf("%s: cannot connect (refused or "
		    "unreachable)", where);
		return o;
	case CURLE_USE_SSL_FAILED:
		o.status = EX_NOPERM;
		o.message = xasprintf("%s: the server does not offer STARTTLS; "
		    "nothing was sent", where);
		return o;
	case CURLE_PEER_FAILED_VERIFICATION:
		o.status = EX_NOPERM;
		o.message = xasprintf("%s: TLS certificate verification "
		    "failed: %s", where, errbuf);
		return o;
	case CURLE_SSL_CACERT_BADFILE:
		o.status = EX_CONFIG;
		o.message = xasprintf("%s: cannot use the CA certificates: %s",
		    where, errbuf);
		return o;
	case CURLE_SSL_CONNECT_ERROR:
		o.status = EX_UNAVAILABLE;
		o.message = xasprintf("%s: TLS handshake failed: %s", where,
		    errbuf);
		return o;
	case CURLE_LOGIN_DENIED:
		o.status = EX_NOPERM;
		o.message = xasprintf("%s: authentication rejected", where);
		return o;
	default:
		break;
	}
	if (code == 530 || code == 535 || code == 534 || code == 538) {
		o.status = EX_NOPERM;
		o.message = xasprintf("%s: %s (%d)", where, code == 530 ?
		    "the server requires authentication (--user)" :
		    "authentication rejected", code);
		return o;
	}
	if ((class == 4 || class == 5) && strcmp(t->command, "RCPT") == 0) {
		o.status = class == 5 ? EX_DATAERR : EX_TEMPFAIL;
		o.message = xasprintf("%s: recipient %s %s (%d); nothing was "
		    "sent", where, t->rcpt, class == 5 ? "rejected" :
		    "deferred", code);
		return o;
	}
	if ((class == 4 || class == 5) && strcmp(t->command, "MAIL") == 0) {
		o.status = class == 5 ? EX_DATAERR : EX_TEMPFAIL;
		o.message = xasprintf("%s: sender %s (%d); nothing was sent",
		    where, class == 5 ? "rejected" : "deferred", code);
		return o;
	}
	if ((class == 4 || class == 5) && t->data_sent) {
		o.status = class == 5 ? EX_DATAERR : EX_TEMPFAIL;
		o.message = xasprintf("%s: message %s (%d)", where,
		    class == 5 ? "rejected" : "deferred", code);
		return o;
	}
	if (t->data_sent) {
		/* The message may be in: a retry could deliver it twice. */
		o.status = EX_TEMPFAIL;
		o.message = xasprintf("%s: the connection failed after the "
		    "message was sent and before the server confirmed it "
		    "(%s); it may have been delivered", where,
		    curl_easy_strerror(res));
		return o;
	}
	if (res == CURLE_OPERATION_TIMEDOUT) {
		o.status = EX_TEMPFAIL;
		o.retry = 1;
		o.message = xasprintf("%s: timed out", where);
		return o;
	}
	if (class == 4 || res == CURLE_RECV_ERROR || res == CURLE_SEND_ERROR ||
	    res == CURLE_GOT_NOTHING) {
		o.status = EX_TEMPFAIL;
		o.message = code != 0 ?
		    xasprintf("%s: the server answered %s with %d", where,
		    t->command[0] != '\0' ? t->command : "the connection",
		    code) :
		    xasprintf("%s: connection lost: %s", where,
		    curl_easy_strerror(res));
		return o;
	}
	o.status = EX_UNAVAILABLE;
	o.message = code != 0 ?
	    xasprintf("%s: the server answered %s with %d", where,
	    t->command[0] != '\0' ? t->command : "the connection", code) :
	    xasprintf("%s: %s", where, errbuf[0] != '\0' ? errbuf :
	    curl_easy_strerror(res));
	return o;
}

/* Addresses, percent-encoded, joined with commas (RFC 6068 "to"). */
static char *
mailto_list(char *const *addr, size_t count)
{
	char *list = xstrdup(""), *escaped, *longer;

	for (size_t i = 0; i < count; i++) {
		escaped = uri_escape(addr[i]);
		longer = xasprintf("%s%s%s", list, i > 0 ? "," : "", escaped);
		free(escaped);
		free(list);
		list = longer;
	}
	return list;
}

/* "mailto:TO,TO?cc=CC,CC&message-id=%3C...%3E" */
static char *
receipt_target(const struct options *o, const char *message_id)
{
	char *to = mailto_list(o->to, o->to_count);
	char *cc = mailto_list(o->cc, o->cc_count);
	char *id = uri_escape(message_id);
	char *target = xasprintf("mailto:%s?%s%s%smessage-id=%s", to,
	    o->cc_count > 0 ? "cc=" : "", cc, o->cc_count > 0 ? "&" : "", id);

	free(to);
	free(cc);
	free(id);
	return target;
}

static struct curl_slist *
message_headers(const struct options *o, const char *message_id)
{
	struct curl_slist *headers = NULL;
	char *subject = header_unstructured("Subject", o->subject);

	if (subject == NULL)
		die(EX_USAGE, "--subject: expected one line of UTF-8 text");
	headers = append_header(headers, header_date());
	headers = append_header(headers, xasprintf("From: %s", o->from));
	headers = append_header(headers,
	    header_address_list("To", o->to, o->to_count));
	if (o->cc_count > 0)
		headers = append_header(headers,
		    header_address_list("Cc", o->cc, o->cc_count));
	headers = append_header(headers, subject);
	headers = append_header(headers,
	    xasprintf("Message-ID: %s", message_id));
	return headers;
}

static struct curl_slist *
envelope_recipients(const struct options *o)
{
	struct curl_slist *rcpt = NULL;

	for (size_t i = 0; i < o->to_count; i++)
		rcpt = append_header(rcpt, xasprintf("<%s>", o->to[i]));
	for (size_t i = 0; i < o->cc_count; i++)
		rcpt = append_header(rcpt, xasprintf("<%s>", o->cc[i]));
	return rcpt;
}

/*
 * Connection, TLS and login settings. Verification is never switched
 * off; CURLOPT_VERBOSE only feeds trace_cb, which prints nothing.
 */
static void
setup_transfer(CURL *curl, const struct options *o, int implicit_tls,
    const char *password, char *errbuf, struct trace *t)
{
	curl_easy_setopt(curl, CURLOPT_URL, o->server);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	if (!implicit_tls)
		curl_easy_setopt(curl, CURLOPT_USE_SSL, o->tls != NULL &&
		    strcmp(o->tls, "none") == 0 ? CURLUSESSL_NONE :
		    CURLUSESSL_ALL);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
	if (o->cacert != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, o->cacert);
	if (o->user != NULL) {
		curl_easy_setopt(curl, CURLOPT_USERNAME, o->user);
		curl_easy_setopt(curl, CURLOPT_PASSWORD, password);
	}
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, o->timeout);
	curl_easy_setopt(curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, o->timeout);
	/* A transfer stalled for the timeout counts as timed out. */
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, o->timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, trace_cb);
	curl_easy_setopt(curl, CURLOPT_DEBUGDATA, t);
	curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
}

int
main(int argc, char *argv[])
{
	struct options o = { .retries = 3, .timeout = 30 };
	struct attachment *att;
	struct trace t;
	struct outcome out = { 0, 0, NULL };
	struct csv_writer w;
	struct curl_slist *headers, *rcpt;
	char errbuf[CURL_ERROR_SIZE], body_sha256[SHA256_HEX_LEN + 1];
	char *where, *message_id, *password = NULL, *sender, *body, *target;
	uint64_t body_bytes;
	size_t body_len, att_count;
	int ch, implicit_tls;
	CURLcode res;
	curl_mime *mime;
	CURL *curl;

	setprogname(argv[0]);
	while ((ch = opt_next(argc, argv, "+", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o.server = optarg;
			break;
		case 'f':
			if (!address_plain(optarg))
				die(EX_USAGE, "--from: not a plain address "
				    "(local@domain)");
			o.from = optarg;
			break;
		case 't':
			add_address(&o.to, &o.to_count, "--to", optarg);
			break;
		case 'c':
			add_address(&o.cc, &o.cc_count, "--cc", optarg);
			break;
		case 'S':
			o.subject = optarg;
			break;
		case 'u':
			o.user = optarg;
			break;
		case 'C':
			o.cacert = optarg;
			break;
		case 'T':
			if (strcmp(optarg, "starttls") != 0 &&
			    strcmp(optarg, "none") != 0)
				die(EX_USAGE, "--tls: expected starttls or "
				    "none");
			o.tls = optarg;
			break;
		case 'b':
			o.body_file = optarg;
			break;
		case 'm':
			o.message_id = message_id_arg(optarg);
			break;
		case 'r':
			o.retries = opt_number("--retries", optarg, 0, 10);
			break;
		case 'w':
			o.timeout = opt_number("--timeout", optarg, 1, 3600);
			break;
		case 'P':
			secret_refuse_option("--password", "SMTP_PASSWORD");
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;

	if (o.server == NULL || o.from == NULL || o.to_count == 0 ||
	    o.subject == NULL)
		usage();
	where = check_server(o.server, &implicit_tls);
	if (implicit_tls && o.tls != NULL)
		die(EX_USAGE, "--tls: smtps:// is TLS from the first byte");
	if (o.tls != NULL && strcmp(o.tls, "none") == 0 && o.user != NULL)
		die(EX_USAGE, "--user with --tls none would send the password "
		    "in the clear");
	if (o.user != NULL && (*o.user == '\0' || strpbrk(o.user, "\r\n")))
		die(EX_USAGE, "--user: expected a user name");
	if (o.cacert != NULL && access(o.cacert, R_OK) != 0)
		die(EX_CONFIG, "%s: cannot read the CA certificates:",
		    o.cacert);
	if (o.user != NULL)
		password = secret_require("SMTP_PASSWORD");

	att_count = (size_t)argc;
	att = xcalloc(att_count > 0 ? att_count : 1, sizeof *att);
	for (size_t i = 0; i < att_count; i++)
		open_attachment(&att[i], argv[i]);
	body = read_body(o.body_file, &body_len, &body_bytes, body_sha256);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (curl = curl_easy_init()) == NULL)
		die(EX_SOFTWARE, "cannot start libcurl");

	/* One id for every attempt: a retry is the same message. */
	message_id = o.message_id != NULL ? o.message_id :
	    message_id_new(strchr(o.from, '@') + 1);
	headers = message_headers(&o, message_id);
	rcpt = envelope_recipients(&o);
	sender = xasprintf("<%s>", o.from);
	mime = build_mime(curl, body, body_len, att, att_count);
	setup_transfer(curl, &o, implicit_tls, password, errbuf, &t);
	curl_easy_setopt(curl, CURLOPT_MAIL_FROM, sender);
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
	/* One rejected recipient stops the whole message: no partial sends. */
	curl_easy_setopt(curl, CURLOPT_MAIL_RCPT_ALLOWFAILS, 0L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);

	for (long attempt = 0;; attempt++) {
		unsigned int delay;

		memset(&t, 0, sizeof t);
		errbuf[0] = '\0';
		tls_watch(curl);
		res = curl_easy_perform(curl);
		free(out.message);
		out = classify(res, &t, where, errbuf, att, att_count);
		cert_refused(curl, res, where, &out);
		if (out.status == 0 || !out.retry || attempt >= o.retries)
			break;
		delay = attempt < 5 ? 1u << attempt : BACKOFF_MAX;
		warn("%s; attempt %ld of %ld, next in %us", out.message,
		    attempt + 1, o.retries + 1, delay);
		sleep(delay);
	}
	secret_free(password);
	if (out.status != 0) {
		if (out.retry && o.retries > 0)
			die(out.status, "%s; gave up after %ld attempts",
			    out.message, o.retries + 1);
		die(out.status, "%s", out.message);
	}

	/* The server has taken the message: now, and only now, say so. */
	target = receipt_target(&o, message_id);
	csv_writer_init(&w, stdout);
	receipt_header(&w);
	for (size_t i = 0; i < att_count; i++) {
		digest_final(att[i].digest, att[i].sha256, NULL);
		receipt_row(&w, att[i].path, att[i].sent, att[i].sha256,
		    target);
		close(att[i].fd);
	}
	if (att_count == 0)
		receipt_row(&w, o.body_file != NULL ? o.body_file : "-",
		    body_bytes, body_sha256, target);
	finish_stdout();

	curl_mime_free(mime);
	curl_slist_free_all(headers);
	curl_slist_free_all(rcpt);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	free(target);
	free(sender);
	free(message_id);
	free(body);
	free(att);
	free(where);
	free(o.to);
	free(o.cc);
	return 0;
}
