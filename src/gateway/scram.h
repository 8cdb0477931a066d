/* Client side of the upstream login: SCRAM-SHA-256 (RFC 5802/7677, no
 * channel binding) and PostgreSQL's md5 scheme.  Pure computation: the
 * session feeds server messages in and sends what comes out. */
#ifndef JG_GATEWAY_SCRAM_H
#define JG_GATEWAY_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SCRAM_MSG_MAX 1024 /* any legitimate SCRAM message is far shorter */
/* Bounds on the PBKDF2 work a server may ask.  Below RFC 7677's 4096 a
 * captured proof is cheap to brute-force; above 1,000,000 (about half a
 * second of CPU here) it is a denial of service, not a setting. */
#define SCRAM_ITER_MIN 4096
#define SCRAM_ITER_MAX 1000000
#define SCRAM_SALT_MAX 128
#define SCRAM_KEY_LEN 32
#define SCRAM_CBIND_MAX 64 /* a certificate hash, up to SHA-512 */

struct scram;

/* What the key derivation needs, taken from server-first-message. */
struct scram_kdf {
	uint8_t salt[SCRAM_SALT_MAX];
	size_t saltlen;
	int iterations;
};

/* Starts an exchange for password (copied, wiped on free).  Caller frees. */
int scram_new(const char *password, struct scram **out) JG_WUR;
/* Tests (RFC 7677 vectors): a fixed user name and client nonce instead of
 * the empty name PostgreSQL expects and a random nonce. */
int scram_new_fixed(const char *password, const char *user,
		    const char *nonce, struct scram **out) JG_WUR;
void scram_free(struct scram *s);
/* Channel binding (RFC 5802 gs2 header), before scram_client_first:
 * 'n' none (the default), 'y' the client could bind but the server did
 * not offer SCRAM-SHA-256-PLUS (a server that did would see a downgrade),
 * 'p' tls-server-end-point with data = the hash of the server's
 * certificate (RFC 5929), len 1..SCRAM_CBIND_MAX. */
int scram_set_channel_binding(struct scram *s, char flag,
			      const uint8_t *data, size_t len) JG_WUR;
/* client-first-message ("n,,n=,r=NONCE") into buf; *len set. */
int scram_client_first(struct scram *s, char *buf, size_t buflen,
		       size_t *len) JG_WUR;
/* Takes server-first-message: the nonce must extend ours and the
 * iteration count lie in SCRAM_ITER_MIN..MAX (JG_ERR_TOOBIG outside).
 * Fills kdf for scram_salted_password. */
int scram_server_first(struct scram *s, const char *server_first,
		       size_t len, struct scram_kdf *kdf) JG_WUR;
/* SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations).  Slow
 * on purpose: never call it on an event loop (gateway/kdfpool.h runs it on
 * worker threads).  Thread-safe; touches no struct scram. */
int scram_salted_password(const char *password, const struct scram_kdf *kdf,
			  uint8_t out[SCRAM_KEY_LEN]) JG_WUR;
/* client-final-message from SaltedPassword (HMACs only, cheap).  Keeps the
 * expected server signature for scram_verify_final. */
int scram_client_final(struct scram *s, const uint8_t salted[SCRAM_KEY_LEN],
		       char *buf, size_t buflen, size_t *len) JG_WUR;
/* Verifies server-final-message "v=ServerSignature" in constant time: 0
 * when the server proved it knows the password verifier; JG_ERR_AUTH for a
 * wrong or missing signature, JG_ERR_FORBIDDEN for an "e=" error.  Call
 * once; a later call fails. */
int scram_verify_final(struct scram *s, const char *server_final,
		       size_t len) JG_WUR;
/* True once scram_verify_final succeeded. */
bool scram_verified(const struct scram *s);

/* "md5" + hex(md5(hex(md5(password + user)) + salt)) into out (36 bytes
 * with NUL). */
void scram_md5_password(const char *user, const char *password,
			const uint8_t salt[4], char out[36]);

#endif
