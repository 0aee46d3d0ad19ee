/* box.c: Box API calls as a server app: JWT token, retries, folders */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "box.h"
#include "digest.h"
#include "err.h"
#include "jwt.h"
#include "mem.h"
#include "opt.h"
#include "secret.h"
#include "tlscheck.h"

/* Error bodies and listing pages are small; more than this is not Box. */
#define BODY_MAX	(8u * 1024 * 1024)
#define RETRY_AFTER_MAX	300
#define BACKOFF_MAX	30
/* Box wants exp less than 60 s ahead; leave room for clock skew. */
#define ASSERTION_LIFE	45
/* Renew the token this long before Box says it expires. */
#define TOKEN_MARGIN	60

struct sink {
	CURL *curl;
	int out_fd;
	int write_errno;
	uint64_t out_bytes;
	char *body;
	size_t len, cap;
};

static void
zero_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* A string at a path of object keys; NULL when missing or not a string. */
static const char *
config_str(json_t *root, const char *k1, const char *k2, const char *k3)
{
	json_t *v = json_object_get(root, k1);

	if (k2 != NULL)
		v = json_object_get(v, k2);
	if (k3 != NULL)
		v = json_object_get(v, k3);
	if (json_is_integer(v)) {
		/* enterpriseID is sometimes written as a number */
		static char num[32];

		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return num;
	}
	return json_string_value(v);
}

static char *
config_need(json_t *root, const char *k1, const char *k2, const char *k3,
    const char *label)
{
	const char *s = config_str(root, k1, k2, k3);

	if (s == NULL || *s == '\0')
		die(EX_CONFIG, "BOX_CONFIG: %s is missing", label);
	return xstrdup(s);
}

static char *
url_base(const char *var, const char *fallback)
{
	const char *v = getenv(var);
	char *url;
	size_t len;

	if (v == NULL || *v == '\0')
		v = fallback;
	if (strncasecmp(v, "https://", 8) != 0)
		die(EX_CONFIG, "%s: %s must be an https:// URL", v, var);
	url = xstrdup(v);
	len = strlen(url);
	while (len > 8 && url[len - 1] == '/')
		url[--len] = '\0';
	return url;
}

void
box_opts_init(struct box_opts *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->retries = 5;
	opts->timeout = 60;
}

int
box_opts_apply(struct box_opts *opts, int c, const char *name,
    const char *arg)
{
	switch (c) {
	case BOXOPT_CACERT:
		opts->cafile = arg;
		return 1;
	case BOXOPT_RETRIES:
		opts->retries = (int)opt_number("--retries", arg, 0, 100);
		return 1;
	case BOXOPT_TIMEOUT:
		opts->timeout = opt_number("--timeout", arg, 1, 86400);
		return 1;
	case BOXOPT_SECRET: {
		char *option = xasprintf("--%s", name);

		secret_refuse_option(option, "BOX_CONFIG");
	}
	default:
		return 0;
	}
}

/* --cacert, else BOX_CA_FILE, else the system's CAs. */
static void
choose_cafile(struct box_opts *opts)
{
	if (opts->cafile == NULL)
		opts->cafile = getenv("BOX_CA_FILE");
	if (opts->cafile != NULL && *opts->cafile == '\0')
		opts->cafile = NULL;
	if (opts->cafile != NULL && access(opts->cafile, R_OK) != 0)
		die(EX_CONFIG, "%s: cannot read the CA file:", opts->cafile);
}

void
box_open(struct box *b, const struct box_opts *opts)
{
	char *text = secret_require("BOX_CONFIG");
	json_error_t jerr;
	json_t *root;

	memset(b, 0, sizeof *b);
	b->opts = *opts;
	choose_cafile(&b->opts);
	root = json_loads(text, 0, &jerr);
	zero_free(text);
	if (root == NULL || !json_is_object(root))
		die(EX_CONFIG, "BOX_CONFIG: not a Box app configuration (JSON "
		    "line %d)", jerr.line);
	b->conf.client_id = config_need(root, "boxAppSettings", "clientID",
	    NULL, "boxAppSettings.clientID");
	b->conf.client_secret = config_need(root, "boxAppSettings",
	    "clientSecret", NULL, "boxAppSettings.clientSecret");
	b->conf.key_id = config_need(root, "boxAppSettings", "appAuth",
	    "publicKeyID", "boxAppSettings.appAuth.publicKeyID");
	b->conf.private_key = config_need(root, "boxAppSettings", "appAuth",
	    "privateKey", "boxAppSettings.appAuth.privateKey");
	if (config_str(root, "boxAppSettings", "appAuth", "passphrase") !=
	    NULL)
		b->conf.passphrase = xstrdup(config_str(root, "boxAppSettings",
		    "appAuth", "passphrase"));
	b->conf.enterprise_id = config_need(root, "enterpriseID", NULL, NULL,
	    "enterpriseID");
	/* Wipe the key material jansson holds before giving it back. */
	{
		json_t *auth = json_object_get(json_object_get(root,
		    "boxAppSettings"), "appAuth");
		const char *key;
		json_t *v;

		json_object_foreach(auth, key, v) {
			if (json_is_string(v))
				explicit_bzero((char *)json_string_value(v),
				    json_string_length(v));
		}
	}
	json_decref(root);
	b->api = url_base("BOX_API_URL", BOX_API_DEFAULT);
	b->upload = url_base("BOX_UPLOAD_URL", BOX_UPLOAD_DEFAULT);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		die(EX_SOFTWARE, "cannot start libcurl");
	b->curl = curl_easy_init();
	if (b->curl == NULL)
		die(EX_SOFTWARE, "cannot start libcurl");
}

void
box_close(struct box *b)
{
	if (b->curl != NULL)
		curl_easy_cleanup(b->curl);
	curl_global_cleanup();
	free(b->conf.client_id);
	zero_free(b->conf.client_secret);
	free(b->conf.key_id);
	zero_free(b->conf.private_key);
	zero_free(b->conf.passphrase);
	free(b->conf.enterprise_id);
	zero_free(b->token);
	free(b->api);
	free(b->upload);
	memset(b, 0, sizeof *b);
}

static char *
vurl(const char *base, const char *prefix, const char *fmt, va_list ap)
{
	char *tail, *url;

	if (vasprintf(&tail, fmt, ap) < 0)
		die(EX_OSERR, "out of memory");
	url = xasprintf("%s%s%s", base, prefix, tail);
	free(tail);
	return url;
}

char *
box_api_url(const struct box *b, const char *fmt, ...)
{
	va_list ap;
	char *url;

	va_start(ap, fmt);
	url = vurl(b->api, "/2.0", fmt, ap);
	va_end(ap);
	return url;
}

char *
box_upload_url(const struct box *b, const char *fmt, ...)
{
	va_list ap;
	char *url;

	va_start(ap, fmt);
	url = vurl(b->upload, "/api/2.0", fmt, ap);
	va_end(ap);
	return url;
}

static size_t
on_body(char *data, size_t size, size_t count, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * count, done = 0;
	long http = 0;

	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &http);
	if (s->out_fd >= 0 && http >= 200 && http < 300) {
		while (done < len) {
			ssize_t n = write(s->out_fd, data + done, len - done);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				s->write_errno = errno;
				return 0;
			}
			done += (size_t)n;
		}
		s->out_bytes += len;
		return len;
	}
	if (s->len + len > BODY_MAX)
		return len;	/* keep the start; the rest is not Box's */
	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->body = xrealloc(s->body, s->cap);
	}
	memcpy(s->body + s->len, data, len);
	s->len += len;
	s->body[s->len] = '\0';
	return len;
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line)
{
	struct curl_slist *next = curl_slist_append(list, line);

	if (next == NULL)
		die(EX_OSERR, "out of memory");
	return next;
}

/* One HTTP exchange; the curl result, with rs->http and the body set. */
static CURLcode
perform(struct box *b, const struct box_request *rq, struct sink *s,
    struct box_response *rs)
{
	CURL *c = b->curl;
	struct curl_slist *hdr = NULL;
	char *auth = NULL, *json_text = NULL;
	curl_mime *mime = NULL;
	curl_off_t retry_after = -1;
	CURLcode rc;

	curl_easy_reset(c);
	tls_watch(c);
	b->errbuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, rq->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, b->errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "schedfeed");
	/* Only https, redirects included: the token never travels plain. */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	if (b->opts.cafile != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, b->opts.cafile);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, b->opts.timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, b->opts.timeout);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	if (strcmp(rq->method, "GET") == 0) {
		/* Downloads answer 302 to a signed URL on another host. */
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
	} else if (strcmp(rq->method, "POST") != 0)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);

	hdr = add_header(hdr, "Accept: application/json");
	/* No 100-continue round trip: Box answers the whole request. */
	hdr = add_header(hdr, "Expect:");
	if (!rq->no_auth) {
		auth = xasprintf("Authorization: Bearer %s", b->token);
		hdr = add_header(hdr, auth);
	}
	for (size_t i = 0; rq->headers != NULL && rq->headers[i] != NULL; i++)
		hdr = add_header(hdr, rq->headers[i]);
	if (rq->json != NULL) {
		json_text = json_dumps(rq->json, JSON_COMPACT);
		if (json_text == NULL)
			die(EX_SOFTWARE, "cannot encode a JSON request");
		hdr = add_header(hdr, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(json_text));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, json_text);
	} else if (rq->form != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(rq->form));
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->form);
	} else if (rq->data != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->data_len);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->data);
	} else if (rq->mime != NULL) {
		mime = rq->mime(c, rq->mime_ctx);
		curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
	}
	else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);

	rc = curl_easy_perform(c);
	rs->http = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->http);
	if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) ==
	    CURLE_OK && retry_after >= 0)
		rs->retry_after = retry_after > RETRY_AFTER_MAX ?
		    RETRY_AFTER_MAX : (long)retry_after;
	rs->out_bytes = s->out_bytes;
	if (s->len > 0)
		rs->json = json_loadb(s->body, s->len, 0, NULL);
	curl_slist_free_all(hdr);
	curl_mime_free(mime);
	zero_free(auth);
	free(json_text);
	return rc;
}

void
box_wait(const struct box_response *rs, int attempt)
{
	long seconds;

	if (rs != NULL && rs->retry_after >= 0)
		seconds = rs->retry_after;
	else {
		seconds = 1L << (attempt < 5 ? attempt : 5);
		if (seconds > BACKOFF_MAX)
			seconds = BACKOFF_MAX;
	}
	while (seconds > 0)
		seconds = (long)sleep((unsigned)seconds);
}

void
box_response_free(struct box_response *rs)
{
	json_decref(rs->json);
	rs->json = NULL;
}

/* Box's own words for an error: "code: message" or OAuth's pair. */
static char *
error_text(const struct box_response *rs)
{
	const char *code = box_str(rs->json, "code");
	const char *msg = box_str(rs->json, "message");

	if (code == NULL) {
		code = box_str(rs->json, "error");
		msg = box_str(rs->json, "error_description");
	}
	if (code == NULL)
		return xasprintf("HTTP %ld", rs->http);
	if (msg == NULL || *msg == '\0')
		return xasprintf("HTTP %ld %s", rs->http, code);
	return xasprintf("HTTP %ld %s: %s", rs->http, code, msg);
}

int
box_http_fail(const struct box_response *rs, const char *what)
{
	char *text = error_text(rs);
	int status;

	warn("%s: Box answered %s", what, text);
	free(text);
	switch (rs->http) {
	case 400:
	case 413:
		status = EX_DATAERR;
		break;
	case 401:
	case 403:
		status = EX_NOPERM;
		break;
	case 404:
		status = EX_NOINPUT;
		break;
	case 409:
		status = EX_CANTCREAT;
		break;
	case 412:
	case 429:
		status = EX_TEMPFAIL;
		break;
	default:
		status = rs->http >= 500 ? EX_TEMPFAIL : EX_UNAVAILABLE;
	}
	return status;
}

/*
 * One exchange and its verdict: 0 when Box answered something final,
 * -1 when another try may help (rs kept for its Retry-After), or an exit
 * status after a message.
 */
static int
exchange(struct box *b, const struct box_request *rq,
    struct box_response *rs, const char *what)
{
	struct sink s = { .curl = b->curl, .out_fd = rq->out_fd };
	CURLcode rc;
	int status = 0;

	box_response_free(rs);
	rs->retry_after = -1;
	rs->out_bytes = 0;
	if (rq->out_fd >= 0 && (ftruncate(rq->out_fd, 0) != 0 ||
	    lseek(rq->out_fd, 0, SEEK_SET) != 0)) {
		warn("%s: cannot rewind the local copy:", what);
		return EX_IOERR;
	}
	rc = perform(b, rq, &s, rs);
	free(s.body);
	if (rc == CURLE_WRITE_ERROR && s.write_errno != 0) {
		errno = s.write_errno;
		warn("%s: cannot write the local copy:", what);
		return EX_IOERR;
	}
	if (rc != CURLE_OK) {
		const char *refused = tls_verify_failure(b->curl);

		status = curl_exit_status(rc);
		/* A refused certificate is never worth another try. */
		if (status != EX_NOPERM && refused != NULL) {
			warn("%s: TLS certificate verification failed: %s",
			    what, refused);
			return EX_NOPERM;
		}
		if (status == EX_TEMPFAIL)
			return -1;
		warn("%s: %s", what, b->errbuf[0] != '\0' ? b->errbuf :
		    curl_easy_strerror(rc));
		return status;
	}
	if (rs->http == 429 || rs->http >= 500)
		return -1;
	return 0;
}

/* Tell why another try comes, or give up with EX_TEMPFAIL. */
static int
retry_or_give_up(struct box *b, struct box_response *rs, const char *what,
    int *attempt)
{
	char *why = rs->http != 0 ? error_text(rs) :
	    xstrdup(b->errbuf[0] != '\0' ? b->errbuf : "no answer");

	if (*attempt >= b->opts.retries) {
		warn("%s: %s; giving up after %d %s", what, why, *attempt + 1,
		    *attempt == 0 ? "try" : "tries");
		free(why);
		return EX_TEMPFAIL;
	}
	(*attempt)++;
	warn("%s: %s; retry %d of %d", what, why, *attempt, b->opts.retries);
	free(why);
	box_wait(rs, *attempt - 1);
	return 0;
}

static char *
escape(CURL *c, const char *s)
{
	char *e = curl_easy_escape(c, s, 0), *copy;

	if (e == NULL)
		die(EX_OSERR, "out of memory");
	copy = xstrdup(e);
	curl_free(e);
	return copy;
}

/* A signed assertion, fresh each try: Box refuses a jti it has seen. */
static char *
token_form(struct box *b)
{
	json_t *claims;
	char *claims_text, *jti, *assertion, *form, *e_assertion, *e_id,
	    *e_secret;
	const char *why = NULL;

	jti = random_hex(16);
	claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}",
	    "iss", b->conf.client_id, "sub", b->conf.enterprise_id,
	    "box_sub_type", "enterprise", "aud", BOX_AUDIENCE, "jti", jti,
	    "exp", (json_int_t)(time(NULL) + ASSERTION_LIFE));
	claims_text = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	free(jti);
	if (claims_text == NULL)
		die(EX_SOFTWARE, "cannot encode the JWT claims");
	assertion = jwt_sign_rs256(b->conf.private_key, b->conf.passphrase,
	    b->conf.key_id, claims_text, &why);
	free(claims_text);
	if (assertion == NULL)
		die(EX_CONFIG, "BOX_CONFIG: boxAppSettings.appAuth.privateKey: "
		    "%s", why);
	e_assertion = escape(b->curl, assertion);
	e_id = escape(b->curl, b->conf.client_id);
	e_secret = escape(b->curl, b->conf.client_secret);
	form = xasprintf("grant_type=%s&assertion=%s&client_id=%s"
	    "&client_secret=%s",
	    "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
	    e_assertion, e_id, e_secret);
	zero_free(assertion);
	zero_free(e_assertion);
	free(e_id);
	zero_free(e_secret);
	return form;
}

static int
fetch_token(struct box *b)
{
	struct box_request rq = { .method = "POST", .out_fd = -1,
	    .no_auth = 1 };
	struct box_response rs = { 0 };
	const char *token;
	json_int_t life;
	char *url = xasprintf("%s/oauth2/token", b->api), *form;
	int attempt = 0, status;

	rq.url = url;
	for (;;) {
		form = token_form(b);
		rq.form = form;
		status = exchange(b, &rq, &rs, "Box token");
		zero_free(form);
		if (status != -1)
			break;
		if ((status = retry_or_give_up(b, &rs, "Box token",
		    &attempt)) != 0)
			goto out;
	}
	if (status != 0)
		goto out;
	if (rs.http != 200) {
		const char *error = box_str(rs.json, "error");

		if (rs.http == 400 || rs.http == 401 || rs.http == 403) {
			char *text = error_text(&rs);

			warn("Box token: the app's credentials were refused "
			    "(%s)", text);
			free(text);
			status = error != NULL && strcmp(error,
			    "invalid_request") == 0 ? EX_CONFIG : EX_NOPERM;
		} else
			status = box_http_fail(&rs, "Box token");
		goto out;
	}
	token = box_str(rs.json, "access_token");
	life = json_integer_value(json_object_get(rs.json, "expires_in"));
	if (token == NULL || *token == '\0') {
		warn("Box token: the answer holds no access_token");
		status = EX_UNAVAILABLE;
		goto out;
	}
	zero_free(b->token);
	b->token = xstrdup(token);
	explicit_bzero((char *)token, strlen(token));
	b->token_expires = time(NULL) + (life > TOKEN_MARGIN ?
	    life - TOKEN_MARGIN : 0);
out:
	box_response_free(&rs);
	free(url);
	return status;
}

int
box_request(struct box *b, const struct box_request *rq,
    struct box_response *rs, const char *what)
{
	int attempt = 0, renewed = 0, status;

	rs->json = NULL;
	for (;;) {
		if (!rq->no_auth && (b->token == NULL ||
		    time(NULL) >= b->token_expires)) {
			if ((status = fetch_token(b)) != 0)
				return status;
		}
		status = exchange(b, rq, rs, what);
		if (status == -1) {
			if ((status = retry_or_give_up(b, rs, what,
			    &attempt)) != 0)
				return status;
			continue;
		}
		if (status != 0)
			return status;
		if (rs->http == 401 && !rq->no_auth && !renewed) {
			/* Expired or revoked early: one new token, once. */
			renewed = 1;
			zero_free(b->token);
			b->token = NULL;
			continue;
		}
		if (rs->http == 401 || rs->http == 403)
			return box_http_fail(rs, what);
		return 0;
	}
}

int
box_request_ready(struct box *b, const struct box_request *rq,
    struct box_response *rs, const char *what, int waits, const char *why)
{
	int status, waited = 0;

	for (;;) {
		status = box_request(b, rq, rs, what);
		if (status != 0 || rs->http != 202)
			return status;
		if (++waited > waits) {
			warn("%s: %s", what, why);
			return EX_TEMPFAIL;
		}
		box_wait(rs, 0);
		box_response_free(rs);
	}
}

int
box_fails_all(int status)
{
	return status == EX_TEMPFAIL || status == EX_NOPERM ||
	    status == EX_UNAVAILABLE || status == EX_CONFIG;
}

const char *
box_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

const json_t *
box_conflict(const json_t *error)
{
	const json_t *c = json_object_get(json_object_get(error,
	    "context_info"), "conflicts");

	if (json_is_array(c))
		c = json_array_get(c, 0);
	return json_is_object(c) ? c : NULL;
}

int
box_is_id(const char *s)
{
	if (*s == '\0' || strlen(s) > 40)
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

int
box_folder_items(struct box *b, const char *folder_id, const char *fields,
    int (*fn)(const json_t *entry, void *ctx), void *ctx)
{
	struct box_request rq = { .method = "GET", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *marker = NULL, *what = xasprintf("folder %s", folder_id);
	int status = 0;

	for (;;) {
		const json_t *entries, *entry;
		const char *next;
		char *url;
		size_t i;

		if (marker == NULL)
			url = box_api_url(b, "/folders/%s/items?fields=%s"
			    "&usemarker=true&limit=1000", folder_id, fields);
		else
			url = box_api_url(b, "/folders/%s/items?fields=%s"
			    "&usemarker=true&limit=1000&marker=%s", folder_id,
			    fields, marker);
		rq.url = url;
		status = box_request(b, &rq, &rs, what);
		free(url);
		if (status != 0)
			break;
		if (rs.http != 200) {
			status = box_http_fail(&rs, what);
			break;
		}
		entries = json_object_get(rs.json, "entries");
		if (!json_is_array(entries)) {
			warn("%s: Box's answer holds no entries", what);
			status = EX_UNAVAILABLE;
			break;
		}
		json_array_foreach(entries, i, entry) {
			if (fn(entry, ctx) != 0)
				goto out;
		}
		next = box_str(rs.json, "next_marker");
		if (next == NULL || *next == '\0' || json_array_size(entries)
		    == 0)
			break;
		free(marker);
		marker = escape(b->curl, next);
		box_response_free(&rs);
	}
out:
	box_response_free(&rs);
	free(marker);
	free(what);
	return status;
}

struct find_folder {
	const char *name;
	char *id;
	int is_file;
};

static int
match_folder(const json_t *entry, void *ctx)
{
	struct find_folder *ff = ctx;
	const char *type = box_str(entry, "type");
	const char *name = box_str(entry, "name");

	if (name == NULL || type == NULL || strcasecmp(name, ff->name) != 0)
		return 0;
	if (strcmp(type, "folder") != 0) {
		ff->is_file = 1;
		return 0;
	}
	if (box_str(entry, "id") == NULL)
		return 0;
	ff->id = xstrdup(box_str(entry, "id"));
	return 1;
}

/* POST /folders; a 409 from a concurrent create names the folder. */
static int
make_folder(struct box *b, const char *parent, const char *name,
    const char *what, char **id)
{
	struct box_request rq = { .method = "POST", .out_fd = -1 };
	struct box_response rs = { 0 };
	char *url = box_api_url(b, "/folders?fields=id,name");
	const json_t *conflict;
	int status;

	rq.url = url;
	rq.json = json_pack("{s:s, s:{s:s}}", "name", name, "parent", "id",
	    parent);
	status = box_request(b, &rq, &rs, what);
	if (status != 0)
		goto out;
	if (rs.http == 201 && box_str(rs.json, "id") != NULL)
		*id = xstrdup(box_str(rs.json, "id"));
	else if (rs.http == 409 && (conflict = box_conflict(rs.json)) !=
	    NULL && box_str(conflict, "id") != NULL &&
	    box_str(conflict, "type") != NULL &&
	    strcmp(box_str(conflict, "type"), "folder") == 0)
		*id = xstrdup(box_str(conflict, "id"));
	else
		status = box_http_fail(&rs, what);
out:
	box_response_free(&rs);
	json_decref(rq.json);
	free(url);
	return status;
}

int
box_folder_path(struct box *b, const char *path, int create,
    char **folder_id)
{
	char *copy = xstrdup(path), *save = NULL, *name, *id = xstrdup("0");
	char *walked = xstrdup("");
	int status = 0;

	for (name = strtok_r(copy, "/", &save); name != NULL;
	    name = strtok_r(NULL, "/", &save)) {
		struct find_folder ff = { .name = name };
		char *next = xasprintf("%s%s%s", walked, *walked ? "/" : "",
		    name);

		free(walked);
		walked = next;
		status = box_folder_items(b, id, "type,id,name", match_folder,
		    &ff);
		if (status != 0)
			break;
		if (ff.id == NULL && ff.is_file) {
			warn("folder path %s: a file of that name is in the "
			    "way", walked);
			status = EX_CANTCREAT;
			break;
		}
		if (ff.id == NULL && !create) {
			warn("folder path %s: no such folder on Box (--mkdir "
			    "creates it)", walked);
			status = EX_NOINPUT;
			break;
		}
		if (ff.id == NULL) {
			char *what = xasprintf("create folder %s", walked);

			status = make_folder(b, id, name, what, &ff.id);
			free(what);
			if (status != 0)
				break;
		}
		free(id);
		id = ff.id;
	}
	free(copy);
	free(walked);
	if (status != 0) {
		free(id);
		return status;
	}
	*folder_id = id;
	return 0;
}

int
box_hash_fd(int fd, struct box_hashes *h)
{
	struct digest *sha1, *sha256;
	unsigned char *buf;
	ssize_t n;
	off_t at = 0;

	buf = xmalloc(1u << 20);
	sha1 = digest_new("sha1");
	sha256 = digest_new("sha256");
	h->bytes = 0;
	while ((n = pread(fd, buf, 1u << 20, at)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		digest_update(sha1, buf, (size_t)n);
		digest_update(sha256, buf, (size_t)n);
		at += n;
		h->bytes += (uint64_t)n;
	}
	free(buf);
	digest_final(sha1, h->sha1, h->sha1_raw);
	digest_final(sha256, h->sha256, NULL);
	return n < 0 ? -1 : 0;
}

int
box_verify(const char *what, const char *box_sha1, json_int_t box_size,
    const struct box_hashes *h, const char *ours)
{
	/* Size first: it says more about a short transfer than a SHA-1. */
	if (box_size >= 0 && (uint64_t)box_size != h->bytes) {
		warn("%s: Box holds %" JSON_INTEGER_FORMAT " bytes, %s has %"
		    PRIu64, what, box_size, ours, h->bytes);
		return EX_IOERR;
	}
	if (box_sha1 == NULL || strcasecmp(box_sha1, h->sha1) != 0) {
		warn("%s: Box reports SHA-1 %s, %s has %s", what,
		    box_sha1 != NULL ? box_sha1 : "(none)", ours, h->sha1);
		return EX_IOERR;
	}
	return 0;
}

char *
box_target(const char *folder_id, const char *name, const char *file_id)
{
	static const char hex[] = "0123456789ABCDEF";
	char *enc = xmalloc(3 * strlen(name) + 1), *p = enc, *target;
	const unsigned char *s;

	/* RFC 3986 pchar: unreserved, sub-delims, ':' and '@' stay. */
	for (s = (const unsigned char *)name; *s != '\0'; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr("-._~!$&'()*+,;=:@",
		    *s) != NULL)
			*p++ = (char)*s;
		else {
			*p++ = '%';
			*p++ = hex[*s >> 4];
			*p++ = hex[*s & 15];
		}
	}
	*p = '\0';
	target = xasprintf("box://folder/%s/%s#%s", folder_id, enc, file_id);
	free(enc);
	return target;
}
