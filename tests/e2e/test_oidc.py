"""OIDC sign-in against a real OpenID Connect provider (oidc-provider from
npm, tests/idp) on loopback, through jitgate's HTTP API:

- tokens from the authorization code + PKCE flow and from client
  credentials work, RS256 and ES256, and their groups drive policy;
- a forged token is refused (401) and audited as auth.failed without the
  token;
- key rotation (provider restarted with new keys) works after the refetch
  on the unknown kid;
- with the provider stopped, known keys still verify, also across a
  jitgate restart (the last good key set is kept in the store);
- `jitgate token verify --issuer` accepts what the provider issues.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import JITGATE, Server, base_config, run, wait_for  # noqa: E402
from idp import STATIC_USERS, Idp, ensure_node_modules  # noqa: E402

def jwt_part(tok, i):
    seg = tok.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# The people and the client "svc" come from the IdP; the static identities
# are the others (erin the auditor...) and the service billing-svc, which
# the IdP also knows as a client: its tokens must be refused (subject
# namespaces).
STATIC = dict(STATIC_USERS)
STATIC["billing-svc"] = ("tok-billing-svc-0123456789", [])


def oidc_config(extra):
    return base_config(extra=extra, users=STATIC, checkers="user:billing-svc")


class OidcTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        ensure_node_modules()
        cls.dir = tempfile.mkdtemp(prefix="jg-oidc-")
        cls.idp = Idp(cls.dir)
        cls.idp.start()
        extra = ("oidc:\n  issuer: %s\n  audience: jitgate\n  groups_claim: groups\n"
                 % cls.idp.issuer)
        try:
            cls.srv = Server(oidc_config(extra))
        except Exception:
            cls.idp.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()
        cls.idp.stop()

    def whoami(self, tok):
        return self.srv.http("GET", "/v1/whoami", bearer=tok)

    def test_1_code_flow_groups_drive_policy(self):
        alice = self.idp.token("code", "alice")
        self.assertEqual(jwt_part(alice, 0)["alg"], "RS256")
        st, body = self.whoami(alice)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["subject"], "alice")
        self.assertEqual(body["groups"], ["engineering"])
        # group:engineering may request read on orders-db without approval
        st, req = self.srv.http("POST", "/v1/requests", bearer=alice,
                                body={"resource": "orders-db", "role": "read",
                                      "duration": "30m"})
        self.assertEqual(st, 201, req)
        self.assertEqual(req["state"], "active")
        self.assertEqual(req["requester"], "alice")
        # bob (group sre) matches no policy for it
        bob = self.idp.token("code", "bob", resource="urn:jitgate:es")
        self.assertEqual(jwt_part(bob, 0)["alg"], "ES256")
        st, body = self.srv.http("POST", "/v1/requests", bearer=bob,
                                 body={"resource": "orders-db", "role": "read",
                                       "duration": "30m"})
        self.assertEqual(st, 403, body)

    def test_2_client_credentials(self):
        svc = self.idp.token("client")
        st, body = self.whoami(svc)
        self.assertEqual(st, 200, body)
        self.assertEqual(body["subject"], "svc")
        self.assertEqual(body["groups"], ["automation"])

    def test_3_forged_token_refused_and_audited(self):
        good = self.idp.token("code", "alice")
        h, _, sig = good.split(".")
        claims = jwt_part(good, 1)
        claims["sub"] = "dave"
        claims["groups"] = ["security"]
        forged = "%s.%s.%s" % (h, b64(claims), sig)
        st, body = self.whoami(forged)
        self.assertEqual(st, 401, body)
        # another claimed subject: the first failure of each (address,
        # claimed subject) in a minute is written at once
        claims["sub"] = "eve"
        none = "%s.%s." % (b64({"alg": "none", "kid": jwt_part(good, 0)["kid"]}),
                           b64(claims))
        st, _ = self.whoami(none)
        self.assertEqual(st, 401)
        events = [e for e in self.srv.audit_events(action="auth.failed")]
        reasons = [e.get("detail", {}).get("reason", "") for e in events]
        self.assertTrue(any("signature" in r for r in reasons), reasons)
        self.assertTrue(any("none" in r for r in reasons), reasons)
        forged_ev = [e for e in events if "signature" in e["detail"].get("reason", "")][0]
        # an unverified sub is a claim, never the actor
        self.assertEqual(forged_ev["actor"], "anonymous")
        self.assertEqual(forged_ev["detail"].get("claimed_subject"), "dave")
        self.assertEqual(forged_ev["detail"].get("kid"), jwt_part(good, 0)["kid"])
        self.assertEqual(forged_ev["detail"].get("iss"), self.idp.issuer)
        export = self.srv.export()
        for secret in (forged, sig, none, good):
            self.assertNotIn(secret, export)

    def test_3b_oidc_subject_of_a_static_identity_is_refused(self):
        # billing-svc is a static identity with checker rights; the IdP
        # issues a valid token whose sub is billing-svc
        tok = self.idp.token("client", "billing-svc")
        self.assertEqual(jwt_part(tok, 1)["sub"], "billing-svc")
        st, body = self.whoami(tok)
        self.assertEqual(st, 401, body)
        self.assertIn("static identity", body["error"]["message"])
        st, body = self.srv.http("POST", "/v1/check", bearer=tok,
                                 body={"subject": "x", "resource": "orders-db",
                                       "role": "read"})
        self.assertEqual(st, 401, body)
        # the static token itself still works
        st, body = self.srv.http("POST", "/v1/check", bearer=STATIC["billing-svc"][0],
                                 body={"subject": "x", "resource": "orders-db",
                                       "role": "read"})
        self.assertEqual(st, 200, body)
        ev = [e for e in self.srv.audit_events(action="auth.failed")
              if e["detail"].get("claimed_subject") == "billing-svc"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["actor"], "anonymous")
        self.assertIn("static identity", ev[0]["detail"]["reason"])

    def test_4_key_rotation_after_refetch(self):
        old_kid = jwt_part(self.idp.token("code", "alice"), 0)["kid"]
        self.idp.stop()
        self.idp.start(rotate=True)
        tok = self.idp.token("code", "carol")
        self.assertNotEqual(jwt_part(tok, 0)["kid"], old_kid)
        # the unknown kid is answered at once (the request never waits on
        # the IdP) and wakes the background refetch ...
        st, body = self.whoami(tok)
        self.assertEqual(st, 401, body)
        self.assertIn("refetched", body["error"]["message"])
        # ... after which the same token verifies
        st, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
            self.whoami(tok)), timeout=30, what="the rotated key")
        self.assertEqual(body["subject"], "carol")
        self.assertEqual(sorted(body["groups"]), ["security", "sre"])

    def test_5_idp_down_known_keys_still_verify(self):
        tok = self.idp.token("code", "alice", resource="urn:jitgate:es")
        self.idp.stop()
        try:
            st, body = self.whoami(tok)
            self.assertEqual(st, 200, body)
            # across a jitgate restart the saved key set is used
            self.srv.restart()
            st, body = self.whoami(tok)
            self.assertEqual(st, 200, body)
            self.assertEqual(body["subject"], "alice")
            self.assertIn("saved in the store", self.srv.logs())
        finally:
            self.idp.start()

    def test_6_token_verify_tool(self):
        tok = self.idp.token("client")
        p = subprocess.run([JITGATE, "token", "verify", "--issuer", self.idp.issuer,
                            "--audience", "jitgate", tok], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn('"sub": "svc"', p.stdout)
        p = subprocess.run([JITGATE, "token", "verify", "--issuer", self.idp.issuer,
                            "--audience", "someone-else", tok], capture_output=True,
                           text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("aud", p.stdout + p.stderr)


if __name__ == "__main__":
    run(OidcTest)
