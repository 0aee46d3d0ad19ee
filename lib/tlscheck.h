/* tlscheck.h: telling a refused certificate from a failed TLS handshake */
#ifndef SCHEDFEED_TLSCHECK_H
#define SCHEDFEED_TLSCHECK_H

#include <curl/curl.h>

/*
 * Before each curl_easy_perform on c: has OpenSSL tell us, through a
 * verify callback, why it refused the peer's certificate, and forgets
 * what the last transfer recorded.
 */
void tls_watch(CURL *c);
/*
 * Why the peer's certificate failed verification in c's last transfer
 * ("certificate signature failure"), or NULL when it did not fail. curl
 * reports some refusals (a forged signature) as a failed handshake,
 * CURLE_SSL_CONNECT_ERROR, with CURLINFO_SSL_VERIFYRESULT still at its
 * "not verified yet" value; they must not be retried as if the network
 * had failed.
 */
const char *tls_verify_failure(CURL *c);
/*
 * The exit status for a transfer that got no HTTP answer, by curl's code:
 * 69 an unknown host, 77 a certificate refused, 78 a bad URL, 74 a read
 * or write callback that failed, 75 anything worth a retry (connect,
 * send, receive, timeout, a dropped connection). A refusal curl calls a
 * handshake failure is told by tls_verify_failure, not here.
 */
int curl_exit_status(CURLcode rc);

#endif
