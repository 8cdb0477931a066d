"""The real OpenID Connect provider of tests/idp (oidc-provider from npm)
as a process on loopback, for the end-to-end tests that sign in."""
import json
import os
import select
import subprocess
import urllib.request

from harness import SOURCE_DIR, USERS, free_port


IDP_DIR = os.path.join(SOURCE_DIR, "tests", "idp")


# Subjects the provider issues tokens for (accounts and clients).  jitgate
# refuses OIDC tokens whose subject is a static identity's (subject
# namespaces, docs/identity.md), so tests that sign in through the IdP use
# static identities without these names.
IDP_SUBJECTS = ("alice", "bob", "carol", "svc", "jitgate-web", "jitgate-conf")
STATIC_USERS = {k: v for k, v in USERS.items() if k not in IDP_SUBJECTS}


def ensure_node_modules():
    if not os.path.isdir(os.path.join(IDP_DIR, "node_modules", "oidc-provider")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=IDP_DIR,
                       check=True, stdout=subprocess.DEVNULL)


class Idp:
    """The provider process; keys live in a file so it can come back with
    the same keys or rotate them."""

    def __init__(self, workdir):
        self.port = free_port()
        self.issuer = "http://127.0.0.1:%d" % self.port
        self.keys = os.path.join(workdir, "idp-keys.json")
        self.log_path = os.path.join(workdir, "idp.log")
        self.proc = None

    def start(self, rotate=False):
        args = ["node", "idp.mjs", "--port", str(self.port), "--keys", self.keys]
        if rotate:
            args.append("--rotate")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, cwd=IDP_DIR, stdout=subprocess.PIPE,
                                     stderr=self.log)
        # A provider that never gets to listening must fail the test, not
        # hang it until ctest's timeout.
        ready, _, _ = select.select([self.proc.stdout], [], [], 60)
        if not ready:
            self.proc.kill()
            raise RuntimeError("IdP did not start within 60 s (see %s)"
                               % self.log_path)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("ready "):
            raise RuntimeError("IdP did not start: %r" % line)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.log.close()
            self.proc = None

    def control(self, what, method="GET"):
        """tests/idp's test hook: "hold" the next token request, "release"
        it, or "held" (how many are held; open held ones at each token
        request's arrival)."""
        req = urllib.request.Request(self.issuer + "/__test/" + what, method=method,
                                     data=b"" if method == "POST" else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def token(self, flow, user=None, resource="urn:jitgate"):
        args = ["node", "get-token.mjs", self.issuer, flow]
        if user:
            args.append(user)
        args += ["--resource", resource]
        out = subprocess.run(args, cwd=IDP_DIR, capture_output=True, text=True,
                             timeout=60)
        if out.returncode != 0:
            raise RuntimeError("get-token failed: " + out.stderr)
        return json.loads(out.stdout)["access_token"]
