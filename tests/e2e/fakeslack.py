"""A local stand-in for the Slack Web API (the real one cannot be reached
from the test machine): chat.postMessage and chat.update on messages it
keeps per (channel id, ts), and response_url posts under /actions/.  It
records every call in order.  mode "ok" answers as Slack does, "500"
answers HTTP 500, and stop()/start() make the port refuse connections.
limit(n, retry_after) answers the next n Web API calls 429 with that
Retry-After header, as Slack's rate limit does; received holds every
Web API call with its arrival time (time.monotonic) and status."""
import http.server
import json
import threading
import time



def serve(port, answer):
    """A threaded HTTP server on 127.0.0.1:port, returned running, whose
    POSTs are answered by answer(path, headers, raw body) -> (status, out,
    extra headers): out a dict is sent as JSON, a str as its latin-1 bytes
    (for answers that are not JSON), None as an empty body."""

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            code, out, extra = answer(self.path, self.headers, raw)
            if out is None:
                data = b""
            else:
                data = out.encode("latin-1") if isinstance(out, str) else json.dumps(out).encode()
            self.send_response(code)
            for k, v in extra.items():
                self.send_header(k, v)
            if out is not None:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


class FakeSlack:
    CHANNEL_ID = "C0ACCESS1"

    def __init__(self, port, start=True):
        self.port = port
        self.mode = "ok"
        self.lock = threading.Lock()
        self.calls = []        # (path, Authorization, parsed body)
        self.refused = []      # calls answered 500
        self.messages = {}     # ts -> the message as last posted/updated
        self.received = []     # (monotonic time, method, HTTP status) of each API call
        self.limited = 0       # the next this many API calls are answered 429
        self.retry_after = None
        self.httpd = None
        if start:
            self.start()

    def start(self):
        def answer(path, headers, raw):
            try:
                body = json.loads(raw)
            except ValueError:
                body = {"_raw": raw.decode(errors="replace")}
            code, out = self._answer(path, headers.get("Authorization"), body)
            extra = {"Retry-After": self.retry_after} if code == 429 and self.retry_after is not None else {}
            return code, out, extra

        self.httpd = serve(self.port, answer)

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def limit(self, n, retry_after):
        with self.lock:
            self.limited, self.retry_after = n, retry_after

    def _answer(self, path, auth, body):
        with self.lock:
            if path.startswith("/api/") and self.limited > 0:
                self.limited -= 1
                self.received.append((time.monotonic(), path.rsplit("/", 1)[1], 429))
                return 429, {"ok": False, "error": "ratelimited"}
            if path.startswith("/api/"):
                self.received.append((time.monotonic(), path.rsplit("/", 1)[1],
                                      500 if self.mode != "ok" else 200))
            if self.mode != "ok":
                self.refused.append((path, body))
                return 500, {"ok": False, "error": "internal_error"}
            self.calls.append((path, auth, body))
            if path.endswith("/chat.postMessage"):
                ts = "1700000000.%06d" % (len(self.messages) + 1)
                self.messages[ts] = body
                return 200, {"ok": True, "channel": self.CHANNEL_ID, "ts": ts}
            if path.endswith("/chat.update"):
                if body.get("channel") != self.CHANNEL_ID or body.get("ts") not in self.messages:
                    return 200, {"ok": False, "error": "message_not_found"}
                self.messages[body["ts"]] = body
                return 200, {"ok": True, "channel": self.CHANNEL_ID, "ts": body["ts"]}
            if path.startswith("/actions/"):
                return 200, {"ok": True}
            return 200, {"ok": False, "error": "unknown_method"}

    # what the tests look at
    def posts(self, rid=None):
        with self.lock:
            return [b for p, _, b in self.calls if p.endswith("/chat.postMessage")
                    and (rid is None or rid_of(b) == rid)]

    def updates(self, rid=None):
        with self.lock:
            return [b for p, _, b in self.calls if p.endswith("/chat.update")
                    and (rid is None or rid_of(b) == rid)]

    def methods(self, rid):
        """The Web API methods called for request rid, in order."""
        with self.lock:
            return [p.rsplit("/", 1)[1] for p, _, b in self.calls
                    if p.startswith("/api/") and rid_of(b) == rid]

    def responses(self):
        with self.lock:
            return [(p, b) for p, _, b in self.calls if p.startswith("/actions/")]

    def message(self, rid):
        """The message of request rid as it is now, or None."""
        with self.lock:
            for m in self.messages.values():
                if rid_of(m) == rid:
                    return m
        return None


def rid_of(msg):
    """The request id a jitgate message is about (from its headline)."""
    for b in msg.get("blocks", []):
        t = b.get("text", {}).get("text", "")
        if t.startswith("*Request ") or t.startswith(":rotating_light: *BREAK-GLASS* *Request "):
            return int(t.split("*Request ", 1)[1].split("*", 1)[0])
    return None


def all_text(msg):
    """Every text of a message's blocks, one string."""
    out = [msg.get("text", "")]
    for b in msg.get("blocks", []):
        if "text" in b:
            out.append(b["text"]["text"])
        for f in b.get("fields", []):
            out.append(f["text"])
        for e in b.get("elements", []):
            if e.get("type") == "mrkdwn":
                out.append(e["text"])
    return "\n".join(out)


def buttons(msg):
    return [(e["action_id"], e["value"]) for b in msg.get("blocks", [])
            if b["type"] == "actions" for e in b["elements"]]
