"""A token naming an unknown key id while the IdP hangs (design section
9, "nothing blocks a loop"), against the real daemon and the real OIDC
provider (tests/idp), stopped with SIGSTOP so that it accepts connections
and never answers.

Before, the unknown kid made the HTTP worker or the gateway loop fetch
the key set itself: with the IdP hanging, /healthz froze for 9.5 s and the
gateway for 10 s.  Now the token is refused at once (401 / 28P01) while
the refresh thread's fetch is still hanging, everything else is answered,
and once the IdP answers the same token verifies.
"""
import os
import signal
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, base_config, free_port, run, wait_for  # noqa: E402
from idp import STATIC_USERS, Idp, ensure_node_modules  # noqa: E402
import pgwire  # noqa: E402

REFETCH_LINE = "a token named an unknown kid: refetching the JWKS"


def config(issuer, gwport, pgport):
    return base_config(users=STATIC_USERS, extra=f"""oidc:
  issuer: {issuer}
  audience: jitgate
  groups_claim: groups
gateway:
  postgres_listen: 127.0.0.1:{gwport}
""", resources=f"""resources:
  - name: orders-db
    kind: postgres
    upstream: {{host: 127.0.0.1, port: {pgport}, dbname: orders}}
    roles:
      read: {{user: jit_read}}
""", policies="policies: []\n")


class IdpHangTest(unittest.TestCase):
    def setUp(self):
        ensure_node_modules()
        self.dir = tempfile.mkdtemp(prefix="jg-idphang-")
        self.idp = Idp(self.dir)
        self.idp.start()
        self.gwport = free_port()
        self.srv = Server(config(self.idp.issuer, self.gwport, free_port()))

    def tearDown(self):
        self.srv.stop()
        if self.idp.proc:
            os.kill(self.idp.proc.pid, signal.SIGCONT)
        self.idp.stop()

    def whoami(self, tok):
        return self.srv.http("GET", "/v1/whoami", bearer=tok)

    def after_refetch(self):
        """The log after the refetch started (what the refresh thread did
        since)."""
        logs = self.srv.logs()
        i = logs.find(REFETCH_LINE)
        return None if i < 0 else logs[i + len(REFETCH_LINE):]

    def test_unknown_kid_answered_while_the_idp_hangs(self):
        old = self.idp.token("code", "alice")
        self.assertEqual(self.whoami(old)[0], 200)
        # the IdP rotates its keys, issues a token, and then hangs
        self.idp.stop()
        self.idp.start(rotate=True)
        new = self.idp.token("code", "carol")
        os.kill(self.idp.proc.pid, signal.SIGSTOP)

        st, body = self.whoami(new)
        self.assertEqual(st, 401, body)
        self.assertIn("refetched", body["error"]["message"])
        # the refresh thread is now inside the fetch, which hangs
        wait_for(lambda: self.after_refetch() is not None, what="the refetch to start")
        # meanwhile every door answers at once
        self.assertEqual(self.srv.http("GET", "/healthz"), (200, "ok\n"))
        self.assertEqual(self.whoami(old)[0], 200)
        st, body = self.whoami(new)
        self.assertEqual(st, 401, body)
        r = pgwire.login(self.gwport, "carol", new)
        self.assertEqual(r.sqlstate, "28P01", r.message)
        self.assertIn("no key with kid", r.message)
        r = pgwire.login(self.gwport, "alice", old)
        self.assertNotEqual(r.sqlstate, "28P01", r.message)
        # ... and all of it while the fetch was still hanging
        since = self.after_refetch()
        self.assertNotIn("JWKS fetch failed", since)
        self.assertNotIn("installed", since)

        # the IdP answers again: the same token verifies once keys arrive
        os.kill(self.idp.proc.pid, signal.SIGCONT)
        st, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(self.whoami(new)),
                            timeout=60, what="the new key")
        self.assertEqual(body["subject"], "carol")
        # the gateway uses the same verifier: carol is authenticated now
        # (and refused for want of a grant)
        r = pgwire.login(self.gwport, "carol", new)
        self.assertEqual(r.sqlstate, "28000", r.message)


if __name__ == "__main__":
    run(IdpHangTest)
