#!/usr/bin/env python3
"""Turns the log of bench/all.sh into the rows of the table in
docs/benchmarks.md (markdown on stdout).

    bench/table.py RESULTS.log

The log holds each bench's output between "#### BEGIN NAME" and
"#### END NAME rc=.. load_before=.. load_after=.. seconds=.. cmd=..";
only the lines "RESULT TAG key=value ..." that the benches print are
read, never their prose.  A row whose bench did not run or printed no
RESULT line says so instead of a figure.  Standard library only."""
import re
import sys

MACHINE = "2-core VM"


def parse(path):
    machine, steps, cur = {}, {}, None
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("#### FINISHED "):
            machine["finished"] = line.split()[2]
        elif line.startswith("#### MACHINE "):
            machine = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', line))
            machine = {k: v.strip('"') for k, v in machine.items()}
        elif line.startswith("#### BEGIN "):
            cur = {"name": line.split()[2], "results": [], "rc": None}
            steps[cur["name"]] = cur
        elif line.startswith("#### END ") and cur is not None:
            m = re.match(r"#### END (\S+) rc=(\S+) load_before=(\S+) load_after=(\S+) "
                         r"seconds=(\S+) cmd=(.*)$", line)
            if m:
                cur.update(rc=m.group(2), load_before=m.group(3), load_after=m.group(4),
                           seconds=m.group(5), cmd=m.group(6))
            cur = None
        elif cur is not None:
            m = re.search(r"(?:^|\s)RESULT (\w+)((?: [\w.]+=\S*)*)\s*$", line)
            if m:
                cur["results"].append((m.group(1), dict(
                    kv.split("=", 1) for kv in m.group(2).split())))
    return machine, steps


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def fmt(v, unit="", digits=None):
    v = num(v)
    if v != v:
        return "—"
    if digits is None:
        digits = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else 2)
    s = "{:,.{d}f}".format(v, d=digits)
    return s + (" " + unit if unit else "")


def ratio(a, b, digits=2):
    a, b = num(a), num(b)
    if a != a or b != b or b == 0:
        return "—"
    return "%.*f" % (digits, a / b)


def verdict(ok):
    if ok is None:
        return "figure"
    return "met" if ok else "**NOT MET**"


class Table:
    def __init__(self, machine, steps):
        self.machine, self.steps, self.rows = machine, steps, []

    def results(self, step, tag, **match):
        s = self.steps.get(step)
        if not s:
            return []
        return [f for t, f in s["results"] if t == tag
                and all(f.get(k) == str(v) for k, v in match.items())]

    def one(self, step, tag, **match):
        r = self.results(step, tag, **match)
        return r[-1] if r else None

    def row(self, step, what, figure, baseline, rat, target, ok, load_now=None):
        """load_now: the load the bench printed with this very figure"""
        s = self.steps.get(step)
        if s is None:
            cmd, load = "(not run)", "—"
        else:
            cmd = "`%s`" % s.get("cmd", "?")
            load = "%s → %s" % (s.get("load_before", "?"), s.get("load_after", "?"))
            if load_now:
                load = "%s (step %s)" % (load_now, load)
        v = verdict(ok)
        if s is not None and s.get("rc") not in ("0", None):
            # a bench that failed part-way: its figures may stand, the
            # row is not judged
            v = "**bench failed (exit %s)**" % s.get("rc")
        self.rows.append((what, figure, baseline, rat, target, v, cmd, MACHINE, load))

    def missing(self, step, what, target):
        s = self.steps.get(step)
        self.row(step, what, "no RESULT line" if s else "not run", "—", "—", target, False)

    def render(self):
        m = self.machine
        out = ["<!-- written by bench/table.py from %s -->" % (sys.argv[1].split("/")[-1]),
               "",
               "Machine (%s in the table): %s cores (%s), %s GiB, %s, Linux %s; "
               "commit %s, build `%s`%s; from %s to %s." % (
                   MACHINE, m.get("cores", "?"), m.get("cpu", "?"), m.get("mem_gib", "?"),
                   m.get("disk", "?"), m.get("kernel", "?"), m.get("commit", "?"),
                   m.get("build", "?").split("/")[-1],
                   " — **QUICK=1: sizes too small for the figures to mean anything**"
                   if m.get("quick") == "1" else "", m.get("started", "?"),
                   m.get("finished", "?")),
               "",
               "| figure (design) | measured | baseline, same run | ratio | target | | command | machine | load 1 min before → after |",
               "|---|---|---|---|---|---|---|---|---|"]
        for r in self.rows:
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
        return "\n".join(out) + "\n"


def gateway_rows(t):
    for ssl, name in (("disable", "plain"), ("require", "TLS")):
        for c in ("1", "16", "64"):
            r = t.one("gateway", "gw_pgbench", kind="S", ssl=ssl, clients=c)
            what = "gateway `pgbench -S` %s, %s client%s (§14)" % (name, c, "" if c == "1" else "s")
            want_dir = {"1": 0.95, "16": 0.85}.get(c) if ssl == "disable" else None
            target = "≥ 1.1× PgBouncer" + (", ≥ %.2f of direct" % want_dir if want_dir else "")
            if not r:
                t.missing("gateway", what, target)
                continue
            g, b, d = num(r["jitgate"]), num(r["pgbouncer"]), num(r["direct"])
            ok = g >= 1.1 * b and (want_dir is None or g >= want_dir * d)
            t.row("gateway", what, fmt(g, "tps"),
                  "PgBouncer %s, direct %s" % (fmt(b), fmt(d)),
                  "%s of PgBouncer, %s of direct" % (ratio(g, b), ratio(g, d)), target, ok,
                  r.get("load"))
    for ssl, name in (("disable", "plain"), ("require", "TLS")):
        # CPU per transaction (bench/cpu_per_tx.py): the proxy's own, from
        # the scheduler's run time of all its threads, and everything's
        # (proxy + PostgreSQL + pgbench), at 1 / 16 / 64 clients
        cols = {}
        for who in ("jitgate", "pgbouncer", "direct"):
            cols[who] = [t.one("gateway", "gw_cpu", label="%s:%s:%s" % (who, ssl, c))
                         for c in ("1", "16", "64")]
        what = "CPU per relayed `pgbench -S` transaction, %s, 1 / 16 / 64 clients (issue 12)" % name
        if not all(cols["jitgate"]) or not all(cols["pgbouncer"]):
            t.missing("gateway", what, "(figure)")
            continue

        def trio(rs, key):
            return " / ".join(fmt(r[key], digits=1) for r in rs)
        t.row("gateway", what,
              "proxy %s µs; proxy + PostgreSQL + pgbench %s µs" % (
                  trio(cols["jitgate"], "proxy_run"), trio(cols["jitgate"], "sum")),
              "PgBouncer %s µs; with PostgreSQL + pgbench %s µs%s" % (
                  trio(cols["pgbouncer"], "proxy_run"), trio(cols["pgbouncer"], "sum"),
                  "; direct %s µs" % trio(cols["direct"], "sum") if all(cols["direct"]) else ""),
              "proxy %s of PgBouncer" % " / ".join(
                  ratio(a["proxy_run"], b["proxy_run"])
                  for a, b in zip(cols["jitgate"], cols["pgbouncer"])),
              "(figure)", None)
    for c in ("1", "16"):
        r = t.one("gateway", "gw_pgbench", kind="C", ssl="disable", clients=c)
        what = "gateway `pgbench -S -C` (connect per transaction), %s client%s (§8)" % (
            c, "" if c == "1" else "s")
        if not r:
            t.missing("gateway", what, "≥ 0.90 of direct")
            continue
        g, b, d = num(r["jitgate"]), num(r["pgbouncer"]), num(r["direct"])
        t.row("gateway", what, fmt(g, "tps"),
              "direct %s (PgBouncer %s: it keeps its backends)" % (fmt(d), fmt(b)),
              "%s of direct" % ratio(g, d), "≥ 0.90 of direct", g >= 0.9 * d, r.get("load"))
    for c in ("1", "16"):
        r = t.one("gateway", "gw_audit", clients=c)
        what = "`audit_queries: true`, cost per statement, %s client%s (issue 12)" % (
            c, "" if c == "1" else "s")
        if not r:
            t.missing("gateway", what, "(figure)")
            continue
        t.row("gateway", what, "%s µs/statement (%s tps)" % (fmt(r["cost_us"]), fmt(r["audit"])),
              "same resource without audit %s tps" % fmt(r["plain"]),
              ratio(r["audit"], r["plain"]), "(figure)", None, r.get("load"))
    for step, ssl, name in (("gateway", "disable", "plain"), ("gateway_tls", "require", "TLS")):
        j = t.one(step, "gw_syscalls", who="jitgate", ssl=ssl)
        p = t.one(step, "gw_syscalls", who="pgbouncer", ssl=ssl)
        what = "system calls per relayed transaction, %s, marginal (issue 12)" % name
        if not j or not p:
            t.missing(step, what, "≤ PgBouncer")
            continue
        t.row(step, what, "%s (relaying thread %s)" % (j["per_tx"], j["thread_per_tx"]),
              "PgBouncer %s" % p["per_tx"], ratio(j["thread_per_tx"], p["per_tx"]),
              "≤ PgBouncer", num(j["thread_per_tx"]) <= num(p["per_tx"]) + 0.05)
        ji = t.one(step, "gw_instr", who="jitgate", ssl=ssl)
        pi = t.one(step, "gw_instr", who="pgbouncer", ssl=ssl)
        what = "instructions per relayed transaction (callgrind), %s, marginal (issue 12)" % name
        if not ji:
            t.missing(step, what, "(figure)")
            continue
        t.row(step, what, "%s (the gateway loop, `gw_main` inclusive)" % fmt(ji["per_tx"]),
              "PgBouncer %s (whole process)" % fmt(pi["per_tx"]) if pi and num(pi["per_tx"]) > 0 else "—",
              ratio(ji["per_tx"], pi["per_tx"]) if pi and num(pi["per_tx"]) > 0 else "—",
              "(figure)", None)
    r = t.one("gateway", "gw_harness_revoke")
    what = "revoke → FATAL, %s sessions on one grant, gateway module (harness) (§8)" % (
        r["sessions"] if r else "100")
    if r:
        t.row("gateway", what, "p50 %s, p99 %s ms" % (r["p50_ms"], r["p99_ms"]), "—", "—",
              "p99 ≤ 10 ms", num(r["p99_ms"]) <= 10 and r["cut"] == r["sessions"])
    else:
        t.missing("gateway", what, "p99 ≤ 10 ms")
    r = t.one("gateway", "gw_harness_expire")
    what = "expiry, %s grants at the same instant, gateway module (harness) (§8: 10k)" % (
        "{:,}".format(int(r["sessions"])) if r else "1,000")
    if r:
        t.row("gateway", what, "p50 %s, p99 %s, max %s ms after `expires_at`"
              % (fmt(r["p50_ms"]), fmt(r["p99_ms"]), fmt(r["max_ms"])), "—", "—",
              "every cut ≤ 50 ms", num(r["max_ms"]) <= 50 and r["cut"] == r["sessions"])
    else:
        t.missing("gateway", what, "every cut ≤ 50 ms")


def hold_rows(t):
    hs = t.results("hold", "gw_hold")
    rv = t.results("hold", "gw_hold_revoke")
    cm = t.results("hold", "gw_hold_commits")
    disk = t.one("hold", "disk_fdatasync")
    if not hs:
        t.missing("hold", "10,000 gateway sessions held, daemon memory per session (§14)",
                  "≤ 64 KiB")
        return
    for i, h in enumerate(hs):
        real = i > 0
        what = ("%s sessions to real PostgreSQL, memory per session (issue 12)" if real else
                "10,000 gateway sessions held (%s here), daemon memory per session (§14)") % (
                    "{:,}".format(int(h["sessions"])))
        t.row("hold", what, "%s KiB" % h["kib_per_session"],
              "daemon RSS %s MiB before the sessions" % fmt(num(h["rss_before_kib"]) / 1024),
              "%s MiB with them" % fmt(num(h["rss_after_kib"]) / 1024), "≤ 64 KiB",
              num(h["kib_per_session"]) <= 64)
        if i < len(rv):
            r = rv[i]
            base = "the revoke's HTTP answer p50 %s, p99 %s ms" % (r["http_p50_ms"], r["http_p99_ms"])
            if i < len(cm):
                base += "; engine commits meanwhile mean %s ms, %s of %s over 10 ms" % (
                    cm[i]["mean_ms"], cm[i]["over_10ms"], cm[i]["n"])
            if disk and not real:
                base += "; disk 4 KiB fdatasync p50 %s, p99 %s ms" % (
                    fmt(disk["p50_ms"]), fmt(disk["p99_ms"]))
            t.row("hold", "revoke → FATAL with the %s sessions open, %s revokes (§8, issue 12)"
                  % ("{:,}".format(int(r["open"])), r["cuts"]),
                  "p50 %s, p99 %s ms" % (r["fatal_p50_ms"], r["fatal_p99_ms"]), base,
                  "FATAL − HTTP answer at p99: %.2f ms" % (num(r["fatal_p99_ms"]) - num(r["http_p99_ms"])),
                  "p99 ≤ 10 ms", num(r["fatal_p99_ms"]) <= 10)


def expire_rows(t):
    r = t.one("expire", "gw_expire")
    d = t.one("expire", "gw_expire_daemon")
    what = "expiry lateness, %s grants, one session each, real daemon (§8)" % (
        "{:,}".format(int(r["sessions"])) if r else "1,000")
    if not r:
        t.missing("expire", what, "every cut ≤ 50 ms after `expires_at`")
        return
    t.row("expire", what, "FATAL p50 %s, p99 %s, max %s ms after `expires_at`"
          % (r["p50_ms"], r["p99_ms"], r["max_ms"]),
          ("daemon's own cut (its log) p50 %s, p99 %s, max %s ms" % (d["p50_ms"], d["p99_ms"], d["max_ms"])
           if d else "—"),
          "%s distinct `expires_at`" % r["distinct_expires_at"],
          "every cut ≤ 50 ms", num(r["max_ms"]) <= 50 and r["cut"] == r["sessions"])


def daemon_rows(t):
    r = t.one("index", "index")
    if r:
        t.row("index", "in-process check at 1M grants, p50 / p99 (§8)",
              "%s / %s ns" % (fmt(r["p50_big_ns"]), fmt(r["p99_big_ns"])),
              "clock pair %s ns (included)%s" % (
                  r["clock_ns"], "; 2 MiB pages under the 1M index: %s MiB" % r["thp_mib"]
                  if "thp_mib" in r else ""),
              "—", "p50 ≤ 1 µs, p99 ≤ 5 µs",
              num(r["p50_big_ns"]) <= 1000 and num(r["p99_big_ns"]) <= 5000)
        t.row("index", "grant lookup 1M vs 1k, p50 (§8, issue 12)",
              "%s ns at 1M" % fmt(r["p50_big_ns"]),
              "%s ns at 1k%s" % (fmt(r["p50_small_ns"]),
                                 "; one DRAM access %s ns (the floor)" % fmt(r["dram_ns"])
                                 if "dram_ns" in r else ""),
              "%s×" % ratio(r["p50_big_ns"], r["p50_small_ns"]), "≤ 2×",
              num(r["p50_big_ns"]) <= 2 * num(r["p50_small_ns"]))
        if "p50_served_big_ns" in r:
            # a model of the daemon's order of work, never the verdict
            t.row("index", "grant lookup 1M vs 1k where `/v1/check` does it (MODEL: hint at "
                  "body scan, the daemon's auth work, then the lookup; what the lookup adds "
                  "to that work, interquartile mean) (issue 12, not the headline)",
                  "%s ns at 1M" % fmt(r["p50_served_big_ns"]),
                  "%s ns at 1k; without the hint %s / %s ns; the work itself %s ns at 1M" % (
                      fmt(r["p50_served_small_ns"]), fmt(r.get("p50_unhinted_small_ns")),
                      fmt(r.get("p50_unhinted_big_ns")), fmt(r["served_work_ns"])),
                  "%s×" % ratio(r["p50_served_big_ns"], r["p50_served_small_ns"]),
                  "(figure)", None)
        t.row("index", "memory per active grant at 1M (§8)", "%s B" % r["bytes_per_grant"],
              "RSS growth %s B per grant" % r["rss_per_grant"], "—", "≤ 256 B",
              num(r["bytes_per_grant"]) <= 256)
    else:
        t.missing("index", "grant lookup 1M vs 1k (§8)", "≤ 2×")
    r = t.one("check_http", "check_http")
    c = t.one("check_http", "check_http_cpu")
    if r:
        t.row("check_http", "`/v1/check` over HTTP keep-alive, %s grants, median of %s rounds (§8, §14)"
              % ("{:,}".format(int(r["grants"])), r["rounds"]), fmt(r["jitgate_rps"], "req/s"),
              "nginx static 200: %s req/s" % fmt(r["nginx_rps"]), fmt(r["ratio"], digits=2),
              "≥ 0.8 of nginx (§14; §8: 0.5)", num(r["ratio"]) >= 0.8)
        t.row("check_http", "`/v1/check` p99, same round (§8)", "%s ms" % r["jitgate_p99_ms"],
              "nginx p99 %s ms" % r["nginx_p99_ms"], ratio(r["jitgate_p99_ms"], r["nginx_p99_ms"]),
              "p99 ≤ 1 ms", num(r["jitgate_p99_ms"]) <= 1)
        if c:
            t.row("check_http", "daemon CPU per `/v1/check` (schedstat; load-independent)",
                  "%s µs" % c["jitgate_us"], "nginx %s µs per request" % c["nginx_us"],
                  "capacity %s of nginx" % fmt(c["capacity"], digits=2), "(figure)", None)
    else:
        t.missing("check_http", "`/v1/check` vs nginx (§14)", "≥ 0.8 of nginx")
    r = t.one("cycle", "cycle")
    if r:
        t.row("cycle", "request+approve, durable, %s clients, SQLite (§8)" % r["clients"],
              fmt(r["cycles_per_s"], "cycles/s"),
              "raw SQLite %s commits/s" % fmt(r["sqlite_commits_per_s"]),
              "%s writes per raw commit (%s per group commit)" % (
                  ratio(2 * num(r["cycles_per_s"]), r["sqlite_commits_per_s"]),
                  r["writes_per_commit"]),
              "≥ 2,000/s", num(r["cycles_per_s"]) >= 2000)
    else:
        t.missing("cycle", "request+approve on SQLite (§8)", "≥ 2,000/s")


def jwt_rows(t):
    for alg in ("RS256", "PS256", "ES256", "EdDSA"):
        r = t.one("jwt", "jwt", alg=alg)
        target = "≥ 0.8 of `openssl speed`" if alg in ("RS256", "PS256") else "(figure)"
        what = "JWT %s verification per CPU second, median round (issue 12)" % alg
        if not r:
            t.missing("jwt", what, target)
            continue
        t.row("jwt", what, fmt(r["jitgate_per_s"], "/s"),
              "`openssl speed` %s/s%s" % (fmt(r["openssl_per_s"]),
                                          " (rsa2048, PKCS#1 v1.5)" if alg == "PS256" else ""),
              "%s (in-process primitive %s)" % (fmt(r["vs_openssl"], digits=2),
                                                fmt(r["vs_raw"], digits=2)),
              target, num(r["vs_openssl"]) >= 0.8 if alg in ("RS256", "PS256") else None)


def idp_rows(t):
    q = t.one("idp_hang", "idp_hang", phase="quiet")
    a = t.one("idp_hang", "idp_hang", phase="attack")
    what = "unknown-kid tokens while the IdP hangs: expiry cuts and `/healthz` (§14)"
    if not a:
        t.missing("idp_hang", what, "cuts ≤ 50 ms late; `/healthz` answers")
        return
    ok = (num(a["late_max_ms"]) <= 50 and a["cuts"] == a["of"]
          and num(a["healthz_max_ms"]) == num(a["healthz_max_ms"]))
    t.row("idp_hang", what,
          "cuts %s/%s, max %s ms late; `/healthz` max %s ms; %s + %s unknown-kid tokens answered "
          "(max %s / %s ms)" % (a["cuts"], a["of"], a["late_max_ms"], a["healthz_max_ms"],
                                a.get("unknown_kid_api", "?"), a.get("unknown_kid_gw", "?"),
                                a.get("api_max_ms", "?"), a.get("gw_max_ms", "?")),
          ("quiet: max %s ms late, `/healthz` max %s ms" % (q["late_max_ms"], q["healthz_max_ms"])
           if q else "—"),
          ("late max %s of quiet" % ratio(a["late_max_ms"], max(num(q["late_max_ms"]), 0.1))
           if q else "—"),
          "cuts ≤ 50 ms late; `/healthz` answers", ok)


def ha_rows(t):
    r = t.one("ha", "ha_revoke")
    if r:
        t.row("ha", "cross-node revoke → FATAL, %s sessions (§8, §14)" % r["sessions"],
              "p50 %s, p99 %s ms" % (r["cross_p50_ms"], r["cross_p99_ms"]),
              "same node p50 %s, p99 %s ms" % (r["same_p50_ms"], r["same_p99_ms"]),
              "p99 %s of same node" % ratio(r["cross_p99_ms"], r["same_p99_ms"]),
              "p99 ≤ 100 ms", num(r["cross_p99_ms"]) <= 100)
    else:
        t.missing("ha", "cross-node revoke → FATAL (§14)", "p99 ≤ 100 ms")
    r = t.one("ha", "ha_cycles")
    if r:
        t.row("ha", "request+approve on PostgreSQL, %s clients (§14)" % r["clients"],
              fmt(r["pg_cycles_per_s"], "cycles/s"),
              "jitgate on SQLite %s cycles/s; raw single-row commits PostgreSQL %s, SQLite %s/s"
              % (fmt(r["sqlite_cycles_per_s"]), fmt(r["raw_pg_commits_per_s"]),
                 fmt(r["raw_sqlite_commits_per_s"])),
              "%s of SQLite%s" % (ratio(r["pg_cycles_per_s"], r["sqlite_cycles_per_s"]),
                                  "; CPU per cycle %s against %s µs (load-independent)"
                                  % (fmt(r["pg_cpu_us_per_cycle"]), fmt(r["sqlite_cpu_us_per_cycle"]))
                                  if "pg_cpu_us_per_cycle" in r else ""),
              "≥ the SQLite figure",
              num(r["pg_cycles_per_s"]) >= num(r["sqlite_cycles_per_s"]))
    else:
        t.missing("ha", "request+approve on PostgreSQL (§14)", "≥ the SQLite figure")
    r = t.one("ha", "ha_check")
    if r:
        t.row("ha", "`/v1/check` latency on node B while node A writes at full rate (issue 10)",
              "p50 %s, p99 %s ms" % (r["loaded_p50_ms"], r["loaded_p99_ms"]),
              "idle p50 %s, p99 %s ms" % (r["idle_p50_ms"], r["idle_p99_ms"]),
              "p99 %s of idle" % ratio(r["loaded_p99_ms"], r["idle_p99_ms"]), "(figure)", None)
    else:
        t.missing("ha", "check latency while another node writes (issue 10)", "(figure)")


def ui_rows(t):
    r = t.one("ui_live", "ui_flip")
    if r:
        t.row("ui_live", "web UI: approval → requester's page shows `active`, %s runs (§14)" % r["runs"],
              "p50 %s, p99 %s ms after the approval's HTTP answer (from sending it: %s / %s)"
              % (r["page_p50_ms"], r["page_p99_ms"], r["page_sent_p50_ms"], r["page_sent_p99_ms"]),
              "raw SSE client p50 %s, p99 %s ms (from sending: %s / %s)"
              % (r["raw_p50_ms"], r["raw_p99_ms"], r["raw_sent_p50_ms"], r["raw_sent_p99_ms"]),
              "page/raw from sending, p50 %s" % ratio(r["page_sent_p50_ms"], max(num(r["raw_sent_p50_ms"]), 0.01)),
              "≤ 1 s, no reload", num(r["page_p99_ms"]) <= 1000)
    else:
        t.missing("ui_live", "web UI: approval → page shows active (§14)", "≤ 1 s")
    r = t.one("ui_live", "ui_fanout")
    if r:
        t.row("ui_live", "SSE fan-out: a change reaches %s open streams" % "{:,}".format(int(r["clients"])),
              "p50 %s, p99 %s ms; %s ms daemon CPU per change; %s KiB per stream"
              % (r["many_p50_ms"], r["many_p99_ms"], r["many_cpu_ms"], r["kib_per_stream"]),
              "1 stream: p50 %s, p99 %s ms; %s ms CPU" % (r["one_p50_ms"], r["one_p99_ms"], r["one_cpu_ms"]),
              "CPU %s×" % ratio(r["many_cpu_ms"], max(num(r["one_cpu_ms"]), 0.01), 1), "(figure)", None)


def main():
    machine, steps = parse(sys.argv[1])
    t = Table(machine, steps)
    gateway_rows(t)
    hold_rows(t)
    expire_rows(t)
    ha_rows(t)
    daemon_rows(t)
    jwt_rows(t)
    idp_rows(t)
    ui_rows(t)
    sys.stdout.write(t.render())
    durations = ", ".join("%s %s s" % (n, s.get("seconds", "?")) for n, s in steps.items())
    total = sum(int(s.get("seconds", 0) or 0) for s in steps.values())
    sys.stdout.write("\nSteps: %s; %d min %d s in all.\n" % (durations, total // 60, total % 60))


if __name__ == "__main__":
    main()
