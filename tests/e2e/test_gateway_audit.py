"""Query audit through the real daemon under hostile clients (design
section 9): exactly one session.query per statement a client submits
(Query, Parse, FunctionCall) and none for any other message, checked with
pgbench in all three protocol modes and with raw protocol floods; a
flooding session cannot hide another session's statements, and nothing is
dropped (the gateway stops reading a client while the audit writer is
behind)."""
import os
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgwire  # noqa: E402
from harness import Server, free_port, gateway_config, run, token, wait_for  # noqa: E402
from pgcluster import ClusterTestCase  # noqa: E402


class GatewayAuditTest(ClusterTestCase):
    def setUp(self):
        self.gwport = free_port()
        self.srv = Server(gateway_config(self.pgport, self.gwport),
                          env={"ORDERS_READ_PASSWORD": "read-pw",
                               "ORDERS_WRITE_PASSWORD": "write-pw"})
        for who, role in (("alice", "read"), ("erik", "read"),
                          ("alice", "write")):
            st, body = self.srv.request(who, "orders-db", role, "1h",
                                        reason="audit test")
            self.assertEqual(st, 201, body)

    def tearDown(self):
        self.srv.stop()

    # helpers
    def login(self, who="alice", role="read"):
        c = pgwire.Conn(self.gwport)
        c.login(who, "orders-db@" + role, token(who))
        return c

    def queries(self, who=None):
        return [e for e in self.srv.audit_events(action="session.query")
                if (who is None or e["subject"] == who) and
                "jg-barrier" not in e["detail"].get("statement", "")]

    def statements(self, who=None):
        return [e["detail"].get("statement") for e in self.queries(who)]

    def barrier(self):
        """Waits until every statement sent so far is in the audit log: a
        statement of a new session sent after the others closed is
        audited after theirs (one loop, events queued in order)."""
        self.nbarrier = getattr(self, "nbarrier", 0) + 1
        mark = "select 'jg-barrier-%d'" % self.nbarrier
        c = self.login("alice")
        c.send(pgwire.query(mark))
        c.until_ready()
        c.close()
        wait_for(lambda: [e for e in self.srv.audit_events(action="session.query")
                          if e["detail"].get("statement") == mark],
                 timeout=120, what=mark)

    def dropped(self):
        st, text = self.srv.http("GET", "/metrics")
        self.assertEqual(st, 200)
        for line in str(text).splitlines():
            if line.startswith("jitgate_audit_dropped_total "):
                return int(line.split()[1])
        self.fail("no jitgate_audit_dropped_total in /metrics")

    def pgbench(self, *args):
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as f:
            f.write("select 'jgb-one';\nselect 'jgb-two', :client_id;\n"
                    "select 'jgb-three';\n")
            f.flush()
            r = subprocess.run(
                ["pgbench", "-n", "-f", f.name] + list(args) +
                ["-h", "127.0.0.1", "-p", str(self.gwport), "-U", "alice",
                 "orders-db@read"], capture_output=True, text=True,
                env=dict(os.environ, PGPASSWORD=token("alice")), timeout=300)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    # tests
    def test_pgbench_counts_by_protocol(self):
        """-M prepared parses each statement once per connection;
        -M extended parses every execution; -M simple sends a Query for
        every execution.  Bind/Execute/Sync add nothing."""
        self.pgbench("-M", "prepared", "-c", "2", "-t", "10")
        self.barrier()
        stmts = self.statements()
        self.assertEqual(sorted(stmts), sorted(
            ["select 'jgb-one';", "select 'jgb-two', $1;", "select 'jgb-three';"] * 2),
            stmts)
        for e in self.queries():
            self.assertEqual(e["detail"]["protocol"], "extended")
            self.assertTrue(e["detail"]["name"], e)  # P_0, P_1, ...
        self.pgbench("-M", "extended", "-c", "1", "-t", "10")
        self.barrier()
        self.assertEqual(len(self.queries()), 6 + 30)
        self.pgbench("-M", "simple", "-c", "1", "-t", "10")
        self.barrier()
        qs = self.queries()
        self.assertEqual(len(qs), 6 + 30 + 30)
        self.assertEqual(sum(1 for e in qs if e["detail"]["protocol"] == "simple"), 30)
        self.assertNotIn("", [e["detail"]["statement"] for e in qs])
        self.assertEqual(self.dropped(), 0)

    def test_flush_flood_writes_nothing(self):
        """1 MB of Flush (and Sync, Describe, Close) messages: no row."""
        c = self.login()
        c.send(pgwire.FLUSH * (1024 * 1024 // 5) + pgwire.SYNC * 1000)
        # one ReadyForQuery per Sync: read them all, or the marker's own
        # would be taken for one of them, and a close with answers unread
        # resets the connection before the gateway has read the marker
        for _ in range(1000):
            c.until_ready()
        c.send(pgwire.parse("st", "select 'jg-flood-marker'") +
               pgwire.describe(b"S", "st") + pgwire.bind("", "st") +
               pgwire.execute() + pgwire.close(b"S", "st") + pgwire.SYNC)
        c.until_ready()
        c.send(pgwire.TERMINATE)
        c.close()
        self.barrier()
        self.assertEqual(self.statements(), ["select 'jg-flood-marker'"])
        self.assertEqual(self.dropped(), 0)

    def test_copy_data_and_function_call(self):
        """CopyData carries rows, not statements; a FunctionCall is one
        event with its function's OID."""
        c = self.login(role="write")
        c.send(pgwire.query("create temp table t (a int)"))
        c.until_ready()
        c.send(pgwire.query("copy t from stdin"))
        kind, _ = c.read_msg()
        self.assertEqual(kind, b"G")  # CopyInResponse
        c.send(b"".join(pgwire.msg(b"d", b"%d\n" % i) for i in range(5000)) +
               pgwire.msg(b"c"))
        c.until_ready()
        c.send(pgwire.function_call(177, "2", "3"))  # int4pl
        out = c.until_ready()
        self.assertEqual(out[0][0], b"V", out)  # FunctionCallResponse
        c.send(pgwire.query("select count(*) from t"))
        rows = c.until_ready()
        self.assertIn(b"5000", rows[1][1])
        c.close()
        self.barrier()
        qs = self.queries()
        self.assertEqual([e["detail"].get("statement") for e in qs],
                         ["create temp table t (a int)", "copy t from stdin",
                          None, "select count(*) from t"])
        self.assertEqual(qs[2]["detail"]["function_oid"], 177)

    def test_long_statement_name(self):
        """A Parse whose name is far longer than the capture still gets
        its event, with the statement text and the name cut."""
        c = self.login()
        name = "n" * 20000
        c.send(pgwire.parse(name, "select 'jg-long-name'") +
               pgwire.bind("", name) + pgwire.execute() + pgwire.SYNC)
        out = c.until_ready()
        self.assertIn(b"jg-long-name", b"".join(b for _, b in out))
        c.close()
        self.barrier()
        qs = self.queries()
        self.assertEqual(len(qs), 1)
        self.assertEqual(qs[0]["detail"]["statement"], "select 'jg-long-name'")
        self.assertEqual(qs[0]["detail"]["name"], "n" * 64)

    def test_flooder_cannot_hide_another_session(self):
        """One session pipelines 20,000 statements with ten Flush messages
        after each (on main they made 220,000 events and overflowed the
        writer's queue) while another runs 200 one by one: every statement
        of both is audited, once."""
        flood_n, normal_n = 20000, 200
        flooder = self.login("erik")
        errors = []

        def flood():
            try:
                flooder.send(b"".join(pgwire.query("select %d /* jg-flood */" % i) +
                                      pgwire.FLUSH * 10 for i in range(flood_n)))
                for _ in range(flood_n):
                    flooder.until_ready()
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        t = threading.Thread(target=flood)
        t.start()
        normal = self.login("alice")
        for i in range(normal_n):
            normal.send(pgwire.query("select %d as jg_normal" % i))
            normal.until_ready()
        normal.close()
        t.join(timeout=600)
        self.assertFalse(t.is_alive())
        self.assertEqual(errors, [])
        flooder.close()
        self.barrier()
        mine = self.statements("alice")
        self.assertEqual(mine, ["select %d as jg_normal" % i for i in range(normal_n)])
        theirs = self.statements("erik")
        self.assertEqual(len(theirs), flood_n)
        self.assertEqual(len(set(theirs)), flood_n)
        self.assertEqual(self.dropped(), 0)


if __name__ == "__main__":
    run(GatewayAuditTest)
