"""The verify answer for the benchmark's one token (the cache is warm after the first call).

It answers auth-token's documented 200 (spec mithril.md §1.4) for every token: the benchmark
measures the gate with a warm cache, so this is called once per run.
"""
import http.server
import json
import sys

BODY = json.dumps({
    "meta": {"code": 200, "type": "object", "url": "", "request_id": ""},
    "data": {
        "id": "3f5b1a8e-0000-4000-8000-000000000001",
        "name": "access_token",
        "value": "redacted",
        "expires_at": 4102444800,
        "user_id": "3f5b1a8e-0000-4000-8000-000000000002",
        "details": {
            "client_id": "3f5b1a8e-0000-4000-8000-000000000003",
            "grant_type": "authorization_code",
            "redirect_uri": "https://mis.example.com/cb",
            "scope": "connection:read connection:write",
        },
    },
    "urgent": {"mis_client_id": None},
}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
