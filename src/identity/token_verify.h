/* `jitgate token verify`: the operators' tool to check a token with the
 * server's own verification code. */
#ifndef JG_IDENTITY_TOKEN_VERIFY_H
#define JG_IDENTITY_TOKEN_VERIFY_H

/* argv[0] is "verify"; then [--jwks FILE] [--issuer URL] [--audience A]...
 * [--signature-only] TOKEN ("-" reads the token from stdin).  Prints the
 * header and claims when valid (exit 0), "invalid: REASON" otherwise
 * (exit 1); 2 on a usage or key-loading error. */
int identity_cli_token_verify(int argc, char **argv);

#endif
