/* box.h: the Box API as a server app (JWT auth) on libcurl and jansson */
#ifndef SCHEDFEED_BOX_H
#define SCHEDFEED_BOX_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdint.h>
#include <time.h>

#define BOX_API_DEFAULT		"https://api.box.com"
#define BOX_UPLOAD_DEFAULT	"https://upload.box.com"
/* The JWT audience is Box's token endpoint whatever BOX_API_URL says. */
#define BOX_AUDIENCE		"https://api.box.com/oauth2/token"

/* The fields of the box_config.json Box's developer console writes. */
struct box_config {
	char *client_id;	/* boxAppSettings.clientID */
	char *client_secret;	/* boxAppSettings.clientSecret */
	char *key_id;		/* boxAppSettings.appAuth.publicKeyID */
	char *private_key;	/* boxAppSettings.appAuth.privateKey */
	char *passphrase;	/* boxAppSettings.appAuth.passphrase */
	char *enterprise_id;	/* enterpriseID */
};

struct box_opts {
	const char *cafile;	/* CA bundle, NULL for the system's */
	int retries;		/* after a 429, a 5xx or a network error */
	long timeout;		/* seconds: connecting, or a stalled transfer */
};

/* getopt_long values of the options every Box program takes. */
enum {
	BOXOPT_CACERT = 0x500,
	BOXOPT_RETRIES,
	BOXOPT_TIMEOUT,
	BOXOPT_SECRET
};

/* The rows of a program's struct option table for those options. */
#define BOXOPT_LONG \
	{ "cacert", required_argument, NULL, BOXOPT_CACERT }, \
	{ "retries", required_argument, NULL, BOXOPT_RETRIES }, \
	{ "timeout", required_argument, NULL, BOXOPT_TIMEOUT }, \
	{ "client-secret", required_argument, NULL, BOXOPT_SECRET }, \
	{ "passphrase", required_argument, NULL, BOXOPT_SECRET }, \
	{ "private-key", required_argument, NULL, BOXOPT_SECRET }, \
	{ "token", required_argument, NULL, BOXOPT_SECRET }

#define BOXOPT_USAGE \
	"[--cacert file] [--retries n] [--timeout seconds]"

struct box {
	CURL *curl;
	char *api;		/* BOX_API_URL, no trailing '/' */
	char *upload;		/* BOX_UPLOAD_URL, no trailing '/' */
	struct box_opts opts;
	struct box_config conf;
	char *token;		/* the access token, reused until expiry */
	time_t token_expires;
	char errbuf[CURL_ERROR_SIZE];
};

struct box_request {
	const char *method;	/* GET, POST, PUT, DELETE, OPTIONS */
	const char *url;
	json_t *json;		/* a JSON body, or NULL */
	const char *form;	/* a form-urlencoded body, or NULL */
	const void *data;	/* a raw body of data_len bytes, or NULL */
	size_t data_len;
	/* Builds a multipart body, afresh for each try (or NULL). */
	curl_mime *(*mime)(CURL *curl, void *ctx);
	void *mime_ctx;
	const char *const *headers;	/* extra "Name: value", NULL-ended */
	int out_fd;		/* a 2xx body is written here when >= 0 */
	int no_auth;		/* no Authorization header (token request) */
};

struct box_response {
	long http;		/* the final HTTP status */
	json_t *json;		/* the body when it was JSON, else NULL */
	long retry_after;	/* Retry-After in seconds, or -1 */
	uint64_t out_bytes;	/* bytes written to out_fd */
};

struct box_hashes {
	uint64_t bytes;
	char sha1[41];
	unsigned char sha1_raw[20];
	char sha256[65];
};

/* The defaults: 5 retries, 60 s, the system's CAs. */
void box_opts_init(struct box_opts *opts);
/*
 * Applies getopt_long's answer c (option name for messages) to opts:
 * 1 when it was a Box option, 0 when it is the program's own. A bad
 * value dies with EX_USAGE; an option carrying a secret is refused.
 */
int box_opts_apply(struct box_opts *opts, int c, const char *name,
    const char *arg);

/*
 * Reads the app's box_config.json from BOX_CONFIG_FILE (or BOX_CONFIG),
 * and BOX_API_URL, BOX_UPLOAD_URL. Dies with EX_CONFIG when they are
 * missing or malformed. The private key is checked on first use.
 */
void box_open(struct box *b, const struct box_opts *opts);
void box_close(struct box *b);

/*
 * Sends one request with a valid access token (fetching or renewing it as
 * needed), retrying 429, 5xx and network errors up to opts.retries times
 * with Retry-After honoured. Returns 0 when Box answered (rs->http says
 * how: the caller judges 2xx, 404, 409...), or an exit status after a
 * message naming what: EX_TEMPFAIL when the retries ran out, EX_NOPERM
 * for 401 (after one renewal) and 403, EX_UNAVAILABLE for an unknown
 * host, EX_IOERR when writing out_fd failed.
 */
int box_request(struct box *b, const struct box_request *rq,
    struct box_response *rs, const char *what);
void box_response_free(struct box_response *rs);
/*
 * box_request asked again while Box answers 202 (a download or an upload
 * not ready yet), after the wait its Retry-After names, at most waits
 * times; then "what: why" and EX_TEMPFAIL.
 */
int box_request_ready(struct box *b, const struct box_request *rq,
    struct box_response *rs, const char *what, int waits, const char *why);
/*
 * 1 when a status from one file says the service or the login failed,
 * so that every file after it would fail alike.
 */
int box_fails_all(int status);
/* Reports an answer the caller did not expect; returns its exit status. */
int box_http_fail(const struct box_response *rs, const char *what);
/* Sleeps before another try: Retry-After when given, else backoff. */
void box_wait(const struct box_response *rs, int attempt);

/* fmt after BOX_API_URL "/2.0", or after BOX_UPLOAD_URL "/api/2.0". */
char *box_api_url(const struct box *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *box_upload_url(const struct box *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A string member of a JSON object (numbers are not ids), or NULL. */
const char *box_str(const json_t *obj, const char *key);
/* The item a 409 names in context_info.conflicts (object or array). */
const json_t *box_conflict(const json_t *error);

/*
 * Calls fn for each entry of the folder's items, every page (marker
 * pagination), with fields asked for. fn returns 0 to go on, 1 to stop.
 * A missing folder is EX_NOINPUT.
 */
int box_folder_items(struct box *b, const char *folder_id,
    const char *fields, int (*fn)(const json_t *entry, void *ctx),
    void *ctx);
/*
 * The id of folder path A/B/C under the root (folder 0), names compared
 * without regard to ASCII case; with create, missing folders are made.
 * A missing folder is EX_NOINPUT; a file in the way is EX_CANTCREAT.
 */
int box_folder_path(struct box *b, const char *path, int create,
    char **folder_id);
/* 1 when s is a Box id (digits only), else 0. */
int box_is_id(const char *s);

/* SHA-1 and SHA-256 of fd from offset 0. Returns 0 or -1 with errno. */
int box_hash_fd(int fd, struct box_hashes *h);
/*
 * Box's SHA-1 and size (size < 0: not given) against h, the hashes of
 * the bytes here, which ours names in messages ("the download"): 0, or
 * EX_IOERR after a message.
 */
int box_verify(const char *what, const char *box_sha1, json_int_t box_size,
    const struct box_hashes *h, const char *ours);
/* The receipt target box://folder/FOLDER/NAME#FILE, NAME percent-encoded. */
char *box_target(const char *folder_id, const char *name,
    const char *file_id);

#endif
