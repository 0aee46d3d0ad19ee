/* sftp.c: SFTP sessions for sftp-put and sftp-get (libssh2) */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "knownhosts.h"
#include "mem.h"
#include "opt.h"
#include "secret.h"
#include "sftp.h"

static int session_errno(struct sftp_conn *c, char **msg);

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes len bytes of s; NULL when an escape is malformed or
 * decodes to NUL. */
static char *
url_decode(const char *s, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= len)
				goto bad;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				goto bad;
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

/* Percent-encodes what RFC 3986 does not allow in a path (spaces,
 * non-ASCII bytes, '%', '?', '#'...). */
static char *
url_encode_path(const char *s)
{
	static const char keep[] = "-._~!$&'()*+,;=:@/";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(keep, *p) != NULL)
			*o++ = (char)*p;
		else
			o += sprintf(o, "%%%02X", *p);
	}
	*o = '\0';
	return out;
}

void
sftp_url_parse(const char *url, struct sftp_url *u)
{
	const char *auth, *at, *hostp, *slash, *hostend, *portp = NULL;
	char *end;
	long port = 22;

	memset(u, 0, sizeof *u);
	if (strncmp(url, "sftp://", 7) != 0)
		die(EX_USAGE, "%s: not an sftp:// URL", url);
	auth = url + 7;
	slash = strchr(auth, '/');
	if (slash == NULL)
		slash = auth + strlen(auth);
	at = memchr(auth, '@', (size_t)(slash - auth));
	if (at == NULL || at == auth)
		die(EX_USAGE, "%s: the URL names no user (sftp://USER@HOST/DIR)",
		    url);
	if (memchr(auth, ':', (size_t)(at - auth)) != NULL)
		die(EX_USAGE, "%s: a password in the URL is refused; set "
		    "SFTP_PASSWORD or SFTP_PASSWORD_FILE", "URL");
	u->user = url_decode(auth, (size_t)(at - auth));
	if (u->user == NULL || *u->user == '\0')
		die(EX_USAGE, "%s: bad user name in the URL", url);
	hostp = at + 1;
	if (*hostp == '[') {
		hostend = memchr(hostp, ']', (size_t)(slash - hostp));
		if (hostend == NULL)
			die(EX_USAGE, "%s: unterminated [ in the host", url);
		u->host = xstrndup(hostp + 1, (size_t)(hostend - hostp - 1));
		hostend++;
		if (hostend < slash && *hostend == ':')
			portp = hostend + 1;
		else if (hostend != slash)
			die(EX_USAGE, "%s: bad host", url);
	} else {
		hostend = memchr(hostp, ':', (size_t)(slash - hostp));
		if (hostend != NULL)
			portp = hostend + 1;
		else
			hostend = slash;
		u->host = xstrndup(hostp, (size_t)(hostend - hostp));
	}
	if (*u->host == '\0')
		die(EX_USAGE, "%s: the URL names no host", url);
	if (portp != NULL) {
		errno = 0;
		port = strtol(portp, &end, 10);
		if (end != slash || end == portp || port < 1 || port > 65535)
			die(EX_USAGE, "%s: bad port", url);
	}
	u->port = (int)port;
	u->url_path = url_decode(slash, strlen(slash));
	if (u->url_path == NULL)
		die(EX_USAGE, "%s: bad %%-escape in the path", url);
	if (*u->url_path == '\0') {
		free(u->url_path);
		u->url_path = xstrdup("/");
	}
	/* As in curl: "/~/" at the start is the login's home directory,
	 * which a relative SFTP path means. */
	if (strcmp(u->url_path, "/~") == 0 || strcmp(u->url_path, "/~/") == 0)
		u->path = xstrdup(".");
	else if (strncmp(u->url_path, "/~/", 3) == 0)
		u->path = xstrdup(u->url_path + 3);
	else
		u->path = xstrdup(u->url_path);
	{
		char *euser = url_encode_path(u->user);
		int v6 = strchr(u->host, ':') != NULL;

		u->prefix = xasprintf("sftp://%s@%s%s%s", euser,
		    v6 ? "[" : "", u->host, v6 ? "]" : "");
		if (u->port != 22) {
			char *p = xasprintf("%s:%d", u->prefix, u->port);

			free(u->prefix);
			u->prefix = p;
		}
		u->where = xasprintf("%s@%s%s%s:%d", u->user, v6 ? "[" : "",
		    u->host, v6 ? "]" : "", u->port);
		free(euser);
	}
}

char *
sftp_join(const char *dir, const char *name)
{
	size_t len = strlen(dir);

	if (strcmp(dir, ".") == 0 || len == 0)
		return xstrdup(name);
	if (dir[len - 1] == '/')
		return xasprintf("%s%s", dir, name);
	return xasprintf("%s/%s", dir, name);
}

char *
sftp_url_of(const struct sftp_url *u, const char *name)
{
	char *path = sftp_join(u->url_path, name);
	char *enc = url_encode_path(path);
	char *url = xasprintf("%s%s", u->prefix, enc);

	free(path);
	free(enc);
	return url;
}

void
sftp_opts_init(struct sftp_opts *o)
{
	memset(o, 0, sizeof *o);
	o->timeout = 30;
	o->retries = 3;
}

int
sftp_opts_apply(struct sftp_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'i':
		o->key_file = arg;
		return 1;
	case SFTPOPT_KNOWN_HOSTS:
		o->known_hosts = arg;
		return 1;
	case SFTPOPT_RETRIES:
		o->retries = (int)opt_number("--retries", arg, 0, 100);
		return 1;
	case SFTPOPT_TIMEOUT:
		o->timeout = (int)opt_number("--timeout", arg, 1, 86400);
		return 1;
	case SFTPOPT_PASSWORD:
		secret_refuse_option("--password", "SFTP_PASSWORD");
	}
	return 0;
}

/* TCP connection with a timeout; returns the socket or -1 after a
 * message, with *status set. */
static int
tcp_connect(const struct sftp_url *u, int timeout, int *status)
{
	struct addrinfo hints, *res, *ai;
	char port[16];
	int fd = -1, rc, saved = 0;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%d", u->port);
	rc = getaddrinfo(u->host, port, &hints, &res);
	if (rc != 0) {
		warn("%s: cannot resolve %s: %s", u->where, u->host,
		    gai_strerror(rc));
		*status = rc == EAI_AGAIN ? EX_TEMPFAIL : EX_UNAVAILABLE;
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		socklen_t slen = sizeof saved;
		int flags;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
		if (fd < 0) {
			saved = errno;
			continue;
		}
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc < 0 && errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			rc = poll(&pfd, 1, timeout * 1000);
			if (rc == 0) {
				saved = ETIMEDOUT;
				rc = -1;
			} else if (rc > 0) {
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &saved,
				    &slen);
				rc = saved == 0 ? 0 : -1;
			} else
				saved = errno;
		} else if (rc < 0)
			saved = errno;
		if (rc == 0) {
			static const int on = 1;

			fcntl(fd, F_SETFL, flags);
			/*
			 * libssh2 sends each SSH packet on its own: Nagle
			 * would hold a small one back until the one before is
			 * acknowledged, which the peer delays by 40 ms, a few
			 * times in each login.
			 */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof on);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		errno = saved;
		warn("%s: cannot connect:", u->where);
		*status = EX_TEMPFAIL;
	}
	return fd;
}

char *
sftp_fingerprint(LIBSSH2_SESSION *session)
{
	const char *hash = libssh2_hostkey_hash(session,
	    LIBSSH2_HOSTKEY_HASH_SHA256);
	unsigned char b64[64];
	int len;

	if (hash == NULL)
		return xstrdup("(no fingerprint)");
	len = EVP_EncodeBlock(b64, (const unsigned char *)hash, 32);
	while (len > 0 && b64[len - 1] == '=')
		len--;
	b64[len] = '\0';
	return xasprintf("SHA256:%s", b64);
}

/* Appends ",item" (or "item" to an empty list) while it fits. */
static void
list_add(char *list, size_t size, const char *item)
{
	size_t len = strlen(list);

	if (len + (len > 0) + strlen(item) >= size)
		return;
	if (len > 0)
		list[len++] = ',';
	strcpy(list + len, item);
}

static const struct {
	int knownhost;
	const char *methods;
} key_kinds[] = {
	{ LIBSSH2_KNOWNHOST_KEY_ED25519, "ssh-ed25519" },
	{ LIBSSH2_KNOWNHOST_KEY_ECDSA_256, "ecdsa-sha2-nistp256" },
	{ LIBSSH2_KNOWNHOST_KEY_ECDSA_384, "ecdsa-sha2-nistp384" },
	{ LIBSSH2_KNOWNHOST_KEY_ECDSA_521, "ecdsa-sha2-nistp521" },
	{ LIBSSH2_KNOWNHOST_KEY_SSHRSA, "rsa-sha2-512,rsa-sha2-256,ssh-rsa" },
};

static int
hostkey_knownhost_type(int type)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	}
	return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
}

/*
 * The host key types known_hosts holds for this host, as a method list
 * ("" for none): libssh2 answers "mismatch" for a made-up key exactly
 * when an entry of that type exists for the host.
 */
static void
known_key_types(const struct known_hosts *kh, const struct sftp_url *u,
    char *buf, size_t size)
{
	size_t i;

	*buf = '\0';
	for (i = 0; i < sizeof key_kinds / sizeof key_kinds[0]; i++) {
		int rc = known_hosts_check(kh, u->host, u->port, "AAAA",
		    4, LIBSSH2_KNOWNHOST_TYPE_PLAIN |
		    LIBSSH2_KNOWNHOST_KEYENC_BASE64 | key_kinds[i].knownhost);

		if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
			list_add(buf, size, key_kinds[i].methods);
	}
}

/* libssh2's names for METHOD (a LIBSSH2_METHOD_*), as a list in buf. */
static void
supported_list(LIBSSH2_SESSION *s, int method, char *buf, size_t size)
{
	const char **algs;
	int n = libssh2_session_supported_algs(s, method, &algs), i;

	*buf = '\0';
	for (i = 0; i < n; i++)
		list_add(buf, size, algs[i]);
	if (n > 0)
		libssh2_free(s, (void *)algs);
}

/* Whether name is an item of the comma-separated list. */
static int
list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p;

	for (p = list; (p = strstr(p, name)) != NULL; p += len)
		if ((p == list || p[-1] == ',') &&
		    (p[len] == '\0' || p[len] == ','))
			return 1;
	return 0;
}

/*
 * Like OpenSSH, ask the server for a host key of a type known_hosts holds
 * for this host first, so a server with several keys is not refused
 * because it offered another one first; then for the other types, so a
 * server that no longer has a key of a known type is refused for that
 * (status 77, with the fingerprint of the key it has now) instead of
 * failing the key exchange as if the network had. Only names this
 * libssh2 has: 1.10 strips others with an overlapping memcpy.
 */
static void
prefer_known_key_types(struct sftp_conn *c, const struct known_hosts *kh)
{
	char order[256], supported[512], prefs[256] = "";
	char *name, *save;
	size_t i;

	known_key_types(kh, c->url, order, sizeof order);
	if (order[0] == '\0')
		return;
	for (i = 0; i < sizeof key_kinds / sizeof key_kinds[0]; i++)
		if (strstr(order, key_kinds[i].methods) == NULL)
			list_add(order, sizeof order, key_kinds[i].methods);
	supported_list(c->session, LIBSSH2_METHOD_HOSTKEY, supported,
	    sizeof supported);
	for (name = strtok_r(order, ",", &save); name != NULL;
	    name = strtok_r(NULL, ",", &save))
		if (list_has(supported, name))
			list_add(prefs, sizeof prefs, name);
	if (prefs[0] != '\0')
		libssh2_session_method_pref(c->session, LIBSSH2_METHOD_HOSTKEY,
		    prefs);
}

static char *
known_hosts_path(const struct sftp_opts *o)
{
	const char *home = getenv("HOME");

	if (o->known_hosts != NULL)
		return xstrdup(o->known_hosts);
	if (home == NULL || *home == '\0')
		die(EX_CONFIG, "HOME is not set: give --known-hosts FILE");
	return xasprintf("%s/.ssh/known_hosts", home);
}

static int
verify_host_key(struct sftp_conn *c, const struct known_hosts *kh,
    const char *path)
{
	size_t len;
	int type, rc;
	const char *key = libssh2_session_hostkey(c->session, &len, &type);
	char *fp;

	if (key == NULL) {
		warn("%s: the server sent no host key", c->url->where);
		return EX_UNAVAILABLE;
	}
	/* Like OpenSSH: a revoked key is refused before any match counts. */
	if (known_hosts_revoked(kh, key, len)) {
		fp = sftp_fingerprint(c->session);
		warn("%s: REVOKED HOST KEY DETECTED: the server's key %s is "
		    "marked @revoked in %s; refusing to connect", c->url->where,
		    fp, path);
		free(fp);
		return EX_NOPERM;
	}
	rc = known_hosts_check(kh, c->url->host, c->url->port, key,
	    len, LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
	    hostkey_knownhost_type(type));
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return 0;
	fp = sftp_fingerprint(c->session);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		warn("%s: HOST KEY CHANGED: the server's key %s does not match "
		    "%s; refusing to connect", c->url->where, fp, path);
	else if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
		char known[256];

		known_key_types(kh, c->url, known, sizeof known);
		if (known[0] != '\0')
			warn("%s: unknown host key %s: the server offers "
			    "none of the key types %s holds for it (%s); "
			    "refusing to connect", c->url->where, fp, path,
			    known);
		else
			warn("%s: unknown host key %s: not in %s; refusing to "
			    "connect", c->url->where, fp, path);
	}
	else
		warn("%s: cannot check the host key %s against %s",
		    c->url->where, fp, path);
	free(fp);
	return EX_NOPERM;
}

/* Per thread: sftp-put logs in on several connections at once. */
static _Thread_local char *kbd_password;

static void
kbd_answer(const char *name, int name_len, const char *instruction,
    int instruction_len, int num_prompts,
    const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
    LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	int i;

	/* libssh2 frees the answers with its allocator, the default free */
	for (i = 0; i < num_prompts; i++) {
		responses[i].text = strdup(kbd_password);
		responses[i].length = responses[i].text != NULL ?
		    (unsigned int)strlen(kbd_password) : 0;
	}
}

/* A libssh2 failure during login: the network (75) or a refusal (77). */
static int
auth_error(int rc)
{
	switch (rc) {
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
	case LIBSSH2_ERROR_PASSWORD_EXPIRED:
	case LIBSSH2_ERROR_FILE:
	case LIBSSH2_ERROR_KEYFILE_AUTH_FAILED:
	case LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
	case LIBSSH2_ERROR_AGENT_PROTOCOL:
		return EX_NOPERM;
	}
	return EX_TEMPFAIL;
}

static int
try_agent(struct sftp_conn *c, int *status)
{
	LIBSSH2_AGENT *agent = libssh2_agent_init(c->session);
	struct libssh2_agent_publickey *id, *prev = NULL;
	int ok = 0, rc;

	if (agent == NULL)
		return 0;
	if (libssh2_agent_connect(agent) != 0 ||
	    libssh2_agent_list_identities(agent) != 0) {
		libssh2_agent_free(agent);
		return 0;
	}
	while (!ok && libssh2_agent_get_identity(agent, &id, prev) == 0) {
		rc = libssh2_agent_userauth(agent, c->url->user, id);
		if (rc == 0)
			ok = 1;
		else if (auth_error(rc) == EX_TEMPFAIL &&
		    rc != LIBSSH2_ERROR_AGENT_PROTOCOL) {
			*status = EX_TEMPFAIL;
			break;
		}
		prev = id;
	}
	libssh2_agent_disconnect(agent);
	libssh2_agent_free(agent);
	return ok;
}

/* Key (-i), then ssh-agent when no key is given, then the password. */
static int
authenticate(struct sftp_conn *c)
{
	const struct sftp_url *u = c->url;
	const char *methods;
	char *password, *passphrase, tried[64] = "";
	int rc, status = 0;

	methods = libssh2_userauth_list(c->session, u->user,
	    (unsigned int)strlen(u->user));
	if (methods == NULL) {
		if (libssh2_userauth_authenticated(c->session))
			return 0;
		return sftp_fail(c, "cannot start the login");
	}
	password = secret_get("SFTP_PASSWORD");
	if (c->opts->key_file != NULL && strstr(methods, "publickey")) {
		passphrase = secret_get("SFTP_KEY_PASSPHRASE");
		strcat(tried, "publickey");
		rc = libssh2_userauth_publickey_fromfile_ex(c->session,
		    u->user, (unsigned int)strlen(u->user), NULL,
		    c->opts->key_file, passphrase);
		secret_free(passphrase);
		if (rc == 0)
			goto done;
		if (rc == LIBSSH2_ERROR_FILE) {
			warn("%s: cannot use the key (wrong passphrase in "
			    "SFTP_KEY_PASSPHRASE, or a key format libssh2 "
			    "does not read)", c->opts->key_file);
		} else if (auth_error(rc) == EX_TEMPFAIL) {
			status = sftp_fail(c, "login");
			goto done;
		}
	} else if (c->opts->key_file == NULL && getenv("SSH_AUTH_SOCK") &&
	    strstr(methods, "publickey")) {
		strcat(tried, "ssh-agent");
		if (try_agent(c, &status) || status != 0)
			goto done;
	}
	if (password != NULL && strstr(methods, "password")) {
		strcat(tried, tried[0] ? ", password" : "password");
		rc = libssh2_userauth_password_ex(c->session, u->user,
		    (unsigned int)strlen(u->user), password,
		    (unsigned int)strlen(password), NULL);
		if (rc == 0)
			goto done;
		if (auth_error(rc) == EX_TEMPFAIL) {
			status = sftp_fail(c, "login");
			goto done;
		}
	} else if (password != NULL && strstr(methods, "keyboard-interactive")) {
		strcat(tried, tried[0] ? ", keyboard-interactive" :
		    "keyboard-interactive");
		kbd_password = password;
		rc = libssh2_userauth_keyboard_interactive_ex(c->session,
		    u->user, (unsigned int)strlen(u->user), kbd_answer);
		kbd_password = NULL;
		if (rc == 0)
			goto done;
		if (auth_error(rc) == EX_TEMPFAIL) {
			status = sftp_fail(c, "login");
			goto done;
		}
	}
	if (tried[0] == '\0') {
		if (c->opts->key_file == NULL && password == NULL &&
		    getenv("SSH_AUTH_SOCK") == NULL) {
			warn("%s: no credentials: give -i KEY, set "
			    "SFTP_PASSWORD or SFTP_PASSWORD_FILE, or run "
			    "ssh-agent", u->where);
			status = EX_CONFIG;
		} else {
			warn("%s: the server accepts only %s", u->where,
			    methods);
			status = EX_NOPERM;
		}
	} else {
		warn("%s: login refused (tried %s)", u->where, tried);
		status = EX_NOPERM;
	}
done:
	secret_free(password);
	if (status == 0 && !libssh2_userauth_authenticated(c->session))
		status = EX_NOPERM;
	return status;
}

/* Ciphers that are fast with AES-NI first. */
#define CIPHERS	"aes128-ctr,aes256-ctr,aes192-ctr,aes128-cbc,aes256-cbc"

/*
 * libssh2 fails the handshake with LIBSSH2_ERROR_KEX_FAILURE when the two
 * sides' lists of key exchanges, host key types, ciphers or MACs have
 * nothing in common (a dropped connection is another error): a setting
 * of the server that no retry cures. Says what this end offers, so the
 * server's owner can compare it with theirs (sshd -T).
 */
static void
no_common_methods(struct sftp_conn *c)
{
	static const int kinds[] = {
		LIBSSH2_METHOD_MAC_CS, LIBSSH2_METHOD_HOSTKEY, LIBSSH2_METHOD_KEX
	};
	char lists[3][512];
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		supported_list(c->session, kinds[i], lists[i],
		    sizeof lists[i]);
	warn("%s: SSH handshake: no key exchange, host key type, cipher or "
	    "MAC in common with the server; this end (libssh2 %s) offers "
	    "ciphers %s; MACs %s; host key types %s; key exchanges %s",
	    c->url->where, libssh2_version(0), CIPHERS, lists[0], lists[1],
	    lists[2]);
}

int
sftp_open(struct sftp_conn *c, const struct sftp_url *u,
    const struct sftp_opts *o)
{
	struct known_hosts kh;
	char *kh_path;
	int status = 0, rc;

	memset(c, 0, sizeof *c);
	c->url = u;
	c->opts = o;
	c->sock = tcp_connect(u, o->timeout, &status);
	if (c->sock < 0)
		return status;
	c->session = libssh2_session_init();
	if (c->session == NULL)
		die(EX_SOFTWARE, "libssh2_session_init failed");
	libssh2_session_set_blocking(c->session, 1);
	libssh2_session_set_timeout(c->session, (long)o->timeout * 1000);
	kh_path = known_hosts_path(o);
	if (known_hosts_load(c->session, kh_path, &kh) != 0) {
		free(kh_path);
		sftp_close(c);
		return EX_CONFIG;
	}
	prefer_known_key_types(c, &kh);
	libssh2_session_method_pref(c->session, LIBSSH2_METHOD_CRYPT_CS,
	    CIPHERS);
	libssh2_session_method_pref(c->session, LIBSSH2_METHOD_CRYPT_SC,
	    CIPHERS);
	rc = libssh2_session_handshake(c->session, c->sock);
	if (rc == LIBSSH2_ERROR_KEX_FAILURE) {
		no_common_methods(c);
		status = EX_UNAVAILABLE;
	} else if (rc != 0) {
		status = sftp_fail(c, "SSH handshake");
		if (status != EX_TEMPFAIL)
			status = EX_UNAVAILABLE;
	} else if ((status = verify_host_key(c, &kh, kh_path)) != 0)
		c->host_key_refused = 1;
	known_hosts_free(&kh);
	free(kh_path);
	if (status == 0)
		status = authenticate(c);
	if (status == 0) {
		c->sftp = libssh2_sftp_init(c->session);
		if (c->sftp == NULL) {
			status = sftp_fail(c, "cannot start SFTP");
			if (status != EX_TEMPFAIL)
				status = EX_UNAVAILABLE;
		}
	}
	if (status != 0)
		sftp_close(c);
	return status;
}

void
sftp_close(struct sftp_conn *c)
{
	if (c->sftp != NULL)
		libssh2_sftp_shutdown(c->sftp);
	c->sftp = NULL;
	if (c->session != NULL) {
		/* A short timeout: the server may be gone already. */
		libssh2_session_set_timeout(c->session, 2000);
		libssh2_session_disconnect(c->session, "done");
		libssh2_session_free(c->session);
	}
	c->session = NULL;
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

static const char *
sftp_status_text(unsigned long code)
{
	static const char *const text[] = {
		"ok", "end of file", "no such file or directory",
		"permission denied", "failure", "bad message",
		"no connection", "connection lost", "operation unsupported",
		"invalid handle", "no such path", "file already exists",
		"write protected", "no media", "no space on the filesystem",
		"quota exceeded", "unknown principal", "lock conflict",
		"directory not empty", "not a directory", "invalid file name",
		"link loop",
	};

	if (code < sizeof text / sizeof text[0])
		return text[code];
	return "unknown SFTP status";
}

static int
session_errno(struct sftp_conn *c, char **msg)
{
	*msg = NULL;
	if (c->session == NULL)
		return LIBSSH2_ERROR_SOCKET_DISCONNECT;
	return libssh2_session_last_error(c->session, msg, NULL, 0);
}

int
sftp_transient(struct sftp_conn *c)
{
	char *msg;
	int rc = session_errno(c, &msg);

	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && c->sftp != NULL) {
		unsigned long code = libssh2_sftp_last_error(c->sftp);

		return code == LIBSSH2_FX_NO_CONNECTION ||
		    code == LIBSSH2_FX_CONNECTION_LOST;
	}
	switch (rc) {
	case LIBSSH2_ERROR_SOCKET_NONE:
	case LIBSSH2_ERROR_BANNER_RECV:
	case LIBSSH2_ERROR_BANNER_SEND:
	case LIBSSH2_ERROR_SOCKET_SEND:
	case LIBSSH2_ERROR_SOCKET_RECV:
	case LIBSSH2_ERROR_SOCKET_DISCONNECT:
	case LIBSSH2_ERROR_SOCKET_TIMEOUT:
	case LIBSSH2_ERROR_TIMEOUT:
	case LIBSSH2_ERROR_CHANNEL_CLOSED:
	case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
	case LIBSSH2_ERROR_CHANNEL_FAILURE:
	case LIBSSH2_ERROR_KEY_EXCHANGE_FAILURE:
	case LIBSSH2_ERROR_BAD_SOCKET:
	case LIBSSH2_ERROR_EAGAIN:
		return 1;
	}
	return 0;
}

int
sftp_fail(struct sftp_conn *c, const char *what)
{
	char *msg;
	int rc = session_errno(c, &msg);

	if (rc == LIBSSH2_ERROR_SFTP_PROTOCOL && c->sftp != NULL) {
		unsigned long code = libssh2_sftp_last_error(c->sftp);

		warn("%s: %s: %s", c->url->where, what,
		    sftp_status_text(code));
		switch (code) {
		case LIBSSH2_FX_PERMISSION_DENIED:
		case LIBSSH2_FX_WRITE_PROTECT:
			return EX_NOPERM;
		case LIBSSH2_FX_NO_SUCH_FILE:
		case LIBSSH2_FX_NO_SUCH_PATH:
			return EX_NOINPUT;
		case LIBSSH2_FX_NO_CONNECTION:
		case LIBSSH2_FX_CONNECTION_LOST:
			return EX_TEMPFAIL;
		case LIBSSH2_FX_OP_UNSUPPORTED:
			return EX_UNAVAILABLE;
		}
		return EX_IOERR;
	}
	if (sftp_transient(c)) {
		warn("%s: %s: connection lost or timed out (%s)",
		    c->url->where, what, msg != NULL && *msg ? msg :
		    "no detail");
		return EX_TEMPFAIL;
	}
	warn("%s: %s: %s", c->url->where, what,
	    msg != NULL && *msg ? msg : "failed");
	return EX_UNAVAILABLE;
}

int
sftp_mkdir_p(struct sftp_conn *c, const char *dir, long mode)
{
	LIBSSH2_SFTP_ATTRIBUTES st;
	char *path = xstrdup(dir), *p;
	int status = 0;

	/* Each prefix in turn: "a", "a/b", ... (or "/a", "/a/b"). */
	for (p = path + (*path == '/'); ; p++) {
		char saved = *p;

		if (saved != '/' && saved != '\0')
			continue;
		*p = '\0';
		if (p > path && p[-1] != '/' && strcmp(path, ".") != 0 &&
		    libssh2_sftp_stat(c->sftp, path, &st) != 0) {
			if (libssh2_sftp_mkdir(c->sftp, path, mode) != 0 &&
			    libssh2_sftp_stat(c->sftp, path, &st) != 0) {
				char *what = xasprintf("mkdir %s", path);

				status = sftp_fail(c, what);
				free(what);
				break;
			}
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	free(path);
	return status;
}

/* Writes all of buf to the SFTP channel. */
static int
channel_write_all(LIBSSH2_CHANNEL *ch, const unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = libssh2_channel_write(ch, (const char *)buf, len);

		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
channel_read_all(LIBSSH2_CHANNEL *ch, unsigned char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = libssh2_channel_read(ch, (char *)buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static unsigned char *
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static unsigned char *
put_str(unsigned char *p, const char *s)
{
	size_t len = strlen(s);

	p = put_u32(p, (uint32_t)len);
	memcpy(p, s, len);
	return p + len;
}

/*
 * posix-rename@openssh.com. libssh2 1.11 has it
 * (libssh2_sftp_posix_rename_ex); 1.10, Debian 12's, does not, so this one
 * request is sent on the SFTP channel directly while no other request is
 * outstanding: libssh2 reads SFTP replies only inside its own calls and
 * never past the packet it wants, so it never sees this one. Returns the
 * SFTP status code, or -1 when the channel failed.
 */
static long
posix_rename(struct sftp_conn *c, const char *from, const char *to)
{
#if LIBSSH2_VERSION_NUM >= 0x010b00
	if (libssh2_sftp_posix_rename_ex(c->sftp, from, strlen(from), to,
	    strlen(to)) == 0)
		return LIBSSH2_FX_OK;
	char *msg;

	return session_errno(c, &msg) == LIBSSH2_ERROR_SFTP_PROTOCOL ?
	    (long)libssh2_sftp_last_error(c->sftp) : -1;
#else
	static const char ext[] = "posix-rename@openssh.com";
	LIBSSH2_CHANNEL *ch = libssh2_sftp_get_channel(c->sftp);
	size_t len = 4 + 1 + 4 + 4 + strlen(ext) + 4 + strlen(from) + 4 +
	    strlen(to);
	unsigned char *pkt = xmalloc(len), *p, hdr[4], reply[512];
	const uint32_t id = 0x7ffffff0u;
	uint32_t rlen;
	int rc;

	p = put_u32(pkt, (uint32_t)(len - 4));
	*p++ = 200;	/* SSH_FXP_EXTENDED */
	p = put_u32(p, id);
	p = put_str(p, ext);
	p = put_str(p, from);
	put_str(p, to);
	rc = channel_write_all(ch, pkt, len);
	free(pkt);
	if (rc != 0 || channel_read_all(ch, hdr, 4) != 0)
		return -1;
	rlen = get_u32(hdr);
	if (rlen < 9 || rlen > sizeof reply)
		return -1;
	if (channel_read_all(ch, reply, rlen) != 0)
		return -1;
	/* SSH_FXP_STATUS (101), our id, the code */
	if (reply[0] != 101 || get_u32(reply + 1) != id)
		return -1;
	return (long)get_u32(reply + 5);
#endif
}

int
sftp_rename(struct sftp_conn *c, const char *from, const char *to,
    int no_clobber)
{
	LIBSSH2_SFTP_ATTRIBUTES st;
	long code;

	if (no_clobber) {
		/* SFTP v3 rename refuses an existing target (OpenSSH: link
		 * then unlink, atomic). */
		if (libssh2_sftp_rename_ex(c->sftp, from,
		    (unsigned int)strlen(from), to, (unsigned int)strlen(to),
		    0) == 0)
			return 0;
		if (!sftp_transient(c) &&
		    libssh2_sftp_lstat(c->sftp, to, &st) == 0)
			return EEXIST;
		return -1;
	}
	if (!c->no_posix_rename) {
		code = posix_rename(c, from, to);
		if (code == LIBSSH2_FX_OK)
			return 0;
		if (code < 0) {
			/* Leave libssh2 a reason sftp_fail can report. */
			if (libssh2_session_last_errno(c->session) == 0)
				libssh2_session_set_last_error(c->session,
				    LIBSSH2_ERROR_SOCKET_RECV,
				    "no reply to posix-rename");
			return -1;
		}
		if (code != LIBSSH2_FX_OP_UNSUPPORTED) {
			/* Report it through the usual path. */
			libssh2_sftp_rename_ex(c->sftp, from,
			    (unsigned int)strlen(from), to,
			    (unsigned int)strlen(to), 0);
			return -1;
		}
		c->no_posix_rename = 1;
	}
	/* No atomic replacement on this server: the final name is briefly
	 * absent, never partial. */
	if (libssh2_sftp_rename_ex(c->sftp, from, (unsigned int)strlen(from),
	    to, (unsigned int)strlen(to), LIBSSH2_SFTP_RENAME_OVERWRITE |
	    LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE) == 0)
		return 0;
	if (sftp_transient(c) || libssh2_sftp_lstat(c->sftp, to, &st) != 0)
		return -1;
	if (libssh2_sftp_unlink(c->sftp, to) != 0)
		return -1;
	return libssh2_sftp_rename_ex(c->sftp, from,
	    (unsigned int)strlen(from), to, (unsigned int)strlen(to), 0) == 0 ?
	    0 : -1;
}

int
sftp_fsync(struct sftp_conn *c, LIBSSH2_SFTP_HANDLE *h)
{
	char *msg;

	if (c->no_fsync)
		return 0;
	if (libssh2_sftp_fsync(h) == 0)
		return 0;
	if (session_errno(c, &msg) == LIBSSH2_ERROR_SFTP_PROTOCOL &&
	    libssh2_sftp_last_error(c->sftp) == LIBSSH2_FX_OP_UNSUPPORTED) {
		c->no_fsync = 1;
		return 0;
	}
	return -1;
}

/* Sleeps before retry number attempt (1, 2, 4... seconds, at most 60). */
static void
backoff(int attempt)
{
	unsigned int secs = 1;
	struct timespec ts;

	while (--attempt > 0 && secs < 60)
		secs *= 2;
	ts.tv_sec = secs > 60 ? 60 : secs;
	ts.tv_nsec = 0;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
sftp_ensure_open(struct sftp_conn *c, const struct sftp_url *u,
    const struct sftp_opts *o)
{
	if (c->sftp != NULL)
		return 0;
	return sftp_open(c, u, o);
}

int
sftp_retry(struct sftp_conn *c, int status, int *attempt)
{
	if (status != EX_TEMPFAIL || *attempt >= c->opts->retries)
		return 0;
	(*attempt)++;
	sftp_close(c);
	warn("%s: retry %d of %d", c->url->where, *attempt, c->opts->retries);
	backoff(*attempt);
	return 1;
}
