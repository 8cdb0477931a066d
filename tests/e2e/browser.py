"""A small cookie-keeping HTTP client that behaves like a browser toward
jitgate: it keeps the session cookie, sends Origin / Sec-Fetch-Site as a
page would, and shows raw answers (status, headers, body) so the tests can
assert on Set-Cookie flags and redirects.  Standard library only."""
import http.client
import json
import urllib.parse


class Browser:
    def __init__(self, base_url, origin=None):
        u = urllib.parse.urlsplit(base_url)
        self.host, self.port = u.hostname, u.port
        self.origin = origin or "%s://%s:%d" % (u.scheme, u.hostname, u.port)
        self.cookies = {}      # name -> value, for this host
        self.csrf = None

    def raw(self, method, path, body=None, headers=None, cookie=None):
        """One request; returns (status, headers (lower-case names, lists),
        body bytes).  cookie overrides the jar's Cookie header."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        h = {}
        if cookie is not None:
            h["Cookie"] = cookie
        elif self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        hdrs = {}
        for k, v in r.getheaders():
            hdrs.setdefault(k.lower(), []).append(v)
        conn.close()
        for sc in hdrs.get("set-cookie", []):
            name, _, rest = sc.partition("=")
            value = rest.split(";", 1)[0]
            if "max-age=0" in sc.lower().replace(" ", ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r.status, hdrs, data

    def call(self, method, path, body=None, headers=None, csrf=True,
             page=True):
        """A fetch() from our own page: same-origin headers and, for
        state-changing calls, the CSRF header.  Returns (status, JSON)."""
        h = {}
        if page:
            h["Origin"] = self.origin
            h["Sec-Fetch-Site"] = "same-origin"
        if csrf and method not in ("GET", "HEAD") and self.csrf:
            h["X-Jitgate-CSRF"] = self.csrf
        h.update(headers or {})
        st, _, data = self.raw(method, path, body, h)
        try:
            return st, json.loads(data)
        except ValueError:
            return st, data.decode(errors="replace")

    def sign_in_token(self, tok):
        st, body = self.call("POST", "/auth/token", {"token": tok})
        if st == 200:
            self.csrf = body["csrf"]
        return st, body


def cookie_attrs(set_cookie):
    """'a=b; Path=/; HttpOnly' -> ('a', 'b', {'path': '/', 'httponly': True})"""
    parts = [p.strip() for p in set_cookie.split(";")]
    name, _, value = parts[0].partition("=")
    attrs = {}
    for p in parts[1:]:
        k, eq, v = p.partition("=")
        attrs[k.lower()] = v if eq else True
    return name, value, attrs


class _Form(__import__("html.parser").parser.HTMLParser):
    """The first <form> of a page: action, method and its inputs."""

    def __init__(self):
        super().__init__()
        self.form = None
        self.done = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and self.form is None:
            self.form = {"action": a.get("action", ""),
                         "method": a.get("method", "get").upper(), "fields": {}}
        elif tag in ("input", "button") and self.form is not None and not self.done:
            if a.get("name"):
                if a.get("type") in ("submit",) and tag == "input":
                    return
                self.form["fields"].setdefault(a["name"], a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "form":
            self.done = True


def first_form(html):
    p = _Form()
    p.feed(html)
    return p.form


class IdpSession:
    """A person at the IdP's pages: follows redirects by hand with its own
    cookie jar (so the caller sees where the IdP sends the browser back)
    and fills the login form with an account name."""

    def __init__(self):
        import http.cookiejar
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None

        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def fetch(self, url, data=None):
        import urllib.error
        import urllib.request
        req = urllib.request.Request(url, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            r = self.opener.open(req, timeout=30)
            return r.status, r.headers, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode(errors="replace")

    def follow(self, url, account, until, extra=None, max_hops=30):
        """Follows url through the IdP, answering each form (login with
        account; extra fields for others, e.g. {"confirm": "yes"}), until a
        redirect to a URL starting with until, which is returned (None
        when the IdP finishes without redirecting there: its last page)."""
        for _ in range(max_hops):
            if until and url.startswith(until):
                return url
            st, hdrs, body = self.fetch(url)
            while True:
                if st in (301, 302, 303, 307, 308):
                    url = urllib.parse.urljoin(url, hdrs["Location"])
                    break
                form = first_form(body) if st == 200 else None
                if form is None:
                    if until is None:
                        return body
                    raise AssertionError("IdP flow stopped at %s: %s %s" % (url, st, body[:300]))
                fields = dict(form["fields"])
                if "login" in fields:
                    fields["login"] = account
                fields.update(extra or {})
                action = urllib.parse.urljoin(url, form["action"] or url)
                if form["method"] == "POST":
                    st, hdrs, body = self.fetch(
                        action, urllib.parse.urlencode(fields).encode())
                else:
                    st, hdrs, body = self.fetch(
                        action + "?" + urllib.parse.urlencode(fields))
                url = action
        raise AssertionError("too many hops")


class EventStream:
    """A client of GET /v1/events: reads Server-Sent Events one by one."""

    def __init__(self, base_url, bearer=None, cookie=None, last_event_id=None,
                 timeout=30):
        u = urllib.parse.urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        h = {"Accept": "text/event-stream"}
        if bearer:
            h["Authorization"] = "Bearer " + bearer
        if cookie:
            h["Cookie"] = cookie
        if last_event_id is not None:
            h["Last-Event-ID"] = str(last_event_id)
        self.conn.request("GET", "/v1/events", headers=h)
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.heartbeats = 0

    def body(self):
        return json.loads(self.resp.read())

    def next(self):
        """The next event as {"event", "id", "data"} (data parsed as JSON),
        skipping comments; None at the end of the stream."""
        ev = {}
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if "data" in ev or "event" in ev:
                    ev.setdefault("event", "message")
                    if "data" in ev:
                        ev["data"] = json.loads(ev["data"])
                    return ev
                continue
            if line.startswith(":"):
                self.heartbeats += 1
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "data":
                ev["data"] = ev["data"] + "\n" + v if "data" in ev else v
            elif k in ("event", "id", "retry"):
                ev[k] = v

    def until(self, pred):
        """Reads events until pred(event) holds; returns that event."""
        while True:
            ev = self.next()
            if ev is None:
                raise AssertionError("stream ended")
            if pred(ev):
                return ev

    def close(self):
        # shut the socket first: a reader blocked on it returns at once
        try:
            self.sock.shutdown(__import__("socket").SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()
