#include "cli/cli_tokenfile.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "identity/b64url.h"
#include "identity/oidc_client.h"

int cli_tokenfile_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, len, "%s/jitgate/token", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(buf, len, "%s/.config/jitgate/token", home);
	else
		return JG_ERR_NOTFOUND;
	return n > 0 && (size_t)n < len ? JG_OK : JG_ERR_TOOBIG;
}

/* mkdir -p of the directories above path, the last one 0700. */
static int make_dirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return JG_ERR_IO;
		}
		*p = '/';
	}
	return JG_OK;
}

int cli_tokenfile_save(const json_t *tok, char *err, size_t errlen)
{
	char path[4096], tmp[4200], *dir_end;
	char *text = json_dumps(tok, JSON_COMPACT);
	size_t len;
	int fd, rc = JG_ERR_IO;

	if (text == NULL)
		return JG_ERR_NOMEM;
	len = strlen(text);
	if (cli_tokenfile_path(path, sizeof(path)) != JG_OK) {
		snprintf(err, errlen, "neither XDG_CONFIG_HOME nor HOME is an absolute path");
		goto out;
	}
	dir_end = strrchr(path, '/');
	*dir_end = '\0';
	snprintf(tmp, sizeof(tmp), "%s/", path);
	if (make_dirs(tmp) != JG_OK) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	*dir_end = '/';
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		close(fd);
		(void)unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "cannot replace %s: %s", path, strerror(errno));
		(void)unlink(tmp);
		goto out;
	}
	rc = JG_OK;
out:
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

static int load(json_t **out, char *err, size_t errlen)
{
	char path[4096], *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc = JG_ERR_IO;

	*out = NULL;
	if (cli_tokenfile_path(path, sizeof(path)) != JG_OK)
		return JG_ERR_NOTFOUND;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return JG_ERR_NOTFOUND;
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return JG_ERR_IO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		/* like ssh with a private key: a token others can read is not used */
		snprintf(err, errlen, "%s must be a file of yours with mode 0600 (chmod 600 it, "
				      "or sign in again)", path);
		goto out;
	}
	if (st.st_size > CLI_TOKENFILE_MAX) {
		snprintf(err, errlen, "%s is larger than %d bytes", path, CLI_TOKENFILE_MAX);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		rc = JG_ERR_NOMEM;
		goto out;
	}
	n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		snprintf(err, errlen, "cannot read %s", path);
		goto out;
	}
	*out = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(*out) || !json_is_string(json_object_get(*out, "id_token"))) {
		json_decref(*out);
		*out = NULL;
		snprintf(err, errlen, "%s is not a jitgate token file (sign in again)", path);
		goto out;
	}
	rc = JG_OK;
out:
	if (buf) {
		OPENSSL_cleanse(buf, (size_t)st.st_size);
		free(buf);
	}
	close(fd);
	return rc;
}

static json_t *jwt_payload(const char *jwt)
{
	const char *a = strchr(jwt, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	uint8_t *raw = NULL;
	size_t n;
	json_t *j;

	if (b == NULL || b - a - 1 > 16384 ||
	    b64url_decode_alloc(a + 1, (size_t)(b - a - 1), 16384, &raw, &n) != JG_OK)
		return NULL;
	j = json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	return j;
}

long long cli_jwt_exp(const char *jwt)
{
	json_t *p = jwt_payload(jwt);
	long long exp = json_is_integer(json_object_get(p, "exp"))
				? (long long)json_integer_value(json_object_get(p, "exp"))
				: 0;

	json_decref(p);
	return exp;
}

char *cli_jwt_claim(const char *jwt, const char *name)
{
	json_t *p = jwt_payload(jwt);
	const char *v = json_string_value(json_object_get(p, name));
	char *out = v ? strdup(v) : NULL;

	json_decref(p);
	return out;
}

/* Trades the refresh token for new tokens and stores them in tok. */
static int refresh(json_t *tok, char *err, size_t errlen)
{
	const char *url = json_string_value(json_object_get(tok, "token_endpoint"));
	const char *rt = json_string_value(json_object_get(tok, "refresh_token"));
	const char *cid = json_string_value(json_object_get(tok, "client_id"));
	char *form = NULL, *body = NULL;
	long status = 0;
	size_t len = 0;
	json_t *ans = NULL, *idt;
	int rc;

	if (url == NULL || rt == NULL || cid == NULL)
		return JG_ERR_NOTFOUND;
	rc = oidc_form_add(&form, "grant_type", "refresh_token");
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "refresh_token", rt);
	if (rc == JG_OK)
		rc = oidc_form_add(&form, "client_id", cid);
	if (rc == JG_OK)
		rc = oidc_client_post(url, form, NULL, NULL, NULL, &status, &body, &len, err,
				      errlen);
	if (rc == JG_OK) {
		ans = json_loadb(body, len, 0, NULL);
		idt = json_object_get(ans, "id_token");
		if (status != 200 || !json_is_string(idt)) {
			snprintf(err, errlen, "the IdP refused to refresh the sign-in (HTTP %ld)",
				 status);
			rc = JG_ERR_AUTH;
		} else {
			json_object_set(tok, "id_token", idt);
			if (json_is_string(json_object_get(ans, "refresh_token")))
				json_object_set(tok, "refresh_token",
						json_object_get(ans, "refresh_token"));
			json_object_set_new(tok, "expires_at",
					    json_integer(cli_jwt_exp(json_string_value(idt))));
		}
	}
	if (form) {
		OPENSSL_cleanse(form, strlen(form));
		free(form);
	}
	if (body) {
		OPENSSL_cleanse(body, len);
		free(body);
	}
	json_decref(ans);
	return rc;
}

int cli_tokenfile_token(char **token, char *err, size_t errlen)
{
	json_t *tok = NULL;
	json_int_t exp;
	int rc;

	*token = NULL;
	rc = load(&tok, err, errlen);
	if (rc != JG_OK)
		return rc;
	exp = json_integer_value(json_object_get(tok, "expires_at"));
	if (exp - CLI_TOKENFILE_REFRESH_S <= (json_int_t)time(NULL) &&
	    json_is_string(json_object_get(tok, "refresh_token"))) {
		char rerr[256];

		if (refresh(tok, rerr, sizeof(rerr)) == JG_OK) {
			if (cli_tokenfile_save(tok, rerr, sizeof(rerr)) != JG_OK)
				fprintf(stderr, "jitgate: warning: %s\n", rerr);
		} else {
			/* the old token still goes out: the server says 401 */
			fprintf(stderr, "jitgate: warning: %s; run jitgate login\n", rerr);
		}
	}
	*token = strdup(json_string_value(json_object_get(tok, "id_token")));
	json_decref(tok);
	return *token ? JG_OK : JG_ERR_NOMEM;
}

int cli_tokenfile_remove(void)
{
	char path[4096];

	if (cli_tokenfile_path(path, sizeof(path)) != JG_OK)
		return JG_ERR_NOTFOUND;
	if (unlink(path) != 0)
		return errno == ENOENT ? JG_ERR_NOTFOUND : JG_ERR_IO;
	return JG_OK;
}
