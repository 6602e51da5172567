"""A web backend for probe tests: serves GET /health on PORT_BASE + its instance number, with
503 for its first WARMUP seconds, then 200, or the status written in the file CODE_FILE."""

import http.server
import os
import sys
import time

base, warmup = int(sys.argv[1]), float(sys.argv[2])
code_file = sys.argv[3] if len(sys.argv) > 3 else None
started = time.monotonic()


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        code = 503 if time.monotonic() - started < warmup else 200
        if code_file and os.path.exists(code_file):
            with open(code_file) as f:
                code = int(f.read().strip() or code)
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


port = base + int(os.environ["PROCSUP_PROCESS_NUM"])
server = http.server.HTTPServer(("127.0.0.1", port), Health)
print(f"listening on {port}", flush=True)
server.serve_forever()
