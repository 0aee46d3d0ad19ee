/* s3-put: upload files to S3 (or an S3-compatible store), checked, encrypted */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "csvio.h"
#include "err.h"
#include "mem.h"
#include "opt.h"
#include "receipt.h"
#include "secret.h"
#include "tlscheck.h"

#define PART_SIZE_DEFAULT	(100ll * 1024 * 1024)
#define PART_SIZE_MIN		((size_t)5 * 1024 * 1024)	/* S3's floor */
#define PART_SIZE_MAX		((size_t)5 * 1024 * 1024 * 1024)
#define PARTS_MAX		10000
#define STREAMS_DEFAULT		4
#define STREAMS_MAX		16
#define RETRIES_DEFAULT		5
#define TIMEOUT_DEFAULT		60
#define BACKOFF_MAX		30
#define READ_STEP		(256 * 1024)
#define ERROR_BODY_MAX		(64 * 1024)

/*
 * libcurl before 8.10 sorts the headers it signs by "name:value" instead
 * of by name (curl pull request 14370), so x-amz-server-side-encryption-
 * aws-kms-key-id lands before x-amz-server-side-encryption and every
 * SSE-KMS request with a key id is refused as SignatureDoesNotMatch.
 */
#define CURL_SORTS_HEADERS_BY_NAME	0x080a00

struct store {
	char *endpoint;		/* scheme://host[:port], no trailing '/' */
	int path_style;		/* endpoint/BUCKET/KEY, else BUCKET.host/KEY */
	char *bucket;
	char *prefix;		/* "" or ending in '/' */
	char *region;
	char *sigv4;		/* "aws:amz:REGION:s3" */
	char *userpwd;		/* "KEY:SECRET" for libcurl's signing */
	char *token_header;	/* x-amz-security-token, or NULL */
	const char *cafile;	/* AWS_CA_BUNDLE, or NULL: the system's */
	const char *kms_key;	/* S3_SSE_KMS_KEY_ID, or NULL: AES256 */
	int no_clobber;
	int skip_same;		/* an object with our SHA-256: not sent */
	int retries;
	long timeout;
	long long part_size;
	int streams;
};

/* One request and what came back. */
struct call {
	const char *method;	/* GET PUT POST DELETE */
	const char *what;	/* for messages: "FILE", "FILE part 3" */
	const char *url;
	const char *const *headers;	/* extra "Name: value", NULL-ended */
	int fd;			/* the body: bytes [offset, offset+len) of fd */
	off_t offset;
	uint64_t len;
	const char *body;	/* or this, body_len bytes (fd < 0) */
	size_t body_len;
	const char *body_sha256;	/* hex SHA-256 of the body */
	/* answer */
	long http;
	char *etag;		/* the ETag header, quotes removed */
	char *checksum;		/* x-amz-checksum-sha256, if any */
	char *meta_sha256;	/* x-amz-meta-sha256: what s3-put stored */
	long long length;	/* Content-Length, -1 when none */
	char *text;		/* the body, up to ERROR_BODY_MAX */
	size_t text_len;
};

struct reader {
	int fd;
	off_t at;
	uint64_t left;
	const char *mem;
	int read_errno;
};

struct hashes {
	char sha256_hex[65];
	char sha256_b64[45];
	char md5_hex[33];
	char md5_b64[25];
	unsigned char md5_raw[16];
};

/* A multipart upload in progress, shared by the stream threads. */
struct multipart {
	struct store *st;
	const char *path;
	const char *url;	/* the object's URL */
	const char *upload_id;
	int fd;
	uint64_t size;
	int part_count;
	char **etags;		/* per part, as S3 answered */
	unsigned char (*md5)[16];	/* per part */
	pthread_mutex_t lock;
	int next;		/* the next part to send, from 1 */
	int completed;		/* the store made the object */
	int status;		/* the first failure; stops the others */
};

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: %s [--no-clobber] [--skip-same] [--part-size bytes] "
	    "[--streams n] [--retries n]\n\t[--timeout seconds] "
	    "s3://bucket/[prefix/] file ...\n", progname);
	exit(EX_USAGE);
}

static void
base64(const unsigned char *raw, size_t len, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, raw, (int)len);
}

static void
hex(const unsigned char *raw, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * len] = '\0';
}

/* SHA-256 and MD5 of bytes [offset, offset+len) of fd, or of mem. */
static int
hash_range(int fd, off_t offset, uint64_t len, const char *mem,
    struct hashes *h, int with_md5)
{
	EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = EVP_MD_CTX_new();
	unsigned char raw[32];
	char *buf = mem == NULL ? xmalloc(READ_STEP) : NULL;
	int rc = 0;

	if (sha == NULL || md5 == NULL ||
	    !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(md5, EVP_md5(), NULL))
		die(EX_SOFTWARE, "OpenSSL cannot hash");
	while (len > 0) {
		size_t want = len < READ_STEP ? (size_t)len : READ_STEP;
		ssize_t got;

		if (mem != NULL) {
			EVP_DigestUpdate(sha, mem, (size_t)len);
			if (with_md5)
				EVP_DigestUpdate(md5, mem, (size_t)len);
			break;
		}
		if ((got = pread(fd, buf, want, offset)) <= 0) {
			if (got == 0)
				errno = EIO;	/* the file shrank */
			rc = -1;
			break;
		}
		EVP_DigestUpdate(sha, buf, (size_t)got);
		if (with_md5)
			EVP_DigestUpdate(md5, buf, (size_t)got);
		offset += got;
		len -= (uint64_t)got;
	}
	EVP_DigestFinal_ex(sha, raw, NULL);
	hex(raw, 32, h->sha256_hex);
	base64(raw, 32, h->sha256_b64);
	EVP_DigestFinal_ex(md5, h->md5_raw, NULL);
	hex(h->md5_raw, 16, h->md5_hex);
	base64(h->md5_raw, 16, h->md5_b64);
	EVP_MD_CTX_free(sha);
	EVP_MD_CTX_free(md5);
	free(buf);
	return rc;
}

static size_t
on_read(char *out, size_t size, size_t count, void *ctx)
{
	struct reader *r = ctx;
	size_t want = size * count;
	ssize_t got;

	if (want > r->left)
		want = (size_t)r->left;
	if (want == 0)
		return 0;
	if (r->mem != NULL) {
		memcpy(out, r->mem, want);
		r->mem += want;
		r->left -= want;
		return want;
	}
	if ((got = pread(r->fd, out, want, r->at)) <= 0) {
		r->read_errno = got == 0 ? EIO : errno;
		return CURL_READFUNC_ABORT;
	}
	r->at += got;
	r->left -= (uint64_t)got;
	return (size_t)got;
}

static size_t
on_body(char *data, size_t size, size_t count, void *ctx)
{
	struct call *c = ctx;
	size_t len = size * count, keep = len;

	if (c->text_len + keep > ERROR_BODY_MAX)
		keep = ERROR_BODY_MAX - c->text_len;
	if (keep > 0) {
		c->text = xrealloc(c->text, c->text_len + keep + 1);
		memcpy(c->text + c->text_len, data, keep);
		c->text_len += keep;
		c->text[c->text_len] = '\0';
	}
	return len;
}

/* The value of header line "Name: value" when it is name, else NULL. */
static char *
header_value(const char *line, size_t len, const char *name)
{
	size_t name_len = strlen(name);
	const char *v, *end = line + len;

	if (len <= name_len || strncasecmp(line, name, name_len) != 0 ||
	    line[name_len] != ':')
		return NULL;
	for (v = line + name_len + 1; v < end && (*v == ' ' || *v == '"'); v++)
		;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
	    end[-1] == ' ' || end[-1] == '"'))
		end--;
	return xstrndup(v, (size_t)(end - v));
}

static size_t
on_header(char *data, size_t size, size_t count, void *ctx)
{
	struct call *c = ctx;
	size_t len = size * count;
	char *v;

	/* a new response (after a 100 Continue, a redirect) starts afresh */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		free(c->etag);
		free(c->checksum);
		free(c->meta_sha256);
		c->etag = c->checksum = c->meta_sha256 = NULL;
		c->length = -1;
	} else if ((v = header_value(data, len, "Content-Length")) != NULL) {
		c->length = strtoll(v, NULL, 10);
		free(v);
	} else if ((v = header_value(data, len, "x-amz-meta-sha256")) !=
	    NULL) {
		free(c->meta_sha256);
		c->meta_sha256 = v;
	} else if ((v = header_value(data, len, "ETag")) != NULL) {
		free(c->etag);
		c->etag = v;
	} else if ((v = header_value(data, len,
	    "x-amz-checksum-sha256")) != NULL) {
		free(c->checksum);
		c->checksum = v;
	}
	return len;
}

static void
call_reset(struct call *c)
{
	free(c->etag);
	free(c->checksum);
	free(c->meta_sha256);
	free(c->text);
	c->etag = c->checksum = c->meta_sha256 = c->text = NULL;
	c->length = -1;
	c->text_len = 0;
	c->http = 0;
}

/* The text of <tag> in an S3 XML answer, or NULL. */
static char *
xml_text(const char *xml, const char *tag)
{
	char *open = xasprintf("<%s>", tag), *close = xasprintf("</%s>", tag);
	const char *start, *end;
	char *text = NULL;

	if (xml != NULL && (start = strstr(xml, open)) != NULL) {
		start += strlen(open);
		if ((end = strstr(start, close)) != NULL)
			text = xstrndup(start, (size_t)(end - start));
	}
	free(open);
	free(close);
	return text;
}

/*
 * The exit status for a transfer that got no HTTP answer: a certificate
 * that failed verification is never worth a retry, whatever code libcurl
 * gave for it (a forged signature comes back as a handshake failure).
 */
static int
curl_status(CURL *curl, CURLcode rc)
{
	return tls_verify_failure(curl) != NULL ? EX_NOPERM :
	    curl_exit_status(rc);
}

static void
backoff(int attempt)
{
	unsigned seconds = 1u << (attempt < 5 ? attempt : 5);

	if (seconds > BACKOFF_MAX)
		seconds = BACKOFF_MAX;
	while (seconds > 0)
		seconds = sleep(seconds);
}

/* Whether an answer is worth asking again: the store busy or failing. */
static int
http_retryable(long http)
{
	return http == 429 || http >= 500;
}

/*
 * Sends c once over curl: signed by libcurl (SigV4, with the payload's
 * SHA-256 in x-amz-content-sha256, which libcurl 7.88 does not add
 * itself), verified TLS. Returns 0 with c->http set, or an exit status
 * with *msg saying why when no answer came.
 */
static int
call_once(struct store *st, CURL *curl, struct call *c, char *errbuf)
{
	struct curl_slist *hdr = NULL;
	struct reader r = { .fd = c->fd, .at = c->offset };
	char *line;
	CURLcode rc;
	int status = 0;

	call_reset(c);
	curl_easy_reset(curl);
	line = xasprintf("x-amz-content-sha256: %s", c->body_sha256);
	hdr = curl_slist_append(hdr, line);
	free(line);
	/*
	 * "Expect:" (no 100-continue) cannot be asked for: libcurl 7.88 signs
	 * it as an empty header it then leaves out, and the store refuses the
	 * signature. The 100-continue round trip spares a refused body.
	 */
	if (st->token_header != NULL)
		hdr = curl_slist_append(hdr, st->token_header);
	for (const char *const *h = c->headers; h != NULL && *h != NULL; h++)
		hdr = curl_slist_append(hdr, *h);
	if (hdr == NULL)
		die(EX_OSERR, "out of memory");

	curl_easy_setopt(curl, CURLOPT_URL, c->url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, st->sigv4);
	curl_easy_setopt(curl, CURLOPT_USERPWD, st->userpwd);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
	if (st->cafile != NULL)
		curl_easy_setopt(curl, CURLOPT_CAINFO, st->cafile);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, st->timeout);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, st->timeout);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, c);
	if (strcmp(c->method, "PUT") == 0) {
		r.left = c->len;
		r.mem = c->fd < 0 ? c->body : NULL;
		curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(curl, CURLOPT_READDATA, &r);
		curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)c->len);
	} else if (strcmp(c->method, "POST") == 0) {
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)c->body_len);
	} else if (strcmp(c->method, "DELETE") == 0)
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "DELETE");
	else if (strcmp(c->method, "HEAD") == 0)
		curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);

	errbuf[0] = '\0';
	tls_watch(curl);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->http);
	else if (r.read_errno != 0) {
		errno = r.read_errno;
		status = EX_IOERR;
	} else
		status = curl_status(curl, rc);
	curl_slist_free_all(hdr);
	return status;
}

/*
 * Sends c, asking again after a dropped connection, a timeout, 429 or 5xx
 * (with backoff), at most st->retries times. Returns 0 when the store
 * answered something else (c->http), or an exit status after a message.
 */
static int
call(struct store *st, CURL *curl, struct call *c)
{
	char errbuf[CURL_ERROR_SIZE];
	int status;

	for (int attempt = 0;; attempt++) {
		int saved_errno;

		status = call_once(st, curl, c, errbuf);
		saved_errno = errno;
		if (status == 0 && !http_retryable(c->http))
			return 0;
		if ((status == 0 || status == EX_TEMPFAIL) &&
		    attempt < st->retries) {
			backoff(attempt);
			continue;
		}
		if (status == 0) {
			char *code = xml_text(c->text, "Code");

			warn("%s: the store answered %ld%s%s after %d tries",
			    c->what, c->http, code ? " " : "", code ? code : "",
			    attempt + 1);
			free(code);
			return EX_TEMPFAIL;
		}
		if (status == EX_IOERR) {
			errno = saved_errno;
			warn("%s: read error:", c->what);
		} else if (status == EX_NOPERM) {
			/* OpenSSL's reason, as smtp-send and box-upload say
			 * it, where curl's text is a handshake's */
			const char *why = tls_verify_failure(curl);

			warn("%s: the store's TLS certificate failed "
			    "verification (%s)", c->what, why ? why : errbuf);
		}
		else if (status == EX_TEMPFAIL)
			warn("%s: connection lost or timed out after %d tries "
			    "(%s)", c->what, attempt + 1, errbuf);
		else
			warn("%s: cannot reach the store (%s)", c->what, errbuf);
		return status;
	}
}

/*
 * What an answer that is not 2xx means: a status after a message naming
 * the store's error code (never its Message, which for a bad signature
 * holds the string that was signed).
 */
static int
http_fail(const struct call *c)
{
	char *code = xml_text(c->text, "Code");
	const char *why = "", *name = code ? code : "";
	int status;

	switch (c->http) {
	case 400:
		if (code != NULL && (strcmp(code, "BadDigest") == 0 ||
		    strcmp(code, "InvalidDigest") == 0 ||
		    strcmp(code, "XAmzContentSHA256Mismatch") == 0 ||
		    strcmp(code, "InvalidChecksum") == 0)) {
			why = ": the bytes the store got are not the bytes sent";
			status = EX_DATAERR;
		} else if (code != NULL && strcmp(code, "ExpiredToken") == 0) {
			why = ": the session token has expired";
			status = EX_NOPERM;
		} else
			status = EX_UNAVAILABLE;
		break;
	case 401:
	case 403:
		if (code != NULL && strcmp(code, "SignatureDoesNotMatch") == 0)
			why = ": the secret access key is wrong";
		else if (code != NULL &&
		    strcmp(code, "InvalidAccessKeyId") == 0)
			why = ": the store does not know the access key id";
		else if (code != NULL && (strcmp(code, "ExpiredToken") == 0 ||
		    strcmp(code, "TokenRefreshRequired") == 0))
			why = ": the session token has expired";
		else
			why = ": access denied";
		status = EX_NOPERM;
		break;
	case 404:
		if (code != NULL && strcmp(code, "NoSuchBucket") == 0)
			why = ": no such bucket";
		status = EX_UNAVAILABLE;
		break;
	case 412:
		why = ": the object exists and --no-clobber is set; "
		    "it is unchanged";
		status = EX_CANTCREAT;
		break;
	default:
		status = EX_UNAVAILABLE;
	}
	warn("%s: the store answered %ld%s%s%s", c->what, c->http,
	    *name ? " " : "", name, why);
	free(code);
	return status;
}

/* The store's URL for key, each segment escaped, with query appended. */
static char *
object_url(const struct store *st, CURL *curl, const char *key,
    const char *query)
{
	char *path = xstrdup(""), *copy = xstrdup(key), *save = NULL, *url;

	for (char *seg = strtok_r(copy, "/", &save); seg != NULL;
	    seg = strtok_r(NULL, "/", &save)) {
		char *esc = curl_easy_escape(curl, seg, 0), *next;

		if (esc == NULL)
			die(EX_OSERR, "out of memory");
		next = xasprintf("%s/%s", path, esc);
		curl_free(esc);
		free(path);
		path = next;
	}
	if (st->path_style) {
		char *bucket = curl_easy_escape(curl, st->bucket, 0);

		url = xasprintf("%s/%s%s%s%s", st->endpoint, bucket, path,
		    query ? "?" : "", query ? query : "");
		curl_free(bucket);
	} else
		url = xasprintf("https://%s.s3.%s.amazonaws.com%s%s%s",
		    st->bucket, st->region, path, query ? "?" : "",
		    query ? query : "");
	free(copy);
	free(path);
	return url;
}

/*
 * What every object is stored with: server-side encryption, asked for
 * always and never switched off, and the whole file's SHA-256 as user
 * metadata, so that a later run can ask whether the object is this file
 * (--skip-same). owned[0..1] are freed by the caller.
 */
static void
object_headers(const struct store *st, const char *sha256_hex,
    const char **h, char **owned)
{
	size_t n = 0;

	owned[0] = xasprintf("x-amz-meta-sha256: %s", sha256_hex);
	owned[1] = NULL;
	h[n++] = owned[0];
	if (st->kms_key == NULL)
		h[n++] = "x-amz-server-side-encryption: AES256";
	else {
		h[n++] = "x-amz-server-side-encryption: aws:kms";
		owned[1] = xasprintf("x-amz-server-side-encryption-aws-kms-"
		    "key-id: %s", st->kms_key);
		h[n++] = owned[1];
	}
	h[n] = NULL;
}

static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* The store's ETag for what was sent: a part's or a whole PUT's MD5. */
static int
check_etag(const struct store *st, const struct call *c, const char *md5)
{
	/* SSE-KMS objects' ETags are not the MD5 of the content (S3). */
	if (st->kms_key != NULL || c->etag == NULL)
		return 0;
	if (strcasecmp(c->etag, md5) == 0)
		return 0;
	warn("%s: the store's ETag is not the MD5 of the bytes sent", c->what);
	return EX_DATAERR;
}

static int
check_checksum(const struct call *c, const char *sha256_b64)
{
	if (c->checksum == NULL || strcmp(c->checksum, sha256_b64) == 0)
		return 0;
	warn("%s: the store's SHA-256 is not the SHA-256 of the bytes sent",
	    c->what);
	return EX_DATAERR;
}

static int
put_single(struct store *st, CURL *curl, const char *path, int fd,
    uint64_t size, const struct hashes *h, const char *url)
{
	const char *headers[9], *sse[4];
	char *owned[2], *md5 = xasprintf("Content-MD5: %s", h->md5_b64);
	char *checksum = xasprintf("x-amz-checksum-sha256: %s", h->sha256_b64);
	struct call c = { .method = "PUT", .what = path, .url = url,
	    .headers = headers, .fd = fd, .len = size,
	    .body_sha256 = h->sha256_hex };
	size_t n = 0;
	int status;

	object_headers(st, h->sha256_hex, sse, owned);
	headers[n++] = md5;
	headers[n++] = checksum;
	for (size_t i = 0; sse[i] != NULL; i++)
		headers[n++] = sse[i];
	if (st->no_clobber)
		headers[n++] = "If-None-Match: *";
	headers[n] = NULL;
	if ((status = call(st, curl, &c)) == 0) {
		if (c.http / 100 != 2)
			status = http_fail(&c);
		else if ((status = check_etag(st, &c, h->md5_hex)) == 0)
			status = check_checksum(&c, h->sha256_b64);
	}
	call_reset(&c);
	free(owned[0]);
	free(owned[1]);
	free(md5);
	free(checksum);
	return status;
}

/* Sends one part (number from 1); its ETag and MD5 into mp. */
static int
put_part(struct multipart *mp, CURL *curl, int number)
{
	struct store *st = mp->st;
	off_t offset = (off_t)(number - 1) * st->part_size;
	uint64_t len = mp->size - (uint64_t)offset;
	struct hashes h;
	const char *headers[3];
	char *query, *url, *what, *md5, *checksum;
	struct call c = { .method = "PUT", .headers = headers, .fd = mp->fd,
	    .offset = offset };
	char *esc;
	int status;

	if (len > (uint64_t)st->part_size)
		len = (uint64_t)st->part_size;
	what = xasprintf("%s part %d", mp->path, number);
	if (hash_range(mp->fd, offset, len, NULL, &h, 1) != 0) {
		warn("%s: read error:", what);
		free(what);
		return EX_IOERR;
	}
	esc = curl_easy_escape(curl, mp->upload_id, 0);
	query = xasprintf("partNumber=%d&uploadId=%s", number, esc);
	curl_free(esc);
	url = xasprintf("%s?%s", mp->url, query);
	md5 = xasprintf("Content-MD5: %s", h.md5_b64);
	checksum = xasprintf("x-amz-checksum-sha256: %s", h.sha256_b64);
	headers[0] = md5;
	headers[1] = checksum;
	headers[2] = NULL;
	c.what = what;
	c.url = url;
	c.len = len;
	c.body_sha256 = h.sha256_hex;
	if ((status = call(st, curl, &c)) == 0) {
		if (c.http / 100 != 2)
			status = http_fail(&c);
		else if ((status = check_etag(st, &c, h.md5_hex)) == 0 &&
		    (status = check_checksum(&c, h.sha256_b64)) == 0) {
			if (c.etag == NULL) {
				warn("%s: the store answered without an ETag",
				    what);
				status = EX_PROTOCOL;
			} else {
				mp->etags[number - 1] = xstrdup(c.etag);
				memcpy(mp->md5[number - 1], h.md5_raw, 16);
			}
		}
	}
	call_reset(&c);
	free(what);
	free(query);
	free(url);
	free(md5);
	free(checksum);
	return status;
}

/* A stream: sends whichever part is next until none is left or one fails. */
static void *
stream_main(void *arg)
{
	struct multipart *mp = arg;
	CURL *curl = curl_easy_init();

	if (curl == NULL)
		die(EX_OSERR, "cannot start libcurl");
	for (;;) {
		int number, status;

		pthread_mutex_lock(&mp->lock);
		number = mp->status == 0 && mp->next <= mp->part_count ?
		    mp->next++ : 0;
		pthread_mutex_unlock(&mp->lock);
		if (number == 0)
			break;
		if ((status = put_part(mp, curl, number)) != 0) {
			pthread_mutex_lock(&mp->lock);
			if (mp->status == 0)
				mp->status = status;
			pthread_mutex_unlock(&mp->lock);
			break;
		}
	}
	curl_easy_cleanup(curl);
	return NULL;
}

/* Abandons the upload so that no part is left stored (and billed). */
static void
abort_upload(struct store *st, CURL *curl, const struct multipart *mp,
    const char *query)
{
	char *url = xasprintf("%s?%s", mp->url, query);
	char *what = xasprintf("%s (aborting the multipart upload)", mp->path);
	struct call c = { .method = "DELETE", .what = what, .url = url,
	    .fd = -1, .body_sha256 = empty_sha256 };

	if (call(st, curl, &c) == 0 && c.http / 100 != 2 && c.http != 404)
		http_fail(&c);
	call_reset(&c);
	free(url);
	free(what);
}

/* An object whose check failed: nothing unverified stays under the name. */
static void
remove_object(struct store *st, CURL *curl, const struct multipart *mp)
{
	char *what = xasprintf("%s (removing the unverified object)",
	    mp->path);
	struct call c = { .method = "DELETE", .what = what, .url = mp->url,
	    .fd = -1, .body_sha256 = empty_sha256 };

	if (call(st, curl, &c) == 0 && c.http / 100 != 2)
		http_fail(&c);
	else if (c.http / 100 == 2)
		warn("%s: removed from the store", mp->path);
	call_reset(&c);
	free(what);
}

/* The ETag S3 gives a multipart object: MD5 of the parts' MD5s, -count. */
static void
multipart_etag(const struct multipart *mp, char *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char raw[16];
	char hexed[33];

	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	for (int i = 0; i < mp->part_count; i++)
		EVP_DigestUpdate(ctx, mp->md5[i], 16);
	EVP_DigestFinal_ex(ctx, raw, NULL);
	EVP_MD_CTX_free(ctx);
	hex(raw, 16, hexed);
	sprintf(out, "%s-%d", hexed, mp->part_count);
}

/*
 * The completed object's ETag against the one its parts give. RGW (Ceph
 * 16) answers the completion with an empty <ETag>: then a HEAD asks.
 */
static int
check_object_etag(struct multipart *mp, CURL *curl, struct call *done,
    const char *etag)
{
	char *got = xml_text(done->text, "ETag");
	const char *g = got;
	struct call head = { .method = "HEAD", .what = done->what,
	    .url = mp->url, .fd = -1, .body_sha256 = empty_sha256 };
	int status = 0;
	size_t len;

	/* SSE-KMS objects' ETags are not the MD5s of their parts (S3). */
	if (mp->st->kms_key != NULL) {
		free(got);
		return 0;
	}
	if (g == NULL || *g == '\0') {
		if ((status = call(mp->st, curl, &head)) == 0 &&
		    head.http / 100 != 2)
			status = http_fail(&head);
		g = head.etag != NULL ? head.etag : "";
	}
	/* quoted, or as &quot;...&quot; or &#34;...&#34; in the XML */
	if (strncmp(g, "&quot;", 6) == 0)
		g += 6;
	else if (strncmp(g, "&#34;", 5) == 0)
		g += 5;
	else if (*g == '"')
		g++;
	len = strcspn(g, "\"&");
	if (status == 0 && (len != strlen(etag) ||
	    strncasecmp(g, etag, len) != 0)) {
		warn("%s: the store's ETag is not the one of the parts sent",
		    done->what);
		status = EX_DATAERR;
	}
	call_reset(&head);
	free(got);
	return status;
}

static int
complete_upload(struct multipart *mp, CURL *curl, const char *query)
{
	struct store *st = mp->st;
	size_t cap = 64 + (size_t)mp->part_count * 128, len;
	char *body = xmalloc(cap), *url, *what, *code;
	struct hashes h;
	char etag[48];
	struct call c = { .method = "POST", .fd = -1 };
	int status;

	len = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
	for (int i = 0; i < mp->part_count; i++)
		len += (size_t)snprintf(body + len, cap - len, "<Part>"
		    "<PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>",
		    i + 1, mp->etags[i]);
	len += (size_t)snprintf(body + len, cap - len,
	    "</CompleteMultipartUpload>");
	hash_range(-1, 0, len, body, &h, 0);
	url = xasprintf("%s?%s", mp->url, query);
	what = xasprintf("%s (completing the multipart upload)", mp->path);
	c.what = what;
	c.url = url;
	c.body = body;
	c.body_len = len;
	c.body_sha256 = h.sha256_hex;
	if ((status = call(st, curl, &c)) == 0) {
		/* S3 may answer 200 with an <Error> in the body */
		if (c.http / 100 != 2 || (code = xml_text(c.text, "Code")) !=
		    NULL) {
			if (c.http / 100 == 2)
				c.http = 500;
			status = http_fail(&c);
			if (c.http == 500)
				status = EX_TEMPFAIL;
		} else {
			mp->completed = 1;
			multipart_etag(mp, etag);
			status = check_object_etag(mp, curl, &c, etag);
		}
	}
	call_reset(&c);
	free(body);
	free(url);
	free(what);
	return status;
}

static int
put_multipart(struct store *st, CURL *curl, const char *path, int fd,
    uint64_t size, const char *url, const char *sha256_hex)
{
	struct multipart mp = { .st = st, .path = path, .url = url, .fd = fd,
	    .size = size, .next = 1 };
	const char *headers[6], *sse[4];
	char *owned[2], *create_url = xasprintf("%s?uploads=", url);
	char *what = xasprintf("%s (starting a multipart upload)", path);
	char *query = NULL, *esc;
	struct call c = { .method = "POST", .what = what, .url = create_url,
	    .headers = headers, .fd = -1, .body = "", .body_len = 0,
	    .body_sha256 = empty_sha256 };
	pthread_t threads[STREAMS_MAX];
	int stream_count, status;
	size_t n = 0;

	mp.part_count = (int)((size + (uint64_t)st->part_size - 1) /
	    (uint64_t)st->part_size);
	if (mp.part_count > PARTS_MAX) {
		warn("%s: %d parts of --part-size %lld; S3 takes at most %d: "
		    "a larger --part-size", path, mp.part_count,
		    st->part_size, PARTS_MAX);
		free(create_url);
		free(what);
		return EX_USAGE;
	}
	object_headers(st, sha256_hex, sse, owned);
	for (size_t i = 0; sse[i] != NULL; i++)
		headers[n++] = sse[i];
	if (st->no_clobber)
		headers[n++] = "If-None-Match: *";
	headers[n] = NULL;
	status = call(st, curl, &c);
	free(owned[0]);
	free(owned[1]);
	if (status == 0 && c.http / 100 != 2)
		status = http_fail(&c);
	if (status == 0 && (mp.upload_id = xml_text(c.text, "UploadId")) ==
	    NULL) {
		warn("%s: the store answered without an UploadId", what);
		status = EX_PROTOCOL;
	}
	call_reset(&c);
	free(create_url);
	free(what);
	if (status != 0)
		return status;

	esc = curl_easy_escape(curl, mp.upload_id, 0);
	query = xasprintf("uploadId=%s", esc);
	curl_free(esc);
	mp.etags = xcalloc((size_t)mp.part_count, sizeof *mp.etags);
	mp.md5 = xcalloc((size_t)mp.part_count, sizeof *mp.md5);
	pthread_mutex_init(&mp.lock, NULL);
	stream_count = st->streams < mp.part_count ? st->streams :
	    mp.part_count;
	for (int i = 0; i < stream_count; i++)
		if ((errno = pthread_create(&threads[i], NULL, stream_main,
		    &mp)) != 0)
			die(EX_OSERR, "pthread_create:");
	for (int i = 0; i < stream_count; i++)
		pthread_join(threads[i], NULL);
	status = mp.status;
	if (status == 0)
		status = complete_upload(&mp, curl, query);
	if (status != 0 && mp.completed)
		remove_object(st, curl, &mp);
	else if (status != 0)
		abort_upload(st, curl, &mp, query);
	for (int i = 0; i < mp.part_count; i++)
		free(mp.etags[i]);
	free(mp.etags);
	free(mp.md5);
	free(query);
	free((char *)mp.upload_id);
	pthread_mutex_destroy(&mp.lock);
	return status;
}

/*
 * --skip-same: 0 after a message when the object is this file already
 * (its size, and the SHA-256 s3-put stored with it), 1 when it is not
 * there or not the same, or an exit status when the store cannot say.
 */
static int
same_object(struct store *st, CURL *curl, const char *path, const char *url,
    uint64_t size, const char *sha256_hex)
{
	struct call c = { .method = "HEAD", .what = path, .url = url,
	    .fd = -1, .body_sha256 = empty_sha256 };
	int status;

	if ((status = call(st, curl, &c)) != 0)
		return status;
	if (c.http == 404)
		status = 1;
	else if (c.http / 100 != 2)
		status = http_fail(&c);
	else if (c.length == (long long)size && c.meta_sha256 != NULL &&
	    strcasecmp(c.meta_sha256, sha256_hex) == 0) {
		warn("%s: the store holds this file already (%llu bytes, the "
		    "same SHA-256): not sent", path, (unsigned long long)size);
		status = 0;
	} else
		status = 1;
	call_reset(&c);
	return status;
}

/* Uploads path to PREFIX/NAME; prints its receipt row. */
static int
put_file(struct store *st, CURL *curl, struct csv_writer *w,
    const char *path)
{
	const char *name = strrchr(path, '/');
	struct hashes h;
	struct stat sb;
	char *key, *url, *target;
	int fd, status, multipart;

	name = name != NULL ? name + 1 : path;
	if (*name == '\0') {
		warn("%s: not a file name", path);
		return EX_USAGE;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		warn("%s:", path);
		return errno == ENOENT ? EX_NOINPUT : EX_NOINPUT;
	}
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		warn("%s: not a regular file", path);
		close(fd);
		return EX_NOINPUT;
	}
	key = xasprintf("%s%s", st->prefix, name);
	url = object_url(st, curl, key, NULL);
	target = xasprintf("s3://%s/%s", st->bucket, key);
	/*
	 * The whole file's SHA-256 first: the receipt's, and the object's
	 * metadata (each part gets its own MD5 as it goes, so a multipart
	 * file is hashed without one here).
	 */
	multipart = sb.st_size > st->part_size;
	if (hash_range(fd, 0, (uint64_t)sb.st_size, NULL, &h, !multipart) !=
	    0) {
		warn("%s: read error:", path);
		status = EX_IOERR;
	} else if (st->skip_same && (status = same_object(st, curl, path,
	    url, (uint64_t)sb.st_size, h.sha256_hex)) != 1)
		;	/* there already (0), or the store could not say */
	else if (multipart)
		status = put_multipart(st, curl, path, fd,
		    (uint64_t)sb.st_size, url, h.sha256_hex);
	else
		status = put_single(st, curl, path, fd, (uint64_t)sb.st_size,
		    &h, url);
	if (status == 0) {
		receipt_row(w, path, (uint64_t)sb.st_size, h.sha256_hex,
		    target);
		fflush(stdout);
	}
	close(fd);
	free(key);
	free(url);
	free(target);
	return status;
}

/* s3://BUCKET/PREFIX into st->bucket and st->prefix ("" or ".../"). */
static void
parse_target(struct store *st, const char *arg)
{
	const char *rest, *slash;
	size_t len;

	if (strncmp(arg, "s3://", 5) != 0)
		die(EX_USAGE, "%s: not an s3://bucket/prefix/ URL", arg);
	rest = arg + 5;
	slash = strchr(rest, '/');
	len = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	if (len == 0 || len > 63 || strspn(rest, "abcdefghijklmnopqrstuvwxyz"
	    "0123456789.-") < len)
		die(EX_USAGE, "%s: not an S3 bucket name (3 to 63 lowercase "
		    "letters, digits, '.' and '-')", arg);
	st->bucket = xstrndup(rest, len);
	rest = slash != NULL ? slash + 1 : "";
	for (const char *p = rest; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			die(EX_USAGE, "the prefix holds a control character");
	len = strlen(rest);
	st->prefix = len == 0 || rest[len - 1] == '/' ? xstrdup(rest) :
	    xasprintf("%s/", rest);
}

/* Settings and credentials from the environment (the AWS CLI's names). */
static void
settle(struct store *st)
{
	const char *key_id = getenv("AWS_ACCESS_KEY_ID");
	const char *region = getenv("AWS_REGION");
	const char *endpoint = getenv("S3_ENDPOINT_URL");
	const char *kms = getenv("S3_SSE_KMS_KEY_ID");
	char *secret, *token;
	size_t len;

	if (region == NULL || *region == '\0')
		region = getenv("AWS_DEFAULT_REGION");
	if (region == NULL || *region == '\0')
		region = "us-east-1";
	if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
	    strlen(region))
		die(EX_CONFIG, "AWS_REGION=%s is not a region name", region);
	st->region = xstrdup(region);
	st->sigv4 = xasprintf("aws:amz:%s:s3", region);
	if (key_id == NULL || *key_id == '\0')
		die(EX_CONFIG, "set AWS_ACCESS_KEY_ID (and "
		    "AWS_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY_FILE)");
	if (strchr(key_id, ':') != NULL)
		die(EX_CONFIG, "AWS_ACCESS_KEY_ID is not an access key id");
	secret = secret_require("AWS_SECRET_ACCESS_KEY");
	st->userpwd = xasprintf("%s:%s", key_id, secret);
	secret_free(secret);
	if ((token = secret_get("AWS_SESSION_TOKEN")) != NULL) {
		st->token_header = xasprintf("x-amz-security-token: %s", token);
		secret_free(token);
	}
	if (endpoint != NULL && *endpoint != '\0') {
		if (strncmp(endpoint, "https://", 8) != 0 &&
		    strncmp(endpoint, "http://", 7) != 0)
			die(EX_CONFIG, "S3_ENDPOINT_URL=%s is not an http(s) "
			    "URL", endpoint);
		st->endpoint = xstrdup(endpoint);
		len = strlen(st->endpoint);
		while (len > 0 && st->endpoint[len - 1] == '/')
			st->endpoint[--len] = '\0';
		st->path_style = 1;
	}
	if ((st->cafile = getenv("AWS_CA_BUNDLE")) != NULL &&
	    *st->cafile == '\0')
		st->cafile = NULL;
	if (st->cafile != NULL && access(st->cafile, R_OK) != 0)
		die(EX_CONFIG, "AWS_CA_BUNDLE=%s:", st->cafile);
	if (kms != NULL && *kms != '\0') {
		if (curl_version_info(CURLVERSION_NOW)->version_num <
		    CURL_SORTS_HEADERS_BY_NAME)
			die(EX_CONFIG, "S3_SSE_KMS_KEY_ID needs libcurl 8.10 "
			    "or later: libcurl %s signs the key id header out "
			    "of order, and the store would refuse every request",
			    curl_version_info(CURLVERSION_NOW)->version);
		if (strchr(kms, '\n') != NULL || strchr(kms, '\r') != NULL)
			die(EX_CONFIG, "S3_SSE_KMS_KEY_ID holds a line break");
		st->kms_key = kms;
	}
}

static const struct option long_options[] = {
	{ "no-clobber", no_argument, NULL, 'n' },
	{ "skip-same", no_argument, NULL, 'k' },
	{ "part-size", required_argument, NULL, 'P' },
	{ "streams", required_argument, NULL, 's' },
	{ "retries", required_argument, NULL, 'r' },
	{ "timeout", required_argument, NULL, 't' },
	{ "secret-access-key", required_argument, NULL, 'S' },
	{ "password", required_argument, NULL, 'S' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char *argv[])
{
	struct store st = { .retries = RETRIES_DEFAULT,
	    .timeout = TIMEOUT_DEFAULT, .part_size = PART_SIZE_DEFAULT,
	    .streams = STREAMS_DEFAULT };
	struct csv_writer w;
	CURL *curl;
	int opt, status = 0;

	setprogname(argv[0]);
	while ((opt = opt_next(argc, argv, "+", long_options, NULL)) != -1) {
		switch (opt) {
		case 'n':
			st.no_clobber = 1;
			break;
		case 'k':
			st.skip_same = 1;
			break;
		case 'P':
			st.part_size = (long long)opt_size("--part-size", optarg,
			    PART_SIZE_MIN, PART_SIZE_MAX);
			break;
		case 's':
			st.streams = (int)opt_number("--streams", optarg, 1,
			    STREAMS_MAX);
			break;
		case 'r':
			st.retries = (int)opt_number("--retries", optarg, 0,
			    100);
			break;
		case 't':
			st.timeout = opt_number("--timeout", optarg, 1, 3600);
			break;
		case 'S':
			secret_refuse_option("--secret-access-key",
			    "AWS_SECRET_ACCESS_KEY");
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		usage();
	parse_target(&st, argv[0]);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (curl = curl_easy_init()) == NULL)
		die(EX_OSERR, "cannot start libcurl");
	settle(&st);

	csv_writer_init(&w, stdout);
	receipt_header(&w);
	for (int i = 1; i < argc; i++) {
		int file_status = put_file(&st, curl, &w, argv[i]);

		status = worst_status(status, file_status);
		/* a login or a store that fails one file fails them all */
		if (file_status == EX_NOPERM || file_status == EX_CONFIG ||
		    (file_status == EX_UNAVAILABLE && i + 1 < argc)) {
			if (i + 1 < argc)
				warn("%d file%s not sent", argc - i - 1,
				    argc - i - 1 == 1 ? "" : "s");
			break;
		}
	}
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	secret_free(st.userpwd);
	if (st.token_header != NULL)
		secret_free(st.token_header);
	free(st.endpoint);
	free(st.bucket);
	free(st.prefix);
	free(st.region);
	free(st.sigv4);
	finish_stdout();
	return status;
}
