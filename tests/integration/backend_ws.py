#!/usr/bin/python3
"""backend_ws.py - a loopback WebSocket backend for the mod_proxy_wstunnel
tests (RFC 6455, standard library only).

Any GET with `Upgrade: websocket` is accepted (101); the first message the
backend sends is a text frame of JSON, {"path": ..., "headers": {name: value}}
holding every X-Nomis-* and Authorization header of the upgrade request (so a
test sees what identity reached the application); then each text frame the
client sends comes back prefixed "echo:". A request without the upgrade gets
426. Prints "READY <port>" once listening; SIGTERM stops it.

    /usr/bin/python3 backend_ws.py [--port PORT]
"""

import argparse
import base64
import hashlib
import json
import signal
import socketserver
import struct
import sys

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode("ascii")).digest()).decode()


def frame(payload, opcode=1, mask=None):
    """One final frame; masked (as a client must) when mask is 4 bytes."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([bit | n])
    elif n < 65536:
        head += bytes([bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


def read_exact(f, n):
    data = f.read(n)
    if data is None or len(data) != n:
        raise EOFError
    return data


def read_frame(f):
    """(opcode, payload) of the next frame (unmasked if it was masked)."""
    b0, b1 = read_exact(f, 2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", read_exact(f, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", read_exact(f, 8))[0]
    mask = read_exact(f, 4) if b1 & 0x80 else None
    payload = read_exact(f, n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return b0 & 0x0F, payload


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline(8192).decode("latin-1")
        parts = line.split()
        headers = {}
        while True:
            h = self.rfile.readline(8192).decode("latin-1").rstrip("\r\n")
            if not h:
                break
            k, _, v = h.partition(":")
            headers.setdefault(k.strip(), v.strip())
        lower = {k.lower(): v for k, v in headers.items()}
        if lower.get("upgrade", "").lower() != "websocket" or "sec-websocket-key" not in lower:
            self.wfile.write(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            return
        self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n"
                          % accept_key(lower["sec-websocket-key"])).encode("ascii"))
        seen = {k: v for k, v in headers.items()
                if k.lower().startswith("x-nomis-") or k.lower() == "authorization"}
        hello = {"path": parts[1] if len(parts) > 1 else "", "headers": seen}
        self.wfile.write(frame(json.dumps(hello).encode("utf-8")))
        self.wfile.flush()
        try:
            while True:
                op, data = read_frame(self.rfile)
                if op == 8:  # close
                    self.wfile.write(frame(data[:2], opcode=8))
                    return
                if op == 1:
                    self.wfile.write(frame(b"echo:" + data))
                    self.wfile.flush()
        except (EOFError, OSError, ValueError):
            return


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)

    def stop(signum, frame_):
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


if __name__ == "__main__":
    sys.exit(main())
