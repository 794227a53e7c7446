#!/usr/bin/python3
"""backend_echo.py - a loopback HTTP backend for the mod_proxy tests.

Answers every request, whatever its method or path, with 200 and a JSON body
describing what it received:

    {"method": "GET", "path": "/x?y=1",
     "headers": [["Host", "127.0.0.1:1234"], ["X-Nomis-User", "ALLOC_SPO"], ...]}

Header names keep their spelling and order, and repeated headers appear once
per occurrence, so a test can see exactly what httpd forwarded.

    /usr/bin/python3 backend_echo.py [--port PORT]

Binds 127.0.0.1 only; PORT 0 (the default) picks a free one. Once listening it
prints one line, "READY <port>", to stdout. SIGTERM or SIGINT stops it.

Imported, it offers EchoBackend, which runs this script as a subprocess.
Standard library only.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START_TIMEOUT = 15.0


class EchoHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "backend-echo"

    def _echo(self):
        length = self.headers.get("Content-Length")
        body = b""
        if length and length.isdigit():
            body = self.rfile.read(int(length))
        doc = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "body_length": len(body),
        }
        out = json.dumps(doc).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _echo

    def log_message(self, fmt, *args):  # quiet: the tests read the JSON
        pass


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), EchoHandler)
    server.daemon_threads = True

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    sys.stdout.write("READY %d\n" % server.server_address[1])
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


class EchoBackend:
    """This script as a subprocess: start() -> self with .port; stop()."""

    def __init__(self, python="/usr/bin/python3"):
        self.python = python
        self.proc = None
        self.port = None

    def start(self):
        self.proc = subprocess.Popen(
            [self.python, os.path.abspath(__file__), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
            text=True)
        deadline = time.monotonic() + START_TIMEOUT
        line = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line or self.proc.poll() is not None:
                break
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError("backend_echo did not start: %r" % line)
        self.port = int(line.split()[1])
        return self

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.proc = None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    return serve(args.port)


if __name__ == "__main__":
    sys.exit(main())
