/* Fuzzes compact JWS parsing and verification against a fixed key set
 * (one RSA, one P-256 and one Ed25519 key) with every claim rule on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/jwk.h"
#include "identity/jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Public keys only: the fuzzer must find its way without any secret. */
static const char fixed_jwks[] =
	"{\"keys\":[{\"kty\":\"EC\",\"x\":\"dy26q211x9gFX71oUUtfX3KXuDrGCHqoon"
	"ThY0KAARk\",\"y\":\"2skktNlPFCbMOE59p3n7xZnsvodYcbos2TkvgLwlJp0\""
	",\"crv\":\"P-256\",\"kid\":\"ec1\"},{\"crv\":\"Ed25519\",\"x\":\"wHRTjx26VH"
	"zw_-ihPc8yU2sK8ZD2lX3Sf88svWf1Cio\",\"kty\":\"OKP\",\"kid\":\"ed1\"},"
	"{\"kty\":\"RSA\",\"n\":\"nqQZP6WyeiROGUJnHrbejLH97wyLBPLBoRFgS5tnjo"
	"hMvNMB4j8uFgGegTmaGMbtrTPYIX2_h_Rq_YQWN01Yg0pWj9c4TyVAF_8F5B"
	"Gv4iILkxhj6XF7phljTh8SHmgDDPtZcqAQWFSDkE_WXrwBfFZUR18vkzzLZf"
	"YhAZyJ88XjCOZuXJJ_HpP4f_ScNyp40PYpbcWs20r11fZjfln4qpoj1JvlyK"
	"_yhv8dsa4zbE8Li88rSo2FrHs6-4e1RKTRua91vcL1JVmw-UVw17x7hi_HNZ"
	"o_qIuM5MmNkqdlkeoh66R3x4z8UYt3gGzrpLqZc8BYOVYiynydcB-mxl1_YQ"
	"\",\"e\":\"AQAB\",\"kid\":\"rsa1\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct jwks *keys;
	static const char *const aud[] = {"jitgate"};
	struct jwt_rules rules = {.algs = JWS_ALG_ALL, .issuer = "https://idp.example.com",
				  .audiences = aud, .naudiences = 1, .leeway_s = 60};
	struct jwt_result res;
	int rc;

	if (!keys && jwks_parse(fixed_jwks, strlen(fixed_jwks), false, NULL, NULL, &keys) != 0)
		abort();
	if (jwks_count(keys) != 3)
		abort();
	rc = jwt_verify((const char *)data, size, keys, &rules, 1800000000, &res);
	/* an accepted token always carries its claims and expiry */
	if (rc == 0 && (!res.claims || res.exp_s <= 0 || res.reason[0]))
		abort();
	if (rc != 0 && !res.reason[0])
		abort();
	jwt_result_clear(&res);
	rules.signature_only = true;
	rc = jwt_verify((const char *)data, size, keys, &rules, 1800000000, &res);
	if (rc == 0 && !res.header)
		abort();
	jwt_result_clear(&res);
	return 0;
}
