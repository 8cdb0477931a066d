/* Browser sign-in at the IdP (design section 10): authorization code with
 * PKCE S256, state and nonce.  The code exchange is a network call, so it
 * runs on a worker thread while the HTTP connection is suspended. */
#ifndef JG_API_WEBLOGIN_H
#define JG_API_WEBLOGIN_H

struct conn;

/* GET /auth/login?next=PATH */
void weblogin_start(struct conn *c);
/* GET /auth/callback?code=&state= */
void weblogin_callback(struct conn *c, const char *url);

#endif
