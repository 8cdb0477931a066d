/* Fuzzes JWKS / JWK parsing into OpenSSL keys, with skip reporting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jwk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_skip(void *ctx, size_t index, const char *kid, const char *reason)
{
	size_t *n = ctx;

	(void)index;
	(void)kid;
	if (!reason || !*reason)
		abort();
	(*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwks *set = NULL;
	size_t skipped = 0;

	for (int single = 0; single < 2; single++) {
		if (jwks_parse((const char *)data, size, single, on_skip, &skipped, &set) == 0) {
			for (size_t i = 0; i < jwks_count(set); i++) {
				const struct jwk *k = jwks_at(set, i);

				if (!k->pkey || !k->algs || k->sig_len == 0)
					abort();
				if (k->kid && jwks_find(set, k->kid, JWS_ES256) == NULL)
					abort();
			}
			jwks_unref(set);
			set = NULL;
		}
	}
	return 0;
}
