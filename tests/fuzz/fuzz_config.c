/* Fuzz target: the config loader (YAML → typed, validated config).  Any
 * input must end in a complete config or an error message, never a crash,
 * leak or unbounded allocation. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	char err[256];

	if (config_parse("fuzz.yaml", (const char *)data, size, &cfg, err,
			 sizeof(err)) == 0) {
		/* Exercise the lookups over what was built. */
		for (size_t i = 0; i < cfg->npolicies; i++)
			(void)config_policy(cfg, cfg->policies[i].name);
		for (size_t i = 0; i < cfg->nresources; i++)
			(void)config_role(config_resource(cfg,
							  cfg->resources[i].name),
					  "read");
		config_free(cfg);
	} else if (cfg != NULL || memchr(err, ':', sizeof(err)) == NULL) {
		__builtin_trap(); /* failure must leave nothing and say why */
	}
	return 0;
}
