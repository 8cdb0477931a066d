#include "api/weblogin.h"

#include "api/api_internal.h"

void weblogin_start(struct conn *c)
{
	conn_error(c, 404, "not_found", "sign-in at the IdP is not configured (web.oidc_client_id)");
}

void weblogin_callback(struct conn *c, const char *url)
{
	(void)url;
	conn_error(c, 404, "not_found", "sign-in at the IdP is not configured (web.oidc_client_id)");
}
