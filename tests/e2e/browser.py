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
