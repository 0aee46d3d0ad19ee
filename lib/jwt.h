/* jwt.h: RS256-signed JSON Web Tokens (RFC 7519) with OpenSSL */
#ifndef SCHEDFEED_JWT_H
#define SCHEDFEED_JWT_H

#include <stddef.h>

/*
 * Signs header {"alg":"RS256","typ":"JWT","kid":kid} and the JSON text
 * claims with the PEM private key (PKCS#8, encrypted when passphrase is
 * not NULL). Returns the compact token (free it), or NULL with a short
 * reason in *why (a static string) when the key cannot be read or used.
 */
char *jwt_sign_rs256(const char *pem, const char *passphrase,
    const char *kid, const char *claims, const char **why);
/* Standard base64 of len bytes into a fresh string (no newlines). */
char *base64_encode(const unsigned char *data, size_t len);
/* Lowercase hex of len random bytes into a fresh string (for jti). */
char *random_hex(size_t len);

#endif
