/* The token `jitgate login` keeps: $XDG_CONFIG_HOME/jitgate/token (default
 * ~/.config/jitgate/token), mode 0600 in a 0700 directory, JSON with the
 * ID token the API accepts, the refresh token and where to refresh it.
 * Used by every API subcommand when JITGATE_TOKEN is not set. */
#ifndef JG_CLI_CLI_TOKENFILE_H
#define JG_CLI_CLI_TOKENFILE_H

#include <jansson.h>
#include <stddef.h>

#include "util/err.h"

#define CLI_TOKENFILE_MAX (64 * 1024)
#define CLI_TOKENFILE_REFRESH_S 60 /* refresh this long before expiry */

/* The file's path into buf. */
int cli_tokenfile_path(char *buf, size_t len) JG_WUR;
/* Saves tok (an object) atomically with mode 0600. */
int cli_tokenfile_save(const json_t *tok, char *err, size_t errlen) JG_WUR;
/* The bearer token to use: the stored ID token, refreshed first when it
 * expires within CLI_TOKENFILE_REFRESH_S and a refresh token is kept.
 * JG_ERR_NOTFOUND when there is no file.  Caller frees *token. */
int cli_tokenfile_token(char **token, char *err, size_t errlen) JG_WUR;
/* Removes the file; JG_ERR_NOTFOUND when there was none. */
int cli_tokenfile_remove(void) JG_WUR;
/* The "exp" claim of a JWT (0 when unreadable; no signature check: the
 * server verifies, this only schedules the refresh). */
long long cli_jwt_exp(const char *jwt);
/* A claim of a JWT's payload as a string (caller frees), or NULL. */
char *cli_jwt_claim(const char *jwt, const char *name);

#endif
