/* The upstream SCRAM client on hostile server messages: the input is
 * server-first-message, a NUL, then server-final-message.  Whatever
 * server-first it accepts must carry an iteration count within the bounds
 * and a salt of 1..SCRAM_SALT_MAX bytes; server-final may only verify
 * after client-final was built, and at most once.  (SaltedPassword is a
 * fixed key here: PBKDF2 would only slow the fuzzer down.) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/scram.h"

#define NONCE "fuzzclientnonce"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memchr(data, '\0', size);
	size_t first_len = sep ? (size_t)(sep - data) : size;
	const char *final = sep ? (const char *)sep + 1 : "";
	size_t final_len = sep ? size - first_len - 1 : 0;
	uint8_t salted[SCRAM_KEY_LEN] = {0};
	struct scram_kdf kdf;
	struct scram *s = NULL;
	char buf[2 * SCRAM_MSG_MAX];
	size_t n;
	int rc;

	if (scram_new_fixed("pencil", "", NONCE, &s) != 0)
		return 0;
	if (scram_client_first(s, buf, sizeof(buf), &n) != 0)
		abort();
	rc = scram_server_first(s, (const char *)data, first_len, &kdf);
	if (rc == 0) {
		if (kdf.iterations < SCRAM_ITER_MIN ||
		    kdf.iterations > SCRAM_ITER_MAX || kdf.saltlen == 0 ||
		    kdf.saltlen > SCRAM_SALT_MAX)
			abort();
		if (scram_client_final(s, salted, buf, sizeof(buf), &n) != 0 ||
		    n != strlen(buf) || strncmp(buf, "c=biws,r=" NONCE, 24))
			abort();
	}
	if (scram_verify_final(s, final, final_len) == 0) {
		if (rc != 0 || !scram_verified(s))
			abort();
		/* one verification per exchange */
		if (scram_verify_final(s, final, final_len) == 0)
			abort();
	} else if (scram_verified(s)) {
		abort();
	}
	scram_free(s);
	return 0;
}
