/* jwt.c: RS256 JSON Web Tokens, signed through OpenSSL's EVP interface */
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "jwt.h"
#include "mem.h"

char *
base64_encode(const unsigned char *data, size_t len)
{
	char *out = xmalloc(4 * ((len + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* RFC 7515 base64url: '+' '/' become '-' '_', no '=' padding. */
static char *
base64url_encode(const unsigned char *data, size_t len)
{
	char *out = base64_encode(data, len), *p;

	for (p = out; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=') {
			*p = '\0';
			break;
		}
	}
	return out;
}

char *
random_hex(size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char *raw = xmalloc(len);
	char *hex = xmalloc(2 * len + 1);

	if (RAND_bytes(raw, (int)len) != 1)
		die(EX_SOFTWARE, "the random number generator failed");
	for (size_t i = 0; i < len; i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[2 * len] = '\0';
	free(raw);
	return hex;
}

static EVP_PKEY *
read_key(const char *pem, const char *passphrase)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key;

	if (bio == NULL)
		return NULL;
	/* With no callback, OpenSSL takes u as the NUL-terminated password. */
	key = PEM_read_bio_PrivateKey(bio, NULL, NULL,
	    (void *)(passphrase != NULL ? passphrase : ""));
	BIO_free(bio);
	return key;
}

char *
jwt_sign_rs256(const char *pem, const char *passphrase, const char *kid,
    const char *claims, const char **why)
{
	EVP_PKEY *key;
	EVP_MD_CTX *ctx = NULL;
	json_t *header;
	char *header_text, *h64, *c64, *input, *s64, *token = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;

	key = read_key(pem, passphrase);
	if (key == NULL) {
		ERR_clear_error();
		*why = "cannot read the private key (wrong passphrase, or not "
		    "a PEM key)";
		return NULL;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		*why = "the private key is not an RSA key";
		return NULL;
	}
	header = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT",
	    "kid", kid);
	header_text = json_dumps(header, JSON_COMPACT);
	json_decref(header);
	if (header_text == NULL)
		die(EX_SOFTWARE, "cannot encode the JWT header");
	h64 = base64url_encode((unsigned char *)header_text,
	    strlen(header_text));
	c64 = base64url_encode((const unsigned char *)claims, strlen(claims));
	free(header_text);
	input = xasprintf("%s.%s", h64, c64);
	free(h64);
	free(c64);

	ctx = EVP_MD_CTX_new();
	if (ctx == NULL ||
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(ctx, NULL, &sig_len, (unsigned char *)input,
	    strlen(input)) != 1)
		goto fail;
	sig = xmalloc(sig_len);
	if (EVP_DigestSign(ctx, sig, &sig_len, (unsigned char *)input,
	    strlen(input)) != 1)
		goto fail;
	s64 = base64url_encode(sig, sig_len);
	token = xasprintf("%s.%s", input, s64);
	free(s64);
	goto out;
fail:
	ERR_clear_error();
	*why = "cannot sign with the private key";
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(sig);
	free(input);
	return token;
}
