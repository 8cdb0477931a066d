/* The gateway's login to the upstream server: TCP, optional TLS, the
 * startup packet, SCRAM-SHA-256 / md5 / trust with the role's brokered
 * credentials, then the parameters up to ReadyForQuery. */
#include "gateway/session.h"
#include "gateway/session_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/principal.h"
#include "gateway/kdfpool.h"
#include "gateway/pgproto.h"
#include "gateway/scram.h"
#include "util/crypto.h"
#include "util/log.h"
#include "util/timeutil.h"

/* Why the TLS handshake failed, when the certificate was the reason. */
static const char *tls_verify_failure(struct session *s, char *buf,
				      size_t len)
{
	SSL *ssl = s->ubev ? bufferevent_openssl_get_ssl(s->ubev) : NULL;
	long vr;

	if (!ssl || s->up_tls_mode != UPSTREAM_TLS_VERIFY_FULL)
		return NULL;
	vr = SSL_get_verify_result(ssl);
	if (vr == X509_V_OK)
		return NULL;
	snprintf(buf, len, "upstream certificate not accepted (%s)",
		 X509_verify_cert_error_string(vr));
	return buf;
}

void upstream_fail(struct session *s, const char *what)
{
	char msg[512], vbuf[200];
	const char *why = tls_verify_failure(s, vbuf, sizeof(vbuf));

	if (why)
		what = why;
	log_warn(s->tag, "upstream %s:%d for %s as %s: %s", s->up_host,
		 s->up_port, s->resource, s->role, what);
	snprintf(msg, sizeof(msg), "jitgate: cannot log in to %s as %s: %s",
		 s->resource, s->role, what);
	session_audit(s, "check.denied", json_pack("{s:s, s:s, s:s}", "via", "gateway",
					   "reason", "upstream_failed",
					   "client", s->peer));
	session_fatal(s, "08006", msg, "upstream login failed");
}

static int send_upstream_startup(struct session *s)
{
	const char *names[PGPROTO_STARTUP_PARAMS_MAX + 2];
	const char *values[PGPROTO_STARTUP_PARAMS_MAX + 2];
	size_t n = 0;

	names[n] = "user";
	values[n++] = s->up_user;
	names[n] = "database";
	values[n++] = s->up_dbname;
	for (size_t i = 0; i < s->startup.nparams; i++) {
		const char *k = s->startup.params[i].name;

		/* identity and protocol options are ours to set */
		if (strcmp(k, "user") == 0 || strcmp(k, "database") == 0 ||
		    strcmp(k, "replication") == 0 ||
		    strncmp(k, "_pq_.", 5) == 0)
			continue;
		names[n] = k;
		values[n++] = s->startup.params[i].value;
	}
	return pgproto_put_startup(bufferevent_get_output(s->ubev), names,
				   values, n);
}

int upstream_prepare(struct session *s, const struct resource_cfg *res,
		     const struct role_cfg *role)
{
	s->up_host = strdup(res->host);
	s->up_dbname = strdup(res->dbname ? res->dbname : s->resource);
	s->up_user = strdup(role->user);
	s->password_env = role->password_env ? strdup(role->password_env) :
		NULL;
	s->up_port = res->port ? res->port : 5432;
	s->up_tls_mode = res->tls_mode;
	s->up_tls = res->tls_mode != UPSTREAM_TLS_OFF;
	s->up_auth = config_upstream_auth(res, role);
	s->audit_queries = res->audit_queries;
	if (res->tls_mode == UPSTREAM_TLS_VERIFY_FULL) {
		/* a reload may free the config while we connect */
		if (!res->tls_ca || X509_STORE_up_ref(res->tls_ca) != 1)
			return JG_ERR_INVALID;
		s->up_ca = res->tls_ca;
		s->up_server_name = strdup(res->tls_server_name ?
					   res->tls_server_name : res->host);
		if (!s->up_server_name)
			return JG_ERR_NOMEM;
	}
	if (!s->up_host || !s->up_dbname || !s->up_user ||
	    (role->password_env && !s->password_env))
		return JG_ERR_NOMEM;
	return 0;
}

void upstream_release(struct session *s)
{
	/* a derivation still running must not call back into a freed
	 * session */
	kdfpool_cancel(s->kdf);
	s->kdf = NULL;
	scram_free(s->scram);
	s->scram = NULL;
	X509_STORE_free(s->up_ca);
	s->up_ca = NULL;
	free(s->up_server_name);
	free(s->up_host);
	free(s->up_dbname);
	free(s->up_user);
	free(s->password_env);
	s->up_server_name = s->up_host = s->up_dbname = s->up_user =
		s->password_env = NULL;
}

void upstream_connect(struct session *s)
{
	session_set_state(s, SS_UP_CONNECT);
	s->ubev = bufferevent_socket_new(s->gw->base, -1,
					 BEV_OPT_CLOSE_ON_FREE);
	if (!s->ubev) {
		session_close(s, "out of memory");
		return;
	}
	bufferevent_setcb(s->ubev, session_upstream_read, session_relay_write, session_upstream_event,
			  s);
	bufferevent_enable(s->ubev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(s->ubev, s->gw->dns, AF_UNSPEC,
						s->up_host, s->up_port) != 0)
		upstream_fail(s, "cannot connect");
}

void upstream_connected(struct session *s)
{
	uint8_t req[8];

	if (session_set_nodelay(s->ubev) != 0)
		log_debug(s->tag, "TCP_NODELAY: %s", strerror(errno));
	if (s->up_tls) {
		pgproto_put_be32(req, 8);
		pgproto_put_be32(req + 4, PGPROTO_SSL_CODE);
		if (bufferevent_write(s->ubev, req, sizeof(req)) != 0) {
			session_close(s, "out of memory");
			return;
		}
		session_set_state(s, SS_UP_SSL);
		return;
	}
	if (send_upstream_startup(s) != 0) {
		session_close(s, "out of memory");
		return;
	}
	session_set_state(s, SS_UP_AUTH);
}

static bool is_ip_literal(const char *h)
{
	struct in6_addr tmp;

	return inet_pton(AF_INET, h, &tmp) == 1 ||
	       inet_pton(AF_INET6, h, &tmp) == 1;
}

SSL *upstream_ssl_new(struct gw_ctx *gw, enum upstream_tls_mode mode,
		      const char *host, const char *server_name,
		      X509_STORE *ca)
{
	const char *name = server_name ? server_name : host;
	X509_VERIFY_PARAM *param;
	bool ip = is_ip_literal(name);
	SSL *ssl = SSL_new(gw->tls_client);

	if (!ssl)
		return NULL;
	if (!ip && SSL_set_tlsext_host_name(ssl, name) != 1)
		goto fail;
	if (mode != UPSTREAM_TLS_VERIFY_FULL)
		return ssl;
	if (!ca || SSL_set1_verify_cert_store(ssl, ca) != 1)
		goto fail;
	param = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(param,
					X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name) :
	     X509_VERIFY_PARAM_set1_host(param, name, 0)) != 1)
		goto fail;
	SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

void upstream_start_tls(struct session *s)
{
	struct bufferevent *tls;
	SSL *ssl;

	if (evbuffer_get_length(bufferevent_get_input(s->ubev)) != 0) {
		upstream_fail(s, "unexpected data after SSLRequest");
		return;
	}
	ssl = upstream_ssl_new(s->gw, s->up_tls_mode, s->up_host,
			       s->up_server_name, s->up_ca);
	if (!ssl) {
		upstream_fail(s, "cannot set up TLS");
		return;
	}
	tls = session_tls_filter(s, s->ubev, ssl, BUFFEREVENT_SSL_CONNECTING);
	if (!tls)
		return;
	s->ubev = tls;
	bufferevent_setcb(tls, session_upstream_read, session_relay_write, session_upstream_event, s);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	if (send_upstream_startup(s) != 0) {
		session_close(s, "out of memory");
		return;
	}
	session_set_state(s, SS_UP_AUTH);
}

static int send_password_msg(struct session *s, const void *body, size_t len)
{
	return pgproto_put_msg(bufferevent_get_output(s->ubev), 'p', body, len);
}

/* The password of the role, or NULL (logged) when its variable is unset. */
static const char *role_password(struct session *s)
{
	const char *pw = s->password_env ? getenv(s->password_env) : NULL;

	if (!pw)
		log_error(s->tag, "upstream wants a password for role %s of "
			  "%s but $%s is not set", s->role, s->resource,
			  s->password_env ? s->password_env : "(none)");
	return pw;
}

/* The method the upstream asks for must be listed in upstream.auth, and
 * asked for at most once; anything else refuses the login before a
 * credential leaves the gateway. */
static int allowed(struct session *s, unsigned method, const char *name,
		   const char **why)
{
	static char buf[160];

	if (s->scram || s->up_pw_sent) {
		*why = "upstream asked for a second authentication";
		return JG_ERR_AUTH;
	}
	if (!(s->up_auth & method)) {
		snprintf(buf, sizeof(buf), "upstream asked for %s "
			 "authentication, which upstream.auth does not allow",
			 name);
		*why = buf;
		return JG_ERR_FORBIDDEN;
	}
	return 0;
}

/* SCRAM key derivation finished on a worker (runs on the loop). */
static void kdf_done(void *arg, int rc, const uint8_t salted[SCRAM_KEY_LEN])
{
	struct session *s = arg;
	char buf[SCRAM_MSG_MAX + 64];
	size_t n;

	s->kdf = NULL;
	if (rc == 0)
		rc = scram_client_final(s->scram, salted, buf, sizeof(buf), &n);
	if (rc == 0)
		rc = send_password_msg(s, buf,
				     n);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (rc != 0)
		upstream_fail(s, "SCRAM exchange failed");
}

/* tls-server-end-point (RFC 5929): the hash of the server's certificate,
 * with its signature's hash, SHA-256 for MD5 and SHA-1 (as libpq does). */
static int cert_hash(struct session *s, uint8_t *out, size_t *len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->ubev);
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	const EVP_MD *md;
	unsigned int n = 0;
	int algo;

	if (!cert ||
	    !OBJ_find_sigid_algs(X509_get_signature_nid(cert), &algo, NULL))
		return JG_ERR_CRYPTO;
	md = algo == NID_md5 || algo == NID_sha1 ? EVP_sha256() :
		EVP_get_digestbynid(algo);
	if (!md || EVP_MD_get_size(md) > SCRAM_CBIND_MAX ||
	    X509_digest(cert, md, out, &n) != 1)
		return JG_ERR_CRYPTO;
	*len = n;
	return 0;
}

/* SASL: picks SCRAM-SHA-256-PLUS (channel binding to the TLS connection,
 * so a man in the middle who terminates TLS cannot relay the login) when
 * the upstream offers it over TLS, else SCRAM-SHA-256. */
static int scram_start(struct session *s, const uint8_t *body, uint32_t len,
		       const char **why)
{
	const char *password, *mech;
	char buf[SCRAM_MSG_MAX + 64];
	uint8_t hash[SCRAM_CBIND_MAX];
	bool plain = false, plus = false;
	size_t i = 4, n, hl = 0, ml;
	char flag = s->up_tls ? 'y' : 'n';
	int rc;

	while (i < len && body[i]) {
		size_t l = strnlen((const char *)body + i, len - i);

		if (l == 13 && memcmp(body + i, "SCRAM-SHA-256", 13) == 0)
			plain = true;
		if (l == 18 && memcmp(body + i, "SCRAM-SHA-256-PLUS", 18) == 0)
			plus = true;
		i += l + 1;
	}
	/* a certificate whose hash we cannot compute (Ed25519 has no
	 * digest) cannot be bound: say so with 'n' rather than 'y', which a
	 * server offering -PLUS would take for a downgrade */
	if (plus && s->up_tls && cert_hash(s, hash, &hl) != 0) {
		hl = 0;
		flag = 'n';
	}
	if (!plain && !hl) {
		*why = "upstream offers no SASL mechanism we speak";
		return JG_ERR_AUTH;
	}
	password = role_password(s);
	if (!password)
		return JG_ERR_NOTFOUND;
	rc = scram_new(password, &s->scram);
	if (rc == 0)
		rc = scram_set_channel_binding(s->scram, hl ? 'p' : flag,
					       hash, hl);
	if (rc != 0)
		return rc;
	mech = hl ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256";
	ml = strlen(mech) + 1;
	memcpy(buf, mech, ml);
	rc = scram_client_first(s->scram, buf + ml + 4, sizeof(buf) - ml - 4,
				&n);
	if (rc != 0)
		return rc;
	log_debug(s->tag, "upstream login with %s", mech);
	pgproto_put_be32((uint8_t *)buf + ml, (uint32_t)n);
	return send_password_msg(s, buf, ml + 4 + n);
}

/* SASLContinue: checks server-first and hands PBKDF2 to a worker.
 * Returns 2: the login waits for kdf_done. */
static int scram_continue(struct session *s, const uint8_t *body,
			  uint32_t len, const char **why)
{
	struct scram_kdf kdf;
	const char *password;
	int rc;

	if (!s->scram || s->kdf) {
		*why = "unexpected SASLContinue from upstream";
		return JG_ERR_AUTH;
	}
	rc = scram_server_first(s->scram, (const char *)body + 4, len - 4,
				&kdf);
	if (rc == JG_ERR_TOOBIG) {
		*why = "upstream asked for a SCRAM iteration count outside "
		       "4096..1000000";
		return rc;
	}
	if (rc != 0) {
		*why = "malformed or replayed SCRAM server-first-message";
		return rc;
	}
	password = role_password(s);
	if (!password)
		return JG_ERR_NOTFOUND;
	rc = kdfpool_submit(s->gw->kdf, password, &kdf, kdf_done, s, &s->kdf);
	OPENSSL_cleanse(&kdf, sizeof(kdf));
	if (rc == JG_ERR_UNAVAILABLE)
		*why = "too many upstream logins in progress";
	/* reading goes on meanwhile, so that a close is seen at once; any
	 * message before our answer is a protocol violation */
	return rc != 0 ? rc : 2;
}

/* Handles one AuthenticationRequest from the upstream: 0 to go on, 1 for
 * an accepted AuthenticationOk, 2 while a key derivation runs, negative
 * (with *why when there is more to say) to refuse the login. */
static int upstream_auth(struct session *s, const uint8_t *body, uint32_t len,
			 const char **why)
{
	const char *password;
	uint32_t code;
	int rc;

	if (len < 4)
		return JG_ERR_PARSE;
	code = pgproto_be32(body);
	switch (code) {
	case 0: /* AuthenticationOk: only once the upstream proved itself */
		if (s->scram && !scram_verified(s->scram)) {
			*why = "upstream skipped the SCRAM server signature";
			return JG_ERR_AUTH;
		}
		if (!s->scram && !s->up_pw_sent &&
		    !(s->up_auth & UPSTREAM_AUTH_TRUST)) {
			*why = "upstream let us in without authentication "
			       "(trust), which upstream.auth does not allow";
			return JG_ERR_FORBIDDEN;
		}
		return 1;
	case 3: /* cleartext password */
		rc = allowed(s, UPSTREAM_AUTH_PASSWORD, "cleartext password",
			     why);
		if (rc != 0)
			return rc;
		if (!s->up_tls) { /* the config check makes this unreachable */
			*why = "cleartext password outside TLS";
			return JG_ERR_FORBIDDEN;
		}
		password = role_password(s);
		if (!password)
			return JG_ERR_NOTFOUND;
		s->up_pw_sent = true;
		return send_password_msg(s, password, strlen(password) + 1);
	case 5: { /* md5 */
		char md5[36];

		rc = allowed(s, UPSTREAM_AUTH_MD5, "md5", why);
		if (rc != 0)
			return rc;
		if (len != 8)
			return JG_ERR_PARSE;
		password = role_password(s);
		if (!password)
			return JG_ERR_NOTFOUND;
		scram_md5_password(s->up_user, password, body + 4, md5);
		s->up_pw_sent = true;
		rc = send_password_msg(s, md5,
				     strlen(md5) + 1);
		OPENSSL_cleanse(md5, sizeof(md5));
		return rc;
	}
	case 10: /* SASL */
		rc = allowed(s, UPSTREAM_AUTH_SCRAM, "SCRAM-SHA-256", why);
		return rc != 0 ? rc : scram_start(s, body, len, why);
	case 11: /* SASLContinue */
		return scram_continue(s, body, len, why);
	case 12: /* SASLFinal */
		rc = s->scram ? scram_verify_final(s->scram,
						   (const char *)body + 4,
						   len - 4) : JG_ERR_AUTH;
		if (rc == JG_ERR_FORBIDDEN)
			*why = "upstream reported a SCRAM error";
		else if (rc != 0)
			*why = "upstream SCRAM server signature did not verify";
		else
			log_debug(s->tag, "upstream SCRAM server signature "
				  "verified");
		return rc;
	default: {
		static char buf[96];

		snprintf(buf, sizeof(buf), "upstream asked for an unsupported "
			 "authentication method (code %u)", (unsigned)code);
		*why = buf;
		return JG_ERR_AUTH;
	}
	}
}

/* Runs the login-phase messages the upstream sent.  Returns once the
 * input is exhausted, the relay started, or the session is gone (1). */
int upstream_login_msgs(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->ubev);
	struct evbuffer *cout = bufferevent_get_output(s->cbev);

	while (s->state == SS_UP_AUTH || s->state == SS_UP_PARAMS) {
		uint8_t *p, type;
		uint32_t len;
		int rc;

		if (s->kdf) {
			if (evbuffer_get_length(in) == 0)
				return 0;
			upstream_fail(s, "upstream sent a message before our "
				      "SCRAM answer");
			return 1;
		}
		p = evbuffer_pullup(in, 5);
		if (!p)
			return 0;
		rc = pgproto_msg_header(p, 5, PGPROTO_LOGIN_MSG_MAX, &type,
					&len);
		if (rc < 0) {
			upstream_fail(s, "malformed message from upstream");
			return 1;
		}
		if (evbuffer_get_length(in) < 5 + (size_t)len)
			return 0;
		p = evbuffer_pullup(in, 5 + (ssize_t)len);
		if (type == 'E') {
			char code[8], m[256], msg[400];

			pgproto_error_field(p + 5, len, 'C', code, sizeof(code));
			pgproto_error_field(p + 5, len, 'M', m, sizeof(m));
			snprintf(msg, sizeof(msg), "upstream refused (%s): %s",
				 code, m);
			upstream_fail(s, msg);
			return 1;
		}
		if (s->state == SS_UP_AUTH) {
			if (type == 'R') {
				const char *why = NULL;

				rc = upstream_auth(s, p + 5, len, &why);
				if (rc < 0) {
					if (!why)
						why = rc == JG_ERR_NOTFOUND ?
						      "no upstream password configured" :
						      "upstream authentication failed";
					upstream_fail(s, why);
					return 1;
				}
				if (rc == 1) {
					if (pgproto_put_auth(cout, 0, NULL, 0)) {
						session_close(s, "out of memory");
						return 1;
					}
					session_set_state(s, SS_UP_PARAMS);
				}
			} else if (type != 'N' && type != 'v') {
				upstream_fail(s, "unexpected message from upstream");
				return 1;
			}
			evbuffer_drain(in, 5 + len);
			continue;
		}
		/* SS_UP_PARAMS */
		if (type == 'K' && len == 8) {
			s->up_pid = pgproto_be32(p + 5);
			s->up_key = pgproto_be32(p + 9);
			evbuffer_drain(in, 5 + len);
			if (crypto_random(&s->my_pid, 4) != 0 ||
			    crypto_random(&s->my_key, 4) != 0) {
				session_close(s, "no randomness");
				return 1;
			}
			s->my_pid &= 0x7fffffff; /* looks like a pid to libpq */
			registry_insert(s->gw->by_cancel, &s->by_cancel,
					s->my_pid);
			if (pgproto_put_backend_key(cout, s->my_pid, s->my_key)) {
				session_close(s, "out of memory");
				return 1;
			}
			continue;
		}
		if (evbuffer_remove_buffer(in, cout, 5 + len) != (int)(5 + len)) {
			session_close(s, "out of memory");
			return 1;
		}
		if (type == 'Z' && session_start_relay(s) != 0)
			return 1;
	}
	return 0;
}
