"""A stand-in for Plaid's API (its real answer shapes) for runs that fuzz our API: link
tokens, public-token exchange, holdings (the test fixture), item removal."""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOLDINGS = (Path(__file__).parent.parent / "signal-sentinel/tests/fixtures/plaid/holdings.json").read_text()


class Plaid(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        answers = {
            "/link/token/create": {"link_token": "link-sandbox-fuzz", "expiration": "2030-01-01T00:00:00Z", "request_id": "f"},
            "/item/public_token/exchange": {"access_token": "access-sandbox-fuzz", "item_id": f"item-{id(self)}", "request_id": "f"},
            "/investments/holdings/get": json.loads(HOLDINGS),
            "/item/remove": {"request_id": "f"},
        }
        body = answers.get(self.path)
        status = 200 if body is not None else 404
        data = json.dumps(body if body is not None else {"error_type": "INVALID_REQUEST", "error_code": "NOT_FOUND", "error_message": "not found", "request_id": "f"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Plaid)
    server.serve_forever()
