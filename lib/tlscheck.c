/* tlscheck.c: telling a refused certificate from a failed TLS handshake */
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <sysexits.h>

#include "tlscheck.h"

/* The first refusal in this thread's transfer; curl runs the callback in
 * the thread that calls curl_easy_perform. */
static _Thread_local long refusal = X509_V_OK;

static int
on_verify(int ok, X509_STORE_CTX *store)
{
	if (!ok && refusal == X509_V_OK)
		refusal = X509_STORE_CTX_get_error(store);
	return ok;
}

/* curl has set the verify mode already; only the callback is ours. */
static CURLcode
on_ssl_ctx(CURL *c, void *ssl_ctx, void *arg)
{
	SSL_CTX *ctx = ssl_ctx;

	SSL_CTX_set_verify(ctx, SSL_CTX_get_verify_mode(ctx), on_verify);
	return CURLE_OK;
}

void
tls_watch(CURL *c)
{
	refusal = X509_V_OK;
	curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
}

const char *
tls_verify_failure(CURL *c)
{
	long result = X509_V_OK;

	if (refusal != X509_V_OK)
		return X509_verify_cert_error_string(refusal);
	/* curl's "not verified yet" is X509_V_ERR_UNSPECIFIED: not a refusal */
	if (curl_easy_getinfo(c, CURLINFO_SSL_VERIFYRESULT, &result) !=
	    CURLE_OK || result == X509_V_OK ||
	    result == X509_V_ERR_UNSPECIFIED)
		return NULL;
	return X509_verify_cert_error_string(result);
}

int
curl_exit_status(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return EX_UNAVAILABLE;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return EX_NOPERM;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return EX_CONFIG;
	case CURLE_OUT_OF_MEMORY:
		return EX_OSERR;
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_READ_ERROR:
	case CURLE_WRITE_ERROR:
		return EX_IOERR;
	default:
		return EX_TEMPFAIL;
	}
}
