#!/usr/bin/env python3
"""CPU per transaction of everything a pgbench run makes work
(bench/gateway.sh; standard library only).

  cpu_per_tx.py LABEL PROXY_PID POSTMASTER_PID -- pgbench ARGS...

Runs pgbench and prints, divided by the transactions it processed, the
CPU time (user and system, from /proc, in microseconds) and the context
switches (voluntary / involuntary) of

  * the proxy (PROXY_PID, every thread; the busiest threads apart), or
    nothing for a direct run (PROXY_PID 0),
  * PostgreSQL (the postmaster and all its children, those that exited
    during the run included: their times are in the postmaster's
    cutime/cstime once reaped),
  * pgbench itself (getrusage of the child),

and the whole machine's busy CPU per transaction from /proc/stat (which
includes whatever else runs: compare it with the sum of the three).  On a
machine where pgbench, PostgreSQL and the proxy share the cores, the
throughput at saturation is the cores divided by the sum: this is the
figure that says where a transaction's CPU goes, and it moves much less
with the load than the transactions per second do.

One line per component starting "CPU", and a machine-readable
"RESULT gw_cpu ..." line.  The exit status is pgbench's."""
import os
import re
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_fields(path):
    with open(path) as f:
        s = f.read()
    # comm may contain spaces and parentheses: split after the last ')'
    return s[s.rindex(")") + 2:].split()


def task_snap(pid):
    """{tid: [comm, utime, stime, run_ns, vol, invol, minflt]} for every
    thread."""
    out = {}
    base = "/proc/%d/task" % pid
    try:
        tids = os.listdir(base)
    except OSError:
        return out
    for tid in tids:
        d = "%s/%s" % (base, tid)
        try:
            f = stat_fields(d + "/stat")
            with open(d + "/comm") as c:
                comm = c.read().strip()
            with open(d + "/schedstat") as c:
                run_ns = int(c.read().split()[0])
            vol = invol = 0
            with open(d + "/status") as c:
                for line in c:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol = int(line.split()[1])
        except (OSError, ValueError):
            continue
        out[int(tid)] = [comm, int(f[11]), int(f[12]), run_ns, vol, invol,
                         int(f[7])]
    return out


def tree_cpu(root):
    """user, system ticks, voluntary, involuntary switches of root, its
    reaped children (cutime/cstime) and its live children."""
    u = s = vol = invol = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            f = stat_fields("/proc/%s/stat" % p)
            pid = int(p)
            if pid != root and int(f[1]) != root:
                continue
            u += int(f[11])
            s += int(f[12])
            if pid == root:
                u += int(f[13])
                s += int(f[14])
            with open("/proc/%s/status" % p) as c:
                for line in c:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return u, s, vol, invol


def children(root):
    n = 0
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and int(stat_fields("/proc/%s/stat" % p)[1]) == root:
                n += 1
        except (OSError, ValueError):
            pass
    return n


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return sum(v[:8]) - v[3] - v[4]


def tcp_counters():
    """Tcp OutSegs and a few TcpExt counters of this network namespace."""
    out = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for head, vals in zip(lines[::2], lines[1::2]):
            names, nums = head.split()[1:], vals.split()[1:]
            pre = head.split()[0]
            for k, v in zip(names, nums):
                if (pre, k) in (("Tcp:", "OutSegs"), ("TcpExt:", "DelayedACKs"),
                                ("TcpExt:", "TCPPureAcks"),
                                ("TcpExt:", "TCPHPAcks")):
                    out[k] = int(v)
    return out


def main():
    if len(sys.argv) < 5 or sys.argv[4] != "--":
        sys.exit(__doc__)
    label, proxy, pm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cmd = sys.argv[5:]
    t0 = task_snap(proxy) if proxy else {}
    p0 = tree_cpu(pm)
    c0 = children(pm)
    m0 = machine_busy()
    n0 = tcp_counters()
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # backends end once their client has gone (the gateway closes its
    # upstream side 100 ms after the client's): wait until the postmaster
    # has no more children than before the run (PgBouncer keeps its own)
    for _ in range(100):
        time.sleep(0.1)
        if children(pm) <= c0:
            break
    t1 = task_snap(proxy) if proxy else {}
    p1 = tree_cpu(pm)
    m1 = machine_busy()
    n1 = tcp_counters()
    m = re.search(r"number of transactions actually processed: (\d+)",
                  res.stdout)
    tps = re.search(r"^tps = ([0-9.]+)", res.stdout, re.M)
    n = int(m.group(1)) if m else 0
    sys.stdout.write(res.stdout if os.environ.get("CPU_VERBOSE") else "")
    if n == 0:
        sys.stderr.write(res.stderr)
        print("CPU %s: no transactions" % label)
        return res.returncode or 1

    def us(ticks):
        return ticks * 1e6 / TICK / n

    # the proxy, per thread
    thr = []
    for tid, a in t1.items():
        b = t0.get(tid, [a[0], 0, 0, 0, 0, 0, 0])
        d = [a[i] - b[i] for i in range(1, 7)]
        if any(d):
            thr.append((d[2], a[0], tid, d))
    thr.sort(reverse=True)
    pu = sum(t[3][0] for t in thr)
    ps = sum(t[3][1] for t in thr)
    prun = sum(t[3][2] for t in thr)
    pv = sum(t[3][3] for t in thr)
    pi = sum(t[3][4] for t in thr)
    pf = sum(t[3][5] for t in thr)
    gu, gs = us(pu), us(ps)
    qu, qs = us(p1[0] - p0[0]), us(p1[1] - p0[1])
    bu = (r1.ru_utime - r0.ru_utime) * 1e6 / n
    bs = (r1.ru_stime - r0.ru_stime) * 1e6 / n
    bv = (r1.ru_nvcsw - r0.ru_nvcsw) / n
    bi = (r1.ru_nivcsw - r0.ru_nivcsw) / n
    mach = us(m1 - m0)
    print("CPU %s: %d transactions, %s tps" %
          (label, n, tps.group(1) if tps else "?"))
    if proxy:
        print("CPU %s   proxy     user %6.2f sys %6.2f us/tx (run %6.2f), "
              "switches %.3f vol %.3f invol, page faults %.3f /tx" %
              (label, gu, gs, prun / 1e3 / n, pv / n, pi / n, pf / n))
        for run, comm, tid, d in thr[:4]:
            print("CPU %s     thread %-14s user %6.2f sys %6.2f us/tx "
                  "(run %6.2f), switches %.3f vol %.3f invol /tx" %
                  (label, comm, us(d[0]), us(d[1]), run / 1e3 / n,
                   d[3] / n, d[4] / n))
    print("CPU %s   postgres  user %6.2f sys %6.2f us/tx, switches %.3f vol "
          "%.3f invol /tx" % (label, qu, qs, (p1[2] - p0[2]) / n,
                              (p1[3] - p0[3]) / n))
    print("CPU %s   pgbench   user %6.2f sys %6.2f us/tx, switches %.3f vol "
          "%.3f invol /tx" % (label, bu, bs, bv, bi))
    tot = gu + gs + qu + qs + bu + bs
    print("CPU %s   sum %.2f us/tx (proxy %.2f); machine busy %.2f us/tx" %
          (label, tot, gu + gs, mach))
    if n1:
        # namespace-wide: meaningful when the bench has its own (unshare -n)
        print("CPU %s   TCP (this network namespace, per tx): %s" %
              (label, " ".join("%s %.2f" % (k, (n1[k] - n0.get(k, 0)) / n)
                               for k in sorted(n1))))
    print("RESULT gw_cpu label=%s n=%d proxy_user=%.2f proxy_sys=%.2f "
          "proxy_run=%.2f proxy_vol=%.3f proxy_invol=%.3f proxy_minflt=%.3f pg=%.2f pgbench=%.2f sum=%.2f "
          "machine=%.2f" % (label, n, gu, gs, prun / 1e3 / n, pv / n, pi / n, pf / n, qu + qs,
                            bu + bs, tot, mach))
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
