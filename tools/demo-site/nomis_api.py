#!/usr/bin/python3
"""nomis_api.py - a stand-in for a NOMIS API that the demo's allocation
manager (app.py) calls on the member of staff's behalf, with the access token
mod_nomis_sso passed to it (NomisSSOPassAccessToken On).

    /usr/bin/python3 nomis_api.py --port PORT --auth-url http://127.0.0.1:9090/auth

Every request needs `Authorization: Bearer <token>`: the token's RS256
signature is checked against HMPPS Auth's JWKS (<auth-url>/.well-known/
jwks.json, fetched again when a key id is unknown), and its issuer and expiry
too; anything else is 401. GET /allocations answers the caller's allocations
as JSON: {"user", "caseload", "allocations": [...], "token_exp", "token_jti"}.
GET /__stats__ (no token) answers {"calls": N, "refused": N, "last_exp": E}
for the tests. Loopback only; prints "READY <port>" once listening.
Debian's python3-jwt and python3-cryptography; nothing else.
"""

import argparse
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt

# a small, fixed case list per caseload: who is allocated to whom
CASES = {
    "LEI": [("G1234AA", "Adams, John", "ALLOC_POM"),
            ("G5678BB", "Baker, Susan", "ALLOC_POM"),
            ("G9012CC", "Clarke, Peter", None)],
    "MDI": [("A1111DD", "Dawson, Mary", None),
            ("A2222EE", "Evans, Tom", "ALLOC_SPO")],
    "NWEB": [],
}


class Api:
    def __init__(self, auth_url):
        self.auth_url = auth_url.rstrip("/")
        self.jwks = jwt.PyJWKClient(self.auth_url + "/.well-known/jwks.json",
                                    cache_keys=True)
        self.lock = threading.Lock()
        self.stats = {"calls": 0, "refused": 0, "last_exp": None, "last_sub": None}

    def verify(self, token):
        """The token's claims, or raises jwt.PyJWTError."""
        key = self.jwks.get_signing_key_from_jwt(token)
        return jwt.decode(token, key.key, algorithms=["RS256"],
                          issuer=self.auth_url + "/issuer",
                          options={"require": ["exp", "iss", "sub"], "verify_aud": False})

    def count(self, claims):
        with self.lock:
            if claims is None:
                self.stats["refused"] += 1
            else:
                self.stats["calls"] += 1
                self.stats["last_exp"] = claims.get("exp")
                self.stats["last_sub"] = claims.get("sub")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nomis-api-standin"

    def send_json(self, status, obj, extra=None):
        out = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(out)

    def do_GET(self):
        api = self.server.api
        if self.path == "/__stats__":
            with api.lock:
                return self.send_json(200, dict(api.stats))
        auth = self.headers.get("Authorization", "")
        claims = None
        if auth.startswith("Bearer "):
            try:
                claims = api.verify(auth[7:].strip())
            except (jwt.PyJWTError, ValueError) as e:
                sys.stderr.write("nomis_api: token refused: %s\n" % type(e).__name__)
        api.count(claims)
        if claims is None:
            return self.send_json(401, {"error": "invalid_token"},
                                  {"WWW-Authenticate": "Bearer"})
        if self.path.split("?")[0] != "/allocations":
            return self.send_json(404, {"error": "not_found"})
        caseload = self.headers.get("X-Caseload", "")
        cases = [{"prisoner": n, "name": nm, "pom": pom} for n, nm, pom in CASES.get(caseload, [])]
        self.send_json(200, {"user": claims.get("user_name") or claims["sub"],
                             "caseload": caseload, "allocations": cases,
                             "token_exp": claims["exp"], "token_jti": claims.get("jti")})

    def log_message(self, fmt, *args):  # no access log: tokens never printed anyway
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--auth-url", required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.api = Api(args.auth_url)

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


if __name__ == "__main__":
    sys.exit(main())
