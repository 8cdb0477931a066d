"""The web front door's API (design section 10) through the real daemon:
the catalog, end_comment, browser sessions (cookie, CSRF, cross-site
refusal, logout), static-token sign-in and the live event stream."""
import unittest

from harness import Server, base_config, run


class CatalogTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server(base_config())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def catalog(self, who):
        st, body = self.srv.http("GET", "/v1/catalog", who)
        self.assertEqual(st, 200, body)
        return {(e["resource"], e["role"]): e for e in body["entries"]}

    def test_alice_sees_what_she_may_request(self):
        cat = self.catalog("alice")
        self.assertEqual(sorted(cat), sorted([
            ("orders-db", "read"), ("orders-db", "write"), ("orders-db", "admin"),
            ("billing-api", "read"), ("billing-api", "admin"),
            ("prod-payments", "write")]))
        read = cat[("orders-db", "read")]
        self.assertEqual(read, {
            "resource": "orders-db", "kind": "generic", "role": "read",
            "policy": "engineers-read", "max_duration_s": 4 * 3600,
            "approvals": 0, "approvers": [], "allow_self_approval": False,
            "require_reason": False, "ticket_pattern": None,
            "break_glass_max_duration_s": None})
        write = cat[("prod-payments", "write")]
        self.assertEqual(write["policy"], "prod-write")
        self.assertEqual(write["approvals"], 2)
        self.assertEqual(write["approvers"], ["group:sre", "user:carol"])
        self.assertTrue(write["require_reason"])
        self.assertEqual(write["ticket_pattern"], "^OPS-[0-9]+$")
        self.assertEqual(write["break_glass_max_duration_s"], 1800)
        self.assertEqual(write["max_duration_s"], 3600)

    def test_first_match_decides_like_a_request(self):
        # every entry of the catalog can be requested (with what its
        # policy needs), and its answer names the same policy
        for (res, role), e in self.catalog("alice").items():
            st, r = self.srv.request("alice", res, role, "1m", reason="x",
                                     ticket="OPS-1")
            self.assertEqual(st, 201, r)
            self.assertEqual(r["policy"], e["policy"])

    def test_bob_and_mallory(self):
        cat = self.catalog("bob")
        self.assertEqual(list(cat), [("prod-payments", "read")])
        self.assertTrue(cat[("prod-payments", "read")]["allow_self_approval"])
        self.assertEqual(self.catalog("mallory"), {})
        # and mallory's request for anything is refused, as the empty
        # catalog says
        st, _ = self.srv.request("mallory", "orders-db", "read", "1m")
        self.assertEqual(st, 403)

    def test_needs_credentials_and_get(self):
        st, _ = self.srv.http("GET", "/v1/catalog")
        self.assertEqual(st, 401)
        st, _ = self.srv.http("POST", "/v1/catalog", "alice", {})
        self.assertEqual(st, 405)


class EndCommentTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server(base_config())

    def tearDown(self):
        self.srv.stop()

    def test_deny_comment_and_revoke_reason(self):
        s = self.srv
        st, r = s.request("alice", "orders-db", "write", "10m", reason="fix",
                          ticket="OPS-1")
        self.assertEqual(st, 201)
        self.assertIsNone(r["end_comment"])
        st, d = s.act("bob", r["id"], "deny", {"comment": "use the replica <b>"})
        self.assertEqual(st, 200)
        self.assertEqual(d["end_comment"], "use the replica <b>")
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["end_comment"], "use the replica <b>")

        st, r = s.request("alice", "orders-db", "read", "10m")
        self.assertEqual(r["state"], "active")
        # over the limit: 400, nothing changed
        st, e = s.act("dave", r["id"], "revoke", {"reason": "x" * 1025})
        self.assertEqual(st, 400)
        self.assertTrue(e["error"]["message"].startswith("reason"))
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["state"], "active")
        st, v = s.act("dave", r["id"], "revoke", {"reason": "incident 42 \u00e9"})
        self.assertEqual(st, 200)
        self.assertEqual(v["end_comment"], "incident 42 \u00e9")
        # it survives a restart (stored, not only in memory)
        s.restart()
        st, g = s.http("GET", "/v1/requests/%d" % r["id"], "alice")
        self.assertEqual(g["end_comment"], "incident 42 \u00e9")
        # and a request that simply expires or is canceled has none
        st, r = s.request("alice", "orders-db", "write", "10m", reason="fix",
                          ticket="OPS-1")
        st, c = s.act("alice", r["id"], "cancel")
        self.assertIsNone(c["end_comment"])


if __name__ == "__main__":
    run(CatalogTest, EndCommentTest)
