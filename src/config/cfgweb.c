#include "config/cfgweb.h"

#include <stdlib.h>
#include <string.h>

#define SESSION_TTL_DEFAULT_S (12 * 3600)
#define SESSION_TTL_MIN_S 60
#define SESSION_TTL_MAX_S (30 * 24 * 3600)
#define PUBLIC_URL_MAX 512
#define CLIENT_ID_MAX 256

/* scheme://host[:port] with an optional trailing "/": the origin the
 * browser sees.  A path would put the app and its cookie somewhere the
 * routes of section 10 do not expect; userinfo, query and fragment have no
 * place in an origin. */
static bool public_url_ok(const char *s)
{
	size_t skip;
	const char *host, *end;

	if (strncmp(s, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(s, "http://", 7) == 0)
		skip = 7;
	else
		return false;
	host = s + skip;
	end = host + strcspn(host, "/");
	if (end == host || (*end == '/' && end[1] != '\0'))
		return false;
	for (const char *p = host; p < end; p++)
		if (*p <= ' ' || *p >= 0x7f || strchr("@?#\\", *p) != NULL)
			return false;
	return true;
}

void cfgweb_defaults(struct web_cfg *w)
{
	memset(w, 0, sizeof(*w));
	w->session_ttl_s = SESSION_TTL_DEFAULT_S;
}

void cfgweb_free(struct web_cfg *w)
{
	free(w->public_url);
	free(w->oidc_client_id);
	free(w->oidc_client_secret_env);
	memset(w, 0, sizeof(*w));
}

int cfgweb_read(struct cfgval_ctx *c, const struct ytree *m,
		const struct oidc_cfg *oidc, struct web_cfg *w)
{
	static const char *const keys[] = {"public_url", "oidc_client_id",
					   "oidc_client_secret_env", "session_ttl",
					   NULL};
	const struct ytree *v[4];
	size_t len;
	int rc;

	cfgweb_defaults(w);
	rc = cfgval_fields(c, m, "web", keys, v);
	if (rc < 0)
		return rc;
	w->enabled = true;
	if (v[0] == NULL)
		return cfgval_missing(c, m, "web", "public_url");
	rc = cfgval_checked(c, v[0], "public_url", public_url_ok,
			    "an http:// or https:// origin such as https://jit.example.com",
			    true, &w->public_url);
	if (rc < 0)
		return rc;
	len = strlen(w->public_url);
	if (len > PUBLIC_URL_MAX)
		return cfgval_err(c, v[0]->line, "public_url: longer than %d bytes",
				  PUBLIC_URL_MAX);
	if (w->public_url[len - 1] == '/')
		w->public_url[len - 1] = '\0';
	w->secure_cookie = strncmp(w->public_url, "https://", 8) == 0;
	if (v[1] != NULL) {
		if (!oidc->enabled)
			return cfgval_err(c, v[1]->line,
					  "oidc_client_id: needs an oidc: section (the IdP "
					  "the browser signs in at)");
		rc = cfgval_str(c, v[1], "oidc_client_id", CLIENT_ID_MAX,
				&w->oidc_client_id);
		if (rc < 0)
			return rc;
	}
	if (v[2] != NULL) {
		if (v[1] == NULL)
			return cfgval_err(c, v[2]->line,
					  "oidc_client_secret_env: needs oidc_client_id");
		rc = cfgval_checked(c, v[2], "oidc_client_secret_env",
				    cfgval_env_name_ok, "an environment variable name",
				    true, &w->oidc_client_secret_env);
		if (rc < 0)
			return rc;
	}
	if (v[3] != NULL) {
		rc = cfgval_duration(c, v[3], "session_ttl", &w->session_ttl_s);
		if (rc < 0)
			return rc;
		if (w->session_ttl_s < SESSION_TTL_MIN_S ||
		    w->session_ttl_s > SESSION_TTL_MAX_S)
			return cfgval_err(c, v[3]->line,
					  "session_ttl: from 1m to 30d");
	}
	return JG_OK;
}
