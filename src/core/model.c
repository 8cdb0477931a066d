#include "core/model.h"

#include <string.h>

const struct resource_cfg *config_resource(const struct config *cfg,
					   const char *name)
{
	for (size_t i = 0; i < cfg->nresources; i++)
		if (strcmp(cfg->resources[i].name, name) == 0)
			return &cfg->resources[i];
	return NULL;
}

const struct role_cfg *config_role(const struct resource_cfg *res,
				   const char *role)
{
	for (size_t i = 0; i < res->nroles; i++)
		if (strcmp(res->roles[i].name, role) == 0)
			return &res->roles[i];
	return NULL;
}

unsigned config_upstream_auth(const struct resource_cfg *res,
			      const struct role_cfg *role)
{
	if (role && role->upstream_auth)
		return role->upstream_auth;
	return res->upstream_auth ? res->upstream_auth : UPSTREAM_AUTH_SCRAM;
}

const struct policy_cfg *config_policy(const struct config *cfg,
				       const char *name)
{
	for (size_t i = 0; i < cfg->npolicies; i++)
		if (strcmp(cfg->policies[i].name, name) == 0)
			return &cfg->policies[i];
	return NULL;
}
