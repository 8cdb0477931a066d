/* Fuzzes util/jsonfast against json_loadb: whenever the fast path builds
 * a value, json_loadb(JSON_REJECT_DUPLICATES) must accept the same bytes
 * and build an equal value (the fast path may decline anything, never
 * accept what json_loadb refuses or build something else). */
#include <stdint.h>
#include <stdlib.h>

#include "util/jsonfast.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *fast = jsonfast_parse((const char *)data, size);
	json_t *ref, *both;

	if (fast == NULL)
		return 0;
	ref = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (ref == NULL || !json_equal(fast, ref))
		abort();
	/* jsonfast_load hands back the same value */
	both = jsonfast_load((const char *)data, size, NULL);
	if (both == NULL || !json_equal(both, ref))
		abort();
	json_decref(both);
	json_decref(ref);
	json_decref(fast);
	return 0;
}
