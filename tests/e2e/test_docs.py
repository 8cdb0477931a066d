"""The operator documentation stays true to the code: every config key the
loader accepts is documented in docs/configuration.md, in the section of
its mapping (and every key a table there names is one the loader accepts);
every audit action of src/core/actions.c is in docs/audit.md and in the
notify `events` list; every metric of src/server/metrics.c and every
endpoint path of src/api/ is in docs/api.md (or docs/slack.md); every
command of `jitgate --help` is in docs/cli.md, whose exit-code table
matches CLI_EXIT_*; every `section.key`, link and source path the docs
name exists; the README's document index lists every file of docs/, and
the commands the docs tell operators to run on the shipped examples
succeed.

The sources are parsed, not listed here: a key, action, metric or endpoint
added without its documentation fails this test, naming what is missing."""
import glob
import os
import re
import subprocess
import unittest

from harness import JITGATE, SOURCE_DIR, Server, base_config, run


def read(rel):
    with open(os.path.join(SOURCE_DIR, rel), encoding="utf-8") as f:
        return f.read()


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


# Loader section name (the third argument of cfgval_fields) -> the heading
# of docs/configuration.md that documents its keys.  A new mapping in the
# loader needs a line here and its keys under that heading.
SECTION_HEADING = {
    "config": "Top level",
    "identity": "identities",
    "oidc": "oidc",
    "gateway": "gateway",
    "gateway.tls": "gateway",
    "limits": "limits",
    "web": "web",
    "resource": "resources",
    "upstream": "resources",
    "tls": "resources",
    "role": "resources",
    "upstream of a role": "resources",
    "role of a generic resource": "resources",
    "policy": "policies",
    "break_glass": "policies",
    "stage": "policies",
    "auto_approve": "policies",
    "auto_approve.when": "policies",
    "shift": "policies",
    "selftest": "selftest",
    "notify": "notify",
    "notify_people": "notify_people",
    "webhooks": "notify_people",
    "slack": "slack",
}


def loader_sections():
    """{section: [keys]} from every cfgval_fields(c, m, "SECTION", ARRAY, v)
    call in src/config/*.c, ARRAY being a `static const char *const
    ARRAY[] = {...}` of the same function."""
    out = {}
    files = sorted(glob.glob(os.path.join(SOURCE_DIR, "src/config/*.c")))
    for path in files:
        with open(path, encoding="utf-8") as f:
            src = strip_c_comments(f.read())
        arrays = []  # (offset, name, keys)
        for m in re.finditer(
                r"static\s+const\s+char\s*\*\s*const\s+(\w+)\s*\[\w*\]\s*=\s*\{(.*?)\}\s*;",
                src, re.S):
            arrays.append((m.start(), m.group(1), re.findall(r'"([^"]*)"', m.group(2))))
        for m in re.finditer(r'cfgval_fields\s*\(\s*\w+\s*,\s*[^,]+,\s*"([^"]+)"\s*,\s*(\w+)',
                             src):
            section, name = m.group(1), m.group(2)
            # the nearest preceding array of that name (each function has its own `keys`)
            found = [a for a in arrays if a[1] == name and a[0] < m.start()]
            if not found:
                raise AssertionError("%s: cfgval_fields(\"%s\", %s): array not found"
                                     % (path, section, name))
            out.setdefault(section, [])
            for k in found[-1][2]:
                if k not in out[section]:
                    out[section].append(k)
    return out


def doc_section(doc, heading):
    """The text under `## HEADING` or `### HEADING` up to the next heading of
    level 2 or 3 (level-4 subsections are part of it)."""
    m = re.search(r"^#{2,3} " + re.escape(heading) + r"\s*$", doc, re.M)
    if not m:
        return None
    rest = doc[m.end():]
    n = re.search(r"^#{2,3} ", rest, re.M)
    return rest[:n.start()] if n else rest


def key_documented(text, key):
    """`key` in backquotes, or KEY: as a mapping key of a YAML example."""
    if "`" + key + "`" in text:
        return True
    return re.search(r"(^|[\s{,])" + re.escape(key) + r":", text, re.M) is not None


def key_table_rows(text):
    """First-column `names` of the tables whose first header cell is `key`."""
    rows = []
    in_key_table = False
    for line in text.splitlines():
        if not line.startswith("|"):
            in_key_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "key":
            in_key_table = True
            continue
        if in_key_table and cells and not set(cells[0]) <= set("-: "):
            m = re.fullmatch(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0])
            if m:
                rows.append(m.group(1))
    return rows


def audit_actions():
    src = strip_c_comments(read("src/core/actions.c"))
    acts = re.findall(r'\[ACT_\w+\]\s*=\s*"([a-z_.]+)"', src)
    assert len(acts) >= 16, acts
    return acts


class ConfigKeys(unittest.TestCase):
    def setUp(self):
        self.doc = read("docs/configuration.md")
        self.sections = loader_sections()

    def test_parser_finds_the_schema(self):
        # guards the test itself: a refactor of the loader that hides the
        # key arrays from this parser must not turn the checks below vacuous
        self.assertIn("listen", self.sections.get("config", []))
        self.assertIn("http_connections", self.sections.get("limits", []))
        self.assertIn("ticket_pattern", self.sections.get("policy", []))
        self.assertGreaterEqual(sum(len(v) for v in self.sections.values()), 80)

    def test_every_loader_section_is_mapped_to_a_heading(self):
        unknown = sorted(set(self.sections) - set(SECTION_HEADING))
        self.assertEqual(unknown, [],
                         "new config mapping(s) in src/config/: document them in "
                         "docs/configuration.md and map them in SECTION_HEADING of "
                         "tests/e2e/test_docs.py")

    def test_every_key_is_documented_in_its_section(self):
        missing = []
        for section, keys in sorted(self.sections.items()):
            heading = SECTION_HEADING.get(section)
            text = doc_section(self.doc, heading) if heading else None
            if text is None:
                missing.append("%s: no heading '%s' in docs/configuration.md"
                               % (section, heading))
                continue
            for k in keys:
                if not key_documented(text, k):
                    missing.append("%s.%s (under '%s')" % (section, k, heading))
        self.assertEqual(missing, [],
                         "config keys the loader accepts but docs/configuration.md "
                         "does not document")

    def test_every_documented_key_is_accepted(self):
        by_heading = {}
        for section, keys in self.sections.items():
            by_heading.setdefault(SECTION_HEADING.get(section), set()).update(keys)
        stale = []
        for heading, keys in sorted(by_heading.items(), key=lambda kv: str(kv[0])):
            text = doc_section(self.doc, heading) if heading else None
            if text is None:
                continue
            for row in key_table_rows(text):
                if row not in keys:
                    stale.append("%s: `%s`" % (heading, row))
        self.assertEqual(stale, [],
                         "keys in docs/configuration.md tables that the loader refuses")

    def test_restart_only_keys_are_named_in_reload(self):
        # the keys serve.c's reload warns about are the ones docs say need
        # a restart
        src = strip_c_comments(read("src/server/serve.c"))
        m = re.search(r"static void warn_restart_only\(.*?\n\}", src, re.S)
        self.assertIsNotNone(m, "warn_restart_only not found in src/server/serve.c")
        keys = re.findall(r'\{\s*"([a-z_.]+)"\s*,', m.group(0))
        self.assertIn("listen", keys)
        text = doc_section(self.doc, "Reload")
        self.assertIsNotNone(text)
        self.assertEqual([k for k in keys if "`" + k + "`" not in text], [],
                         "keys the reload warns need a restart, missing from "
                         "docs/configuration.md 'Reload'")

    def test_every_notify_event_is_listed(self):
        text = doc_section(self.doc, "notify")
        self.assertIsNotNone(text)
        missing = [a for a in audit_actions() if a not in text]
        self.assertEqual(missing, [], "audit actions missing from notify `events`")


    def test_dotted_key_references_name_real_keys(self):
        # `limits.login_timeout`, `web.public_url`, ... anywhere in the docs
        prefix = {"oidc": "oidc", "web": "web", "gateway": "gateway",
                  "limits": "limits", "slack": "slack", "selftest": "selftest",
                  "notify_people": "notify_people", "upstream": "upstream",
                  "break_glass": "break_glass", "auto_approve": "auto_approve"}
        wrong = []
        for path in all_docs():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in re.finditer(r"`(%s)\.([a-z_]+)([.:][a-z]*)?" % "|".join(prefix), text):
                # not a key: a file (notify_people.c), a store key
                # (oidc.jwks:ISSUER), a deeper path
                if m.group(3) or m.group(2) in ("c", "h", "md", "py"):
                    continue
                if m.group(2) not in self.sections.get(prefix[m.group(1)], []):
                    wrong.append("%s: %s.%s" % (os.path.relpath(path, SOURCE_DIR),
                                                m.group(1), m.group(2)))
        self.assertEqual(wrong, [], "docs name config keys the loader does not have")


def md_anchors(path):
    """The #fragments of a Markdown file's headings, as GitHub makes them."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
            for h in re.findall(r"^#+ (.*)$", text, re.M)}


def all_docs():
    return [os.path.join(SOURCE_DIR, "README.md")] + sorted(
        glob.glob(os.path.join(SOURCE_DIR, "docs/*.md")))


class AuditActions(unittest.TestCase):
    def test_every_action_is_in_audit_md(self):
        doc = read("docs/audit.md")
        missing = [a for a in audit_actions() if "`" + a + "`" not in doc]
        self.assertEqual(missing, [], "audit actions of src/core/actions.c missing "
                         "from docs/audit.md")

    def test_audit_md_names_no_action_the_code_lacks(self):
        doc = read("docs/audit.md")
        known = set(audit_actions())
        named = set(re.findall(
            r"`((?:request|check|session|auth|config)\.[a-z_]+)`", doc))
        self.assertEqual(sorted(named - known), [],
                         "docs/audit.md names actions src/core/actions.c lacks")


class MetricsAndEndpoints(unittest.TestCase):
    def test_every_metric_is_documented(self):
        src = strip_c_comments(read("src/server/metrics.c"))
        names = set(re.findall(r"# TYPE (jitgate_[a-z_]+)", src))
        names |= set(re.findall(r'"(jitgate_[a-z_]+_(?:seconds|total))"', src))
        self.assertIn("jitgate_checks_total", names)
        doc = read("docs/api.md")
        metrics = doc_section(doc, "Metrics") or ""
        missing = sorted(n for n in names if n not in metrics)
        self.assertEqual(missing, [], "metrics missing from docs/api.md 'Metrics'")

    def test_every_error_code_is_in_the_errors_table(self):
        pairs = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src/api/*.c")):
            with open(path, encoding="utf-8") as f:
                src = strip_c_comments(f.read())
            pairs |= set(re.findall(r'conn_error\(\w+,\s*([0-9]{3}),\s*"([a-z_]+)"', src))
            pairs |= set(re.findall(r'\{JG_ERR_\w+,\s*([0-9]{3}),\s*"([a-z_]+)"\}', src))
        self.assertIn(("409", "conflict"), pairs)
        table = doc_section(read("docs/api.md"), "Errors") or ""
        rows = set(re.findall(r"^\| ([0-9]{3}) \| `([a-z_]+)` \|", table, re.M))
        self.assertEqual(sorted(pairs - rows), [],
                         "HTTP status and error code pairs missing from docs/api.md 'Errors'")

    def test_every_endpoint_is_documented(self):
        paths = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src/api/*.c")):
            with open(path, encoding="utf-8") as f:
                src = strip_c_comments(f.read())
            for p in re.findall(r'"(/(?:v1|auth)/[a-z_/]+|/healthz|/readyz|/metrics)"', src):
                paths.add(p.rstrip("/"))
        paths.discard("/auth")
        self.assertIn("/v1/check", paths)
        doc = read("docs/api.md") + read("docs/slack.md")
        missing = sorted(p for p in paths if not re.search(
            re.escape(p) + r"(?![a-z_/])", doc))
        self.assertEqual(missing, [], "endpoints missing from docs/api.md")


def shape_keys(shape):
    """`{a, b?, c: {d, e}}` -> {"a": None, "b": None, "c": {"d": None, ...}}
    with the optional (`?`) names in a second set."""
    def split(body):
        parts, depth, cur = [], 0, ""
        for ch in body:
            if ch in "{[":
                depth += 1
            elif ch in "}]":
                depth -= 1
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        return [x.strip() for x in parts if x.strip()]

    keys, optional = {}, set()
    for part in split(shape.strip()[1:-1]):
        name, _, value = part.partition(":")
        name = name.strip()
        if name.endswith("?"):
            name = name[:-1]
            optional.add(name)
        value = value.strip()
        keys[name] = shape_keys(value) if value.startswith("{") else None
    return keys, optional


def balanced(text, start):
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i + 1]
    return None


class LiveAnswers(unittest.TestCase):
    """The answer shapes in docs/api.md's endpoint table are what the
    daemon sends: every documented member is there (unless marked `?`),
    and the daemon sends no member the table does not name."""

    @classmethod
    def setUpClass(cls):
        cls.srv = Server(base_config())

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def documented(self, method, path):
        doc = read("docs/api.md")
        for line in doc.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and re.match(r"`%s %s[`?]" % (method, re.escape(path)),
                                            cells[0]):
                i = cells[2].find("`{")
                self.assertGreaterEqual(i, 0, line)
                return shape_keys(balanced(cells[2], i + 1))
        self.fail("no row for %s %s in docs/api.md's endpoint table" % (method, path))

    def assert_shape(self, method, path, answer, nested=()):
        (keys, optional) = self.documented(method, path)
        self.assertIsInstance(answer, dict, answer)
        self.assertEqual(sorted(set(answer) - set(keys)), [],
                         "%s %s sends members docs/api.md does not name" % (method, path))
        self.assertEqual(sorted(set(keys) - optional - set(answer)), [],
                         "%s %s lacks members docs/api.md promises" % (method, path))
        for name in nested:
            sub, sub_opt = keys[name]
            self.assertEqual(sorted(set(answer[name]) - set(sub)), [], name)
            self.assertEqual(sorted(set(sub) - sub_opt - set(answer[name])), [], name)

    def test_whoami(self):
        st, body = self.srv.http("GET", "/v1/whoami", who="alice")
        self.assertEqual(st, 200, body)
        self.assert_shape("GET", "/v1/whoami", body)

    def test_check(self):
        # denied (no grant), then allowed with the grant's members
        st, body = self.srv.check("erik", "billing-api", "read")
        self.assertEqual(st, 200, body)
        self.assertFalse(body["allowed"], body)
        self.assert_shape("POST", "/v1/check", body)
        st, req = self.srv.request("erik", "billing-api", "read")
        self.assertEqual((st, req.get("state")), (201, "active"), req)
        st, body = self.srv.check("erik", "billing-api", "read")
        self.assertEqual(st, 200, body)
        self.assertTrue(body["allowed"], body)
        self.assert_shape("POST", "/v1/check", body)
        self.assertEqual(sorted(body), ["allowed", "expires_at", "remaining_s",
                                        "request_id"])

    def test_listings(self):
        st, body = self.srv.http("GET", "/v1/requests", who="alice")
        self.assertEqual(st, 200, body)
        self.assert_shape("GET", "/v1/requests", body)
        st, body = self.srv.http("GET", "/v1/audit", who="erin")
        self.assertEqual(st, 200, body)
        self.assert_shape("GET", "/v1/audit", body)
        st, body = self.srv.http("GET", "/v1/catalog", who="alice")
        self.assertEqual(st, 200, body)
        self.assert_shape("GET", "/v1/catalog", body)

    def test_request_object(self):
        doc = doc_section(read("docs/api.md"), "The request object")
        example = re.search(r"```json\n(.*?)```", doc, re.S).group(1)
        documented = set(re.findall(r'"([a-z_]+)":', example)) - {"by", "at", "comment"}
        self.assertIn("end_comment", documented)
        st, req = self.srv.request("erik", "orders-db", "read")
        self.assertEqual(st, 201, req)
        self.assertEqual(sorted(set(req) - documented), [],
                         "request members docs/api.md's example does not show")
        self.assertEqual(sorted(documented - set(req)), [],
                         "members docs/api.md shows that a request lacks")

    def test_audit_verify(self):
        st, body = self.srv.http("GET", "/v1/audit/verify", who="erin")
        self.assertEqual(st, 200, body)
        self.assertTrue(body.get("ok"), body)
        self.assert_shape("GET", "/v1/audit/verify", body)

    def test_readyz_verbose(self):
        st, body = self.srv.http("GET", "/readyz?verbose=1")
        self.assertEqual(st, 200, body)
        self.assert_shape("GET", "/readyz?verbose=1", body, nested=("outbox", "oidc"))


class Gateway(unittest.TestCase):
    def test_every_sqlstate_the_gateway_sends_is_in_gateway_md(self):
        states = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src/gateway/*.c")):
            with open(path, encoding="utf-8") as f:
                states |= set(re.findall(r'"([0-9][0-9A-Z]{4})"', strip_c_comments(f.read())))
        self.assertIn("28P01", states)
        doc = read("docs/gateway.md")
        self.assertEqual(sorted(s for s in states if s not in doc), [],
                         "SQLSTATEs sent by src/gateway/ missing from docs/gateway.md")


class Cli(unittest.TestCase):
    def test_every_command_of_help_is_in_cli_md(self):
        p = subprocess.run([JITGATE, "--help"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        cmds = set()
        for line in p.stdout.splitlines()[1:]:
            m = re.match(r"  ([a-z][a-z|-]*)", line)
            if m:
                cmds.update(m.group(1).split("|"))
        self.assertIn("request", cmds)
        doc = read("docs/cli.md")
        headings = " ".join(re.findall(r"^### (.*)$", doc, re.M))
        missing = sorted(c for c in cmds if not re.search(
            r"(^|[\s,`])" + re.escape(c) + r"($|[\s,`])", headings))
        self.assertEqual(missing, [], "commands of `jitgate --help` without a "
                         "### heading in docs/cli.md")

    def test_every_option_of_every_command_is_documented(self):
        def usage(*words):
            p = subprocess.run([JITGATE, *words, "--help"], capture_output=True,
                               text=True, timeout=60)
            return p.stdout + p.stderr

        main = usage()
        cmds = set()
        for line in main.splitlines()[1:]:
            m = re.match(r"  ([a-z][a-z|-]*)", line)
            if m:
                cmds.update(m.group(1).split("|"))
        cmds -= {"serve", "check-config", "version"}
        usages = []
        for c in sorted(cmds):
            text = usage(c)
            usages.append(((c,), text))
            subs = set(re.findall(r"jitgate %s ([a-z]+)" % re.escape(c), text))
            for alt in re.findall(r"jitgate %s ([a-z]+(?:\|[a-z]+)+)" % re.escape(c), text):
                subs.update(alt.split("|"))
            for sub in sorted(subs):
                usages.append(((c, sub), usage(c, sub)))
        self.assertGreaterEqual(len(usages), 20)
        doc = read("docs/cli.md") + read("docs/policy-testing.md")
        missing = []
        for words, text in usages:
            for opt in sorted(set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text))):
                if opt != "--help" and not re.search(re.escape(opt) + r"(?![a-z-])", doc):
                    missing.append("jitgate %s %s" % (" ".join(words), opt))
        self.assertEqual(missing, [], "options in --help that docs/cli.md and "
                         "docs/policy-testing.md do not mention")

    def test_every_environment_variable_read_is_documented(self):
        names = set()
        for path in glob.glob(os.path.join(SOURCE_DIR, "src", "**", "*.c"), recursive=True):
            with open(path, encoding="utf-8") as f:
                names |= set(re.findall(r'getenv\("([A-Z_][A-Z0-9_]*)"\)',
                                        strip_c_comments(f.read())))
        self.assertIn("JITGATE_TOKEN", names)
        names.discard("HOME")  # ~ of XDG_CONFIG_HOME's default
        docs = "".join(open(p, encoding="utf-8").read() for p in all_docs())
        self.assertEqual(sorted(n for n in names if "`" + n not in docs), [],
                         "environment variables jitgate reads that no doc names")

    def test_exit_codes_match_cli_md(self):
        hdr = strip_c_comments(read("src/cli/cli_api.h"))
        codes = {name: int(v) for name, v in
                 re.findall(r"CLI_EXIT_([A-Z]+)\s*=\s*([0-9]+)", hdr)}
        self.assertIn("USAGE", codes)
        doc = read("docs/cli.md")
        table = doc.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
        rows = {int(c): text for c, text in
                re.findall(r"^\| ([0-9]+) \| (.*) \|$", table, re.M)}
        self.assertEqual(sorted(rows), sorted(codes.values()),
                         "docs/cli.md's exit code table and CLI_EXIT_* differ")
        # each HTTP status the client maps to a code is named in that row
        src = strip_c_comments(read("src/cli/cli_api.c"))
        body = src.split("cli_api_exit_for_status", 1)[1].split("\n}", 1)[0]
        wrong = []
        pending = []
        for tok in re.findall(r"case ([0-9]+):|return CLI_EXIT_([A-Z]+)", body):
            if tok[0]:
                pending.append(tok[0])
            elif pending:
                code = codes[tok[1]]
                wrong += ["HTTP %s -> %d" % (st, code) for st in pending
                          if "HTTP " + st not in rows.get(code, "")
                          and " " + st not in rows.get(code, "")]
                pending = []
        self.assertGreaterEqual(body.count("case "), 5)
        self.assertEqual(wrong, [], "HTTP statuses the exit code table does not name")

    def test_shipped_examples_check_and_test_as_the_docs_say(self):
        for cfg in ("demo.yaml", "jitgate.yaml", "approval-flow.yaml"):
            p = subprocess.run([JITGATE, "check-config", "-c",
                                os.path.join(SOURCE_DIR, "examples", cfg)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, cfg + ": " + p.stderr)
            self.assertIn(": ok (", p.stdout)
        for cfg, tests in (("demo.yaml", "demo.tests.yaml"),
                           ("approval-flow.yaml", "approval-flow.tests.yaml")):
            p = subprocess.run([JITGATE, "policy", "test", "-c",
                                os.path.join(SOURCE_DIR, "examples", cfg),
                                os.path.join(SOURCE_DIR, "examples", tests)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, tests + ": " + p.stdout + p.stderr)
            self.assertRegex(p.stdout, r"\n[1-9][0-9]* passed, 0 failed\n?$")


class Readme(unittest.TestCase):
    def test_index_lists_every_doc(self):
        readme = read("README.md")
        index = readme.split("## Documentation", 1)[1].split("\n## ", 1)[0]
        listed = set(re.findall(r"\]\((docs/[^)#]+\.md)\)", index))
        on_disk = {os.path.relpath(p, SOURCE_DIR)
                   for p in glob.glob(os.path.join(SOURCE_DIR, "docs/*.md"))}
        self.assertEqual(sorted(on_disk - listed), [],
                         "docs/ files missing from the README's index")
        self.assertEqual(sorted(listed - on_disk), [],
                         "README index links to docs that do not exist")

    def test_links_between_docs_resolve(self):
        broken = []
        for path in all_docs():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for target in re.findall(r"\]\(([^)\s]+)\)", text):
                if re.match(r"[a-z]+:", target):
                    continue
                rel, _, anchor = target.partition("#")
                full = os.path.normpath(os.path.join(os.path.dirname(path), rel)) \
                    if rel else path
                if not os.path.exists(full) or (
                        anchor and full.endswith(".md") and anchor not in md_anchors(full)):
                    broken.append("%s -> %s" % (os.path.relpath(path, SOURCE_DIR),
                                                target))
        self.assertEqual(broken, [], "links to files or #headings that do not exist")

    def test_source_paths_named_in_docs_exist(self):
        # src/..., tests/..., bench/..., scripts/..., examples/... in the
        # docs; placeholders in capitals (fuzz_NAME.c) and installed
        # node_modules are not files of the repository
        missing = []
        for path in all_docs():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for m in re.findall(r"(?<![\w/.-])((?:src|tests|bench|scripts|examples|packaging|\.ci)"
                                r"/[A-Za-z0-9_./-]+)", text):
                m = m.rstrip(".,)")
                if re.search(r"[A-Z]{3,}|node_modules", m):
                    continue
                full = os.path.join(SOURCE_DIR, m)
                if not os.path.exists(full) and not glob.glob(full + "*"):
                    missing.append("%s: %s" % (os.path.relpath(path, SOURCE_DIR), m))
        self.assertEqual(missing, [], "paths named in the docs that do not exist")

    def test_layout_names_every_source_directory(self):
        readme = read("README.md")
        layout = readme.split("## Layout", 1)[1]
        dirs = sorted(os.path.relpath(d, SOURCE_DIR) for d in
                      glob.glob(os.path.join(SOURCE_DIR, "src", "*", "")))
        self.assertIn("src/core", dirs)
        missing = [d for d in dirs if not re.search(r"^" + re.escape(d) + r"\s", layout, re.M)]
        self.assertEqual(missing, [], "src/ directories missing from the README's Layout")

    def test_test_files_named_in_docs_exist(self):
        # test_gateway.py, test_request.c, unit/test_store ... named without
        # their directory
        missing = []
        for path in all_docs():
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for name in set(re.findall(r"\b(test_[a-z0-9_]+\.(?:c|py|h))\b", text)):
                if not any(os.path.exists(os.path.join(SOURCE_DIR, "tests", d, name))
                           for d in ("unit", "e2e", "fuzz")):
                    missing.append("%s: %s" % (os.path.relpath(path, SOURCE_DIR), name))
            for tier, name in set(re.findall(r"\b(unit|e2e)/(test_[a-z0-9_]+)\b", text)):
                if not any(os.path.exists(os.path.join(SOURCE_DIR, "tests", tier, name + ext))
                           for ext in (".c", ".py", ".h")):
                    missing.append("%s: %s/%s" % (os.path.relpath(path, SOURCE_DIR), tier, name))
            for name in set(re.findall(r"\b(fuzz_[a-z0-9_]+)\b", text)):
                if not os.path.exists(os.path.join(SOURCE_DIR, "tests", "fuzz", name + ".c")):
                    missing.append("%s: %s" % (os.path.relpath(path, SOURCE_DIR), name))
        self.assertEqual(sorted(missing), [], "test files named in the docs that do not exist")

    def test_setup_commands_exist(self):
        readme = read("README.md")
        for script in ("scripts/demo.sh", "scripts/test.sh"):
            self.assertIn(script, readme)
            self.assertTrue(os.access(os.path.join(SOURCE_DIR, script), os.X_OK), script)


if __name__ == "__main__":
    run(ConfigKeys, AuditActions, MetricsAndEndpoints, LiveAnswers, Gateway, Cli, Readme)
