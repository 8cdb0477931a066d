/* Client side of the upstream login: SCRAM-SHA-256 (RFC 5802/7677, no
 * channel binding) and PostgreSQL's md5 scheme.  Pure computation: the
 * session feeds server messages in and sends what comes out. */
#ifndef JG_GATEWAY_SCRAM_H
#define JG_GATEWAY_SCRAM_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define SCRAM_MSG_MAX 1024 /* any legitimate SCRAM message is far shorter */
#define SCRAM_ITER_MAX 1000000 /* bound the PBKDF2 work a server may ask */

struct scram;

/* Starts an exchange for password (copied, wiped on free).  Caller frees. */
int scram_new(const char *password, struct scram **out) JG_WUR;
void scram_free(struct scram *s);
/* client-first-message ("n,,n=,r=NONCE") into buf; *len set. */
int scram_client_first(struct scram *s, char *buf, size_t buflen,
		       size_t *len) JG_WUR;
/* Takes server-first-message, writes client-final-message. */
int scram_client_final(struct scram *s, const char *server_first,
		       size_t server_first_len, char *buf, size_t buflen,
		       size_t *len) JG_WUR;
/* Verifies server-final-message (the server's signature): 0 when the
 * server proved it knows the password verifier, JG_ERR_AUTH otherwise. */
int scram_verify_final(struct scram *s, const char *server_final,
		       size_t len) JG_WUR;

/* "md5" + hex(md5(hex(md5(password + user)) + salt)) into out (36 bytes
 * with NUL). */
void scram_md5_password(const char *user, const char *password,
			const uint8_t salt[4], char out[36]);

#endif
