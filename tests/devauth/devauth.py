#!/usr/bin/python3
"""devauth - a development stand-in for HMPPS Auth (the NOMIS SSO OAuth2 server).

It serves, under the base path /auth, the parts of HMPPS Auth that mod_nomis_sso talks to:
the browser sign-in (authorization code flow with optional PKCE S256), the token endpoint
(authorization_code, refresh_token, password and client_credentials grants, HTTP Basic
client authentication), the JWKS and discovery documents, the user API, sign-out, and the
token verification API.  Access tokens are RS256 JWTs signed with in-memory RSA keys.

Test hooks under /__test__/ let integration tests inject faults, rotate keys, mint tokens
and read request counters.  It is a development tool: it listens on loopback only, keeps
all state in memory and must never be used to protect anything real.

Runs on Debian's /usr/bin/python3 with the standard library, python3-jwt and
python3-cryptography only.  See README.md beside this file.
"""

import argparse
import base64
import hashlib
import hmac
import html
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

HERE = os.path.dirname(os.path.abspath(__file__))

BASE = "/auth"
TEST = "/__test__"
SESSION_COOKIE = "devauth_session"
CODE_LIFETIME = 60
MAX_BODY = 1024 * 1024
TITLE = "HMPPS Digital Services - Sign in (development)"
WRONG_ISSUER = "https://wrong-issuer.invalid/auth/issuer"

# Names used for request counters and fault targets.
ENDPOINTS = (
    "authorize", "sign_in", "token", "jwks", "discovery", "ping", "me", "roles",
    "caseloads", "sign_out", "verify", "authorize_alt", "token_alt", "jwks_alt",
)
GRANTS = ("authorization_code", "refresh_token", "password", "client_credentials")
TRANSPORT_MODES = ("500", "slow", "garbage", "close")
SHAPING_MODES = (
    "expired_token", "bad_signature", "wrong_issuer", "hs256", "alg_none", "unknown_kid",
)
# Discovery document modes: "wrong_issuer" names WRONG_ISSUER as its issuer,
# "moved" points the authorize, token and JWKS endpoints at ALT paths.
DISCOVERY_MODES = ("wrong_issuer", "moved")
ALT = "/alt"
PKCE_CHARS = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def log(msg):
    sys.stderr.write("devauth: %s\n" % msg)
    sys.stderr.flush()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def int_b64url(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8 or 1, "big"))


def json_b64url(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def pkce_s256(verifier):
    return b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())


def add_query(url, params):
    """Append params to url (which may already carry a query); empty values are left out
    (the sign-in form cannot tell an absent state from an empty one)."""
    params = [(k, v) for k, v in params if v]
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params)


class SigningKey:
    def __init__(self, kid):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public = self.private.public_key()
        nums = self.public.public_numbers()
        self.jwk = {
            "kty": "RSA",
            "e": int_b64url(nums.e),
            "use": "sig",
            "kid": kid,
            "alg": "RS256",
            "n": int_b64url(nums.n),
        }
        self.public_pem = self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, data):
        return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def new_kid():
    return "devauth-" + time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(4)


class AuthError(Exception):
    """A token endpoint error: HTTP status, OAuth2 error code, description."""

    def __init__(self, status, error, description):
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


class State:
    """All mutable server state, guarded by one lock."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        first = SigningKey(new_kid())
        self.jwks_keys = [first]          # current key first
        self.all_keys = {first.kid: first}  # every key ever made (refresh tokens)
        self.rogue = SigningKey("rogue")  # never published
        self.codes = {}      # code -> dict
        self.sessions = {}   # session id -> {"username", "exp"}
        self.access = {}     # jti -> {"username", "client_id", "exp"}
        self.refresh = {}    # refresh jti -> dict
        self.faults = []
        self.reset_stats()

    # --- keys -------------------------------------------------------------
    @property
    def current(self):
        return self.jwks_keys[0]

    def rotate(self, drop_old):
        key = SigningKey(new_kid())
        with self.lock:
            self.all_keys[key.kid] = key
            if drop_old:
                self.jwks_keys = [key]
            else:
                self.jwks_keys = [key, self.jwks_keys[0]]
            return key.kid, [k.kid for k in self.jwks_keys]

    def jwks(self):
        with self.lock:
            return {"keys": [dict(k.jwk) for k in self.jwks_keys]}

    def published_key(self, kid):
        with self.lock:
            for k in self.jwks_keys:
                if k.kid == kid:
                    return k
        return None

    # --- stats ------------------------------------------------------------
    def reset_stats(self):
        self.stats = {
            "requests": {name: 0 for name in ENDPOINTS + ("other",)},
            "grants": {g: 0 for g in GRANTS},
            "connections": 0,
        }

    def count_connection(self):
        with self.lock:
            self.stats["connections"] += 1

    def count_request(self, name):
        with self.lock:
            self.stats["requests"][name] = self.stats["requests"].get(name, 0) + 1

    def count_grant(self, grant):
        with self.lock:
            self.stats["grants"][grant] = self.stats["grants"].get(grant, 0) + 1

    def get_stats(self):
        with self.lock:
            return json.loads(json.dumps(self.stats))

    # --- faults -----------------------------------------------------------
    def take_fault(self, endpoint, modes):
        """Return (and count down) the first active fault for endpoint with a mode in modes."""
        with self.lock:
            for f in self.faults:
                if f["endpoint"] not in (endpoint, "*") or f["mode"] not in modes:
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self.faults.remove(f)
                return dict(f)
        return None

    def fault_list(self):
        with self.lock:
            return [dict(f) for f in self.faults]

    # --- sessions ---------------------------------------------------------
    def new_session(self, username):
        sid = secrets.token_urlsafe(24)
        with self.lock:
            self.sessions[sid] = {"username": username,
                                  "exp": time.time() + self.cfg.refresh_lifetime}
        return sid

    def session_user(self, sid):
        if not sid:
            return None
        with self.lock:
            s = self.sessions.get(sid)
            if s is None:
                return None
            if s["exp"] < time.time():
                del self.sessions[sid]
                return None
            username = s["username"]
        user = self.cfg.users.get(username)
        if user is None or not user.get("active", True):
            return None
        return user

    def end_session(self, sid):
        with self.lock:
            s = self.sessions.pop(sid, None) if sid else None
        return s["username"] if s else None

    # --- codes ------------------------------------------------------------
    def new_code(self, client_id, redirect_uri, challenge, method, username, scope,
                 nonce=None):
        code = secrets.token_urlsafe(12)
        with self.lock:
            now = time.time()
            for c in [c for c, v in self.codes.items() if v["exp"] < now]:
                del self.codes[c]
            self.codes[code] = {
                "client_id": client_id, "redirect_uri": redirect_uri,
                "challenge": challenge, "method": method, "username": username,
                "scope": scope, "nonce": nonce, "exp": now + CODE_LIFETIME,
            }
        return code

    def take_code(self, code):
        with self.lock:
            entry = self.codes.pop(code, None)
        if entry is None or entry["exp"] < time.time():
            return None
        return entry

    # --- tokens -----------------------------------------------------------
    def track_access(self, claims):
        jti = claims.get("jti")
        if not isinstance(jti, str):
            return
        with self.lock:
            self.access[jti] = {
                "username": claims.get("user_name") or (
                    claims.get("sub") if claims.get("auth_source") != "none" else None),
                "client_id": claims.get("client_id"),
                "exp": claims.get("exp"),
            }

    def access_active(self, jti):
        with self.lock:
            entry = self.access.get(jti)
        if entry is None:
            return False
        exp = entry.get("exp")
        return not isinstance(exp, (int, float)) or exp > time.time()

    def revoke_user(self, username):
        n = 0
        with self.lock:
            for jti in [j for j, v in self.access.items() if v["username"] == username]:
                del self.access[jti]
                n += 1
            for jti in [j for j, v in self.refresh.items() if v["username"] == username]:
                del self.refresh[jti]
                n += 1
            for code in [c for c, v in self.codes.items() if v["username"] == username]:
                del self.codes[code]
        return n

    def revoke_jti(self, jti):
        with self.lock:
            a = self.access.pop(jti, None)
            r = self.refresh.pop(jti, None)
        return int(a is not None) + int(r is not None)

    # --- signing ----------------------------------------------------------
    def sign(self, claims, mode=None):
        """Encode claims as a JWT. mode selects one of the hostile token shapes."""
        with self.lock:
            current = self.jwks_keys[0]
        header = {"alg": "RS256", "typ": "JWT", "kid": current.kid}
        key = current
        if mode == "bad_signature":
            key = self.rogue
        elif mode == "unknown_kid":
            key = self.rogue
            header["kid"] = "unknown-" + secrets.token_hex(6)
        elif mode == "hs256":
            header["alg"] = "HS256"
            signing_input = (json_b64url(header) + "." + json_b64url(claims)).encode("ascii")
            mac = hmac.new(current.public_pem, signing_input, hashlib.sha256).digest()
            return signing_input.decode("ascii") + "." + b64url(mac)
        elif mode == "alg_none":
            header = {"alg": "none", "typ": "JWT"}
            return json_b64url(header) + "." + json_b64url(claims) + "."
        signing_input = (json_b64url(header) + "." + json_b64url(claims)).encode("ascii")
        return signing_input.decode("ascii") + "." + b64url(key.sign(signing_input))

    def decode_own(self, token, keys, verify_exp=True):
        """Verify an RS256 JWT against the given kid->SigningKey map and our issuer."""
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise jwt.InvalidAlgorithmError("algorithm not allowed")
        key = keys.get(header.get("kid"))
        if key is None:
            raise jwt.InvalidKeyError("unknown kid")
        return jwt.decode(
            token, key.public, algorithms=["RS256"], issuer=self.cfg.issuer,
            options={"require": ["exp", "iss", "jti"], "verify_exp": verify_exp,
                     "verify_aud": False})

    def verify_access(self, token, verify_exp=True):
        with self.lock:
            keys = {k.kid: k for k in self.jwks_keys}
        return self.decode_own(token, keys, verify_exp=verify_exp)


class Config:
    def __init__(self, args, port):
        self.access_lifetime = args.access_token_lifetime
        self.refresh_lifetime = args.refresh_token_lifetime
        scheme = "https" if args.tls_cert else "http"
        self.public_url = (args.public_url or "%s://%s:%d/auth"
                           % (scheme, url_host(args.host), port)).rstrip("/")
        self.issuer = self.public_url + "/issuer"
        # bench only (bench/run): HMPPS Auth issues no id_token; with this an
        # `openid` scope gets one, so mod_auth_openidc's session mode can sign in
        self.bench_id_token = getattr(args, "bench_id_token", False)
        self.caseload_descriptions = {}
        self.users = {}
        self.clients = {}
        self.load_users(args.users)
        self.load_clients(args.clients)

    def load_users(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):
            self.caseload_descriptions = dict(data.get("caseload_descriptions", {}))
            data = data.get("users", [])
        for u in data:
            u = dict(u)
            u["username"] = u["username"].upper()
            u.setdefault("auth_source", "nomis")
            u.setdefault("roles", [])
            u.setdefault("caseloads", [])
            u.setdefault("active_caseload", None)
            u.setdefault("active", True)
            u.setdefault("name", u["username"].replace("_", " ").title())
            u.setdefault("user_id", None)
            u.setdefault("staff_id", None)
            u.setdefault("uuid", str(uuid.uuid5(uuid.NAMESPACE_URL, "devauth:" + u["username"])))
            self.users[u["username"]] = u

    def load_clients(self, path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        if isinstance(data, dict):
            data = data.get("clients", [])
        for c in data:
            c = dict(c)
            c.setdefault("grant_types", ["authorization_code"])
            c.setdefault("redirect_uri_prefixes", [])
            c.setdefault("authorities", [])
            c.setdefault("scopes", ["read", "write"])
            self.clients[c["client_id"]] = c

    def allowed_scopes(self, client):
        """What a client may ask for: its scopes, and openid with --bench-id-token
        (asked for explicitly only: never part of a default scope)."""
        return set(client["scopes"]) | ({"openid"} if self.bench_id_token else set())

    def access_lifetime_for(self, client):
        return int(client.get("access_token_lifetime", self.access_lifetime)) if client else self.access_lifetime

    def refresh_lifetime_for(self, client):
        return int(client.get("refresh_token_lifetime", self.refresh_lifetime)) if client else self.refresh_lifetime


def url_host(host):
    return "[%s]" % host if ":" in host else host


def redirect_ok(client, redirect_uri):
    if not client or not redirect_uri or "#" in redirect_uri:
        return False
    if any(ch in redirect_uri for ch in "\r\n\t <>\"\\"):
        return False
    return any(redirect_uri.startswith(p) for p in client["redirect_uri_prefixes"])


def user_authorities(user):
    return ["ROLE_" + r for r in user["roles"]]


# ---------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------
STYLE = """
body{font-family:Arial,Helvetica,sans-serif;margin:0;color:#0b0c0c;background:#fff}
header{background:#0b0c0c;color:#fff;padding:12px 24px;font-weight:bold}
header span{background:#d4351c;padding:2px 6px;margin-left:10px;font-size:80%}
main{max-width:640px;padding:24px}
label{display:block;font-weight:bold;margin-top:16px}
input[type=text],input:not([type]),input[type=password]{font-size:1.1em;padding:5px;width:18em;border:2px solid #0b0c0c}
button{margin-top:20px;font-size:1.1em;padding:8px 14px;background:#00703c;color:#fff;border:0}
#error{border-left:5px solid #d4351c;padding:8px 12px;color:#d4351c;font-weight:bold}
.hint{color:#505a5f;margin-top:32px;font-size:90%}
"""


def page(title, body):
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n"
        "<header>HMPPS Digital Services<span>development stand-in</span></header>\n"
        "<main>\n%s\n</main>\n</body>\n</html>\n" % (html.escape(title), STYLE, body))


def signin_page(fields, error=None, username=""):
    e = html.escape
    parts = ["<h1>%s</h1>" % e(TITLE)]
    if error:
        parts.append('<p id="error" role="alert">%s</p>' % e(error))
    parts.append('<form id="signin" method="post" action="%s/sign-in">' % BASE)
    parts.append('<label for="username">Username</label>')
    parts.append('<input name="username" id="username" value="%s" autocomplete="username" '
                 'autocapitalize="characters" spellcheck="false">' % e(username))
    parts.append('<label for="password">Password</label>')
    parts.append('<input type="password" name="password" id="password" '
                 'autocomplete="current-password">')
    for name in ("client_id", "redirect_uri", "state", "code_challenge",
                 "code_challenge_method", "scope"):
        parts.append('<input type="hidden" name="%s" value="%s">'
                     % (name, e(fields.get(name) or "")))
    if fields.get("nonce"):     # OpenID Connect clients (--bench-id-token)
        parts.append('<input type="hidden" name="nonce" value="%s">' % e(fields["nonce"]))
    parts.append('<button type="submit" id="submit">Sign in</button>')
    parts.append("</form>")
    if fields.get("redirect_uri"):
        deny = add_query(fields["redirect_uri"],
                         [("error", "access_denied"), ("state", fields.get("state"))])
        parts.append('<p><a id="deny" href="%s">Cancel</a></p>' % e(deny))
    parts.append('<p class="hint">devauth: a development stand-in for HMPPS Auth. '
                 'Never use it to protect anything real.</p>')
    return page(TITLE, "\n".join(parts))


def error_page(title, message):
    return page(title, '<h1>%s</h1>\n<p id="error">%s</p>'
                % (html.escape(title), html.escape(message)))


# ---------------------------------------------------------------------------
# HTTP handler
# ---------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in separate writes: with Nagle's algorithm the
    # body of every answer on a kept-alive connection waited for the client's
    # delayed ACK (40 ms), which hid what connection reuse saves
    disable_nagle_algorithm = True
    server_version = "devauth"
    sys_version = ""

    def version_string(self):
        return self.server_version

    # routes: path -> {method: (counter name or None, handler method name)}
    ROUTES = {
        BASE + "/oauth/authorize": {"GET": ("authorize", "h_authorize")},
        BASE + "/sign-in": {"GET": ("sign_in", "h_signin_get"), "POST": ("sign_in", "h_signin_post")},
        BASE + "/login": {"GET": ("sign_in", "h_signin_get")},
        BASE + "/oauth/token": {"POST": ("token", "h_token")},
        BASE + "/.well-known/jwks.json": {"GET": ("jwks", "h_jwks")},
        BASE + "/issuer/.well-known/openid-configuration": {"GET": ("discovery", "h_discovery")},
        BASE + "/health/ping": {"GET": ("ping", "h_ping")},
        BASE + ALT + "/oauth/authorize": {"GET": ("authorize_alt", "h_authorize")},
        BASE + ALT + "/oauth/token": {"POST": ("token_alt", "h_token")},
        BASE + ALT + "/jwks.json": {"GET": ("jwks_alt", "h_jwks")},
        BASE + "/api/user/me": {"GET": ("me", "h_me")},
        BASE + "/api/user/me/roles": {"GET": ("roles", "h_roles")},
        BASE + "/api/users/me/caseLoads": {"GET": ("caseloads", "h_caseloads")},
        BASE + "/users/me/caseloads": {"GET": ("caseloads", "h_manage_users_caseloads")},
        BASE + "/sign-out": {"GET": ("sign_out", "h_signout"), "POST": ("sign_out", "h_signout")},
        BASE + "/logout": {"GET": ("sign_out", "h_signout"), "POST": ("sign_out", "h_signout")},
        BASE + "/token/verify": {"POST": ("verify", "h_verify")},
        TEST + "/fault": {"POST": (None, "t_fault")},
        TEST + "/fault/clear": {"POST": (None, "t_fault_clear")},
        TEST + "/rotate-keys": {"POST": (None, "t_rotate")},
        TEST + "/stats": {"GET": (None, "t_stats")},
        TEST + "/reset-stats": {"POST": (None, "t_reset_stats")},
        TEST + "/mint": {"POST": (None, "t_mint")},
        TEST + "/users": {"GET": (None, "t_users")},
        TEST + "/revoke": {"POST": (None, "t_revoke")},
        TEST + "/roles": {"POST": (None, "t_roles")},
    }

    @property
    def st(self):
        return self.server.state

    @property
    def cfg(self):
        return self.server.state.cfg

    # --- logging ----------------------------------------------------------
    def log_message(self, fmt, *args):  # silence the default access log
        pass

    def log_request(self, code="-", size="-"):
        pass

    def log_error(self, fmt, *args):
        msg = fmt % args if args else fmt
        log("error %s" % re.sub(r"\?\S*", "?...", msg)[:200])

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    # --- plumbing ---------------------------------------------------------
    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length) if length else b""

    def dispatch(self, method):
        t0 = time.monotonic()
        self._status = None
        self._note = ""
        parts = urlsplit(self.path)
        path = parts.path
        try:
            try:
                self.body = self.read_body()
            except (ValueError, OSError):
                self.close_connection = True
                self.send_json(400, {"error": "invalid_request", "error_description": "bad body"})
                return
            self.query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            route = self.ROUTES.get(path)
            if route is None:
                if path.startswith(BASE + "/") or path == BASE:
                    self.st.count_request("other")
                self.send_json(404, {"status": 404, "error": "Not Found", "path": path})
                return
            if method not in route:
                self.send_json(405, {"status": 405, "error": "Method Not Allowed"},
                               headers=[("Allow", ", ".join(sorted(route)))])
                return
            counter, func = route[method]
            if counter:
                self.st.count_request(counter)
                fault = self.st.take_fault(counter, TRANSPORT_MODES)
                if fault and self.apply_transport_fault(fault):
                    return
            getattr(self, func)()
        except (ConnectionError, socket.timeout):
            self.close_connection = True
            self._note += " [client went away]"
        except Exception:  # a bug: answer 500 and keep serving
            log("internal error on %s %s:\n%s" % (method, path, traceback.format_exc()))
            if self._status is None:
                try:
                    self.send_json(500, {"status": 500, "error": "Internal Server Error"})
                except OSError:
                    pass
        finally:
            ms = (time.monotonic() - t0) * 1000
            log('%s "%s %s" %s %.1fms%s' % (self.client_address[0], method, path,
                                             self._status or "-", ms, self._note))

    def apply_transport_fault(self, fault):
        """Apply a 500/slow/garbage/close fault. Returns True when the request is answered."""
        mode = fault["mode"]
        self._note = " [fault %s]" % mode
        if mode == "slow":
            time.sleep(float(fault.get("delay") or 0))
            return False
        if mode == "500":
            self.send_json(500, {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                 "status": 500, "error": "Internal Server Error",
                                 "message": "fault injected by devauth"})
            return True
        if mode == "garbage":
            self.send_raw(200, b"<<this is not json>> {\"keys\": [", "application/json")
            return True
        if mode == "close":
            self._status = "closed"
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return True
        return False

    def send_raw(self, status, body, ctype, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        names = set()
        for k, v in headers or []:
            self.send_header(k, v)
            names.add(k.lower())
        if "cache-control" not in names:
            self.send_header("Cache-Control", "no-store")
            self.send_header("Pragma", "no-cache")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, status, obj, headers=None):
        self.send_raw(status, json.dumps(obj).encode("utf-8"),
                      "application/json;charset=UTF-8", headers)

    def send_html(self, status, text, headers=None):
        self.send_raw(status, text.encode("utf-8"), "text/html;charset=UTF-8", headers)

    def redirect(self, location, headers=None):
        self.send_raw(302, b"", "text/plain", [("Location", location)] + (headers or []))

    def form(self):
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}

    def json_body(self):
        if not self.body.strip():
            return {}
        obj = json.loads(self.body.decode("utf-8"))
        if not isinstance(obj, dict):
            raise ValueError("expected a JSON object")
        return obj

    def cookie(self, name):
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v.strip().strip('"')
        return None

    def session_cookie_header(self, sid):
        return ("Set-Cookie", "%s=%s; Path=%s; HttpOnly; SameSite=Lax" % (SESSION_COOKIE, sid, BASE))

    def clear_cookie_header(self):
        return ("Set-Cookie", "%s=; Path=%s; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                "HttpOnly; SameSite=Lax" % (SESSION_COOKIE, BASE))

    def bearer(self):
        h = self.headers.get("Authorization", "")
        scheme, _, value = h.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()

    # --- browser flow -----------------------------------------------------
    def check_client_redirect(self, client_id, redirect_uri):
        """Returns the client, or None after sending a 400 page."""
        client = self.cfg.clients.get(client_id or "")
        if client is None:
            self.send_html(400, error_page("Invalid client", "Unknown client_id."))
            return None
        if not redirect_ok(client, redirect_uri):
            self.send_html(400, error_page(
                "Invalid redirect", "The redirect_uri is not registered for this client."))
            return None
        return client

    def check_pkce_params(self, fields):
        """Returns an error description, or None if the PKCE parameters are acceptable."""
        challenge = fields.get("code_challenge") or ""
        method = fields.get("code_challenge_method") or ""
        if not challenge:
            return None
        if method != "S256":
            return "code_challenge_method must be S256"
        if not PKCE_CHARS.match(challenge):
            return "malformed code_challenge"
        return None

    def redirect_with_code(self, client, fields, user, extra_headers=None):
        code = self.st.new_code(client["client_id"], fields["redirect_uri"],
                                fields.get("code_challenge") or None,
                                fields.get("code_challenge_method") or None,
                                user["username"], fields.get("scope") or None,
                                fields.get("nonce") or None)
        self.redirect(add_query(fields["redirect_uri"],
                                [("code", code), ("state", fields.get("state"))]),
                      extra_headers)

    def h_authorize(self):
        q = self.query
        client = self.check_client_redirect(q.get("client_id"), q.get("redirect_uri"))
        if client is None:
            return
        ruri, state = q["redirect_uri"], q.get("state")

        def fail(error, desc):
            self.redirect(add_query(ruri, [("error", error), ("error_description", desc),
                                           ("state", state)]))

        if q.get("response_type") != "code":
            return fail("unsupported_response_type", "response_type must be code")
        if "authorization_code" not in client["grant_types"]:
            return fail("unauthorized_client", "client may not use the authorization code grant")
        err = self.check_pkce_params(q)
        if err:
            return fail("invalid_request", err)
        if q.get("scope") and not set(q["scope"].split()) <= self.cfg.allowed_scopes(client):
            return fail("invalid_scope", "scope not allowed for this client")
        prompt = q.get("prompt", "")
        user = self.st.session_user(self.cookie(SESSION_COOKIE))
        if user is not None and prompt != "login":
            self._note = " [silent sso]"
            return self.redirect_with_code(client, q, user)
        if prompt == "none":
            return fail("login_required", "no sign-in session")
        self.send_html(200, signin_page(q))

    def h_signin_get(self):
        self.send_html(200, signin_page({}))

    def h_signin_post(self):
        f = self.form()
        client = None
        if f.get("client_id") or f.get("redirect_uri"):
            client = self.check_client_redirect(f.get("client_id"), f.get("redirect_uri"))
            if client is None:
                return
            err = self.check_pkce_params(f)
            if err:
                self.send_html(400, error_page("Invalid request", err))
                return
        typed = f.get("username", "")
        user = self.cfg.users.get(typed.strip().upper())
        password = f.get("password", "")
        if (user is None or not user.get("active", True)
                or not hmac.compare_digest(password.encode("utf-8"),
                                           str(user["password"]).encode("utf-8"))):
            self._note = " [bad credentials]"
            self.send_html(200, signin_page(
                f, error="Enter a valid username and password.", username=typed))
            return
        sid = self.st.new_session(user["username"])
        cookie = self.session_cookie_header(sid)
        if client is None:
            self.send_html(200, page(TITLE, "<h1>Signed in</h1>\n<p id=\"signed-in\">"
                                     "You are signed in as %s.</p>"
                                     % html.escape(user["username"])), [cookie])
            return
        self.redirect_with_code(client, f, user, [cookie])

    def h_signout(self):
        fields = dict(self.query)
        fields.update(self.form())
        sid = self.cookie(SESSION_COOKIE)
        username = self.st.end_session(sid)
        if username:
            n = self.st.revoke_user(username)
            self._note = " [revoked %d]" % n
        client = self.cfg.clients.get(fields.get("client_id") or "")
        ruri = fields.get("redirect_uri")
        target = ruri if redirect_ok(client, ruri) else self.cfg.public_url + "/sign-in"
        self.redirect(target, [self.clear_cookie_header()])

    # --- token endpoint ---------------------------------------------------
    def basic_client(self):
        h = self.headers.get("Authorization", "")
        scheme, _, value = h.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            raw = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        cid, sep, secret = raw.partition(":")
        if not sep:
            return None
        cid, secret = unquote_plus(cid), unquote_plus(secret)
        client = self.cfg.clients.get(cid)
        if client is None or not hmac.compare_digest(
                secret.encode("utf-8"), str(client.get("client_secret", "")).encode("utf-8")):
            return None
        return client

    def h_token(self):
        client = self.basic_client()
        if client is None:
            self.send_json(401, {"error": "unauthorized",
                                 "error_description": "Full authentication is required to "
                                 "access this resource (bad or missing client credentials)"},
                           headers=[("WWW-Authenticate", 'Basic realm="oauth2/client"')])
            return
        f = self.form()
        try:
            body = self.grant(client, f)
        except AuthError as e:
            self._note = " [%s]" % e.error
            self.send_json(e.status, {"error": e.error, "error_description": e.description})
            return
        self.send_json(200, body)

    def requested_scope(self, client, f, allowed=None):
        allowed = allowed if allowed is not None else self.cfg.allowed_scopes(client)
        if f.get("scope"):
            scope = f["scope"].split()
            if not set(scope) <= set(allowed):
                raise AuthError(400, "invalid_scope", "Invalid scope: %s" % f["scope"][:100])
            return scope
        return list(allowed)

    def grant(self, client, f):
        gt = f.get("grant_type")
        if not gt:
            raise AuthError(400, "invalid_request", "Missing grant type")
        if gt not in GRANTS:
            raise AuthError(400, "unsupported_grant_type", "Unsupported grant type: %s" % gt[:50])
        if gt not in client["grant_types"]:
            raise AuthError(400, "unauthorized_client", "Unauthorized grant type: %s" % gt)
        if gt == "authorization_code":
            code = f.get("code")
            if not code:
                raise AuthError(400, "invalid_request", "An authorization code must be supplied.")
            entry = self.st.take_code(code)
            if entry is None:
                raise AuthError(400, "invalid_grant", "Invalid authorization code")
            if entry["client_id"] != client["client_id"]:
                raise AuthError(400, "invalid_grant", "Authorization code was issued to another client")
            if f.get("redirect_uri") != entry["redirect_uri"]:
                raise AuthError(400, "invalid_grant", "Redirect URI mismatch.")
            if entry["challenge"]:
                verifier = f.get("code_verifier")
                if not verifier:
                    raise AuthError(400, "invalid_grant", "code_verifier is required")
                if not hmac.compare_digest(pkce_s256(verifier), entry["challenge"]):
                    raise AuthError(400, "invalid_grant", "code_verifier does not match code_challenge")
            user = self.active_user(entry["username"])
            scope = entry["scope"].split() if entry["scope"] else list(client["scopes"])
            return self.issue(client, user, gt, scope, nonce=entry.get("nonce"))
        if gt == "password":
            user = self.cfg.users.get((f.get("username") or "").strip().upper())
            if (user is None or not user.get("active", True)
                    or not hmac.compare_digest((f.get("password") or "").encode("utf-8"),
                                               str(user["password"]).encode("utf-8"))):
                raise AuthError(400, "invalid_grant", "Bad credentials")
            return self.issue(client, user, gt, self.requested_scope(client, f))
        if gt == "refresh_token":
            rt = f.get("refresh_token")
            if not rt:
                raise AuthError(400, "invalid_request", "A refresh token must be supplied.")
            entry = self.check_refresh(rt)
            if entry is None:
                raise AuthError(400, "invalid_grant", "Invalid refresh token")
            if entry["client_id"] != client["client_id"]:
                raise AuthError(400, "invalid_grant", "Refresh token was issued to another client")
            user = self.active_user(entry["username"])
            scope = self.requested_scope(client, f, allowed=entry["scope"])
            return self.issue(client, user, gt, scope, refresh=(rt, entry))
        # client_credentials: like HMPPS Auth, the client may name any user and
        # any auth_source for its own token
        username = (f.get("username") or "").strip() or None
        auth_source = (f.get("auth_source") or "").strip() or "none"
        return self.issue(client, None, gt, self.requested_scope(client, f), cc_username=username,
                          cc_auth_source=auth_source)

    def active_user(self, username):
        user = self.cfg.users.get(username)
        if user is None or not user.get("active", True):
            raise AuthError(400, "invalid_grant", "User account is disabled or unknown")
        return user

    def check_refresh(self, token):
        with self.st.lock:
            keys = dict(self.st.all_keys)
        try:
            claims = self.st.decode_own(token, keys)
        except jwt.PyJWTError:
            return None
        if "ati" not in claims:
            return None
        with self.st.lock:
            entry = self.st.refresh.get(claims["jti"])
        return entry

    def issue(self, client, user, grant_type, scope, refresh=None, cc_username=None,
              cc_auth_source="none", nonce=None):
        shaping = self.st.take_fault("token", SHAPING_MODES)
        mode = shaping["mode"] if shaping else None
        if mode:
            self._note = " [fault %s]" % mode
        lifetime = self.cfg.access_lifetime_for(client)
        claims = build_claims(self.cfg, client, user, grant_type, scope, lifetime, cc_username,
                              cc_auth_source)
        if mode == "expired_token":
            claims["exp"] = int(time.time()) - 60
            claims["iat"] = claims["exp"] - lifetime
        elif mode == "wrong_issuer":
            claims["iss"] = WRONG_ISSUER
        token = self.st.sign(claims, mode)
        self.st.track_access(claims)
        body = {"access_token": token, "token_type": "bearer"}
        if user is not None and "refresh_token" in client["grant_types"]:
            if refresh is not None:
                body["refresh_token"] = refresh[0]
            else:
                body["refresh_token"] = self.new_refresh(client, user, scope, claims)
        body["expires_in"] = max(0, int(claims["iat"] + lifetime - time.time()))
        body["scope"] = " ".join(scope)
        if self.cfg.bench_id_token and user is not None and "openid" in scope:
            body["id_token"] = self.id_token(client, claims, nonce)
        body["sub"] = claims["sub"]
        body["auth_source"] = claims["auth_source"]
        body["jti"] = claims["jti"]
        body["iss"] = claims["iss"]
        self.st.count_grant(grant_type)
        return body

    def id_token(self, client, access_claims, nonce):
        """--bench-id-token only: a minimal OpenID Connect ID token for the
        access token's user (HMPPS Auth itself issues none)."""
        claims = {k: access_claims[k] for k in ("iss", "sub", "iat", "exp", "auth_source",
                                                "user_name", "name") if k in access_claims}
        claims["aud"] = client["client_id"]
        claims["azp"] = client["client_id"]
        if nonce:
            claims["nonce"] = nonce
        return self.st.sign(claims)

    def new_refresh(self, client, user, scope, access_claims):
        now = int(time.time())
        jti = str(uuid.uuid4())
        exp = now + self.cfg.refresh_lifetime_for(client)
        claims = {
            "sub": user["username"],
            "user_name": user["username"],
            "auth_source": user["auth_source"],
            "scope": list(scope),
            "ati": access_claims["jti"],
            "authorities": user_authorities(user),
            "client_id": client["client_id"],
            "iss": self.cfg.issuer,
            "exp": exp,
            "iat": now,
            "jti": jti,
        }
        token = self.st.sign(claims)
        with self.st.lock:
            self.st.refresh[jti] = {"username": user["username"], "client_id": client["client_id"],
                                    "scope": list(scope), "exp": exp}
        return token

    # --- JWKS, discovery, health ------------------------------------------
    def h_jwks(self):
        self.send_json(200, self.st.jwks(), headers=[("Cache-Control", "max-age=43200")])

    def h_discovery(self):
        pu = self.cfg.public_url
        fault = self.st.take_fault("discovery", DISCOVERY_MODES)
        mode = fault["mode"] if fault else None
        alt = pu + ALT if mode == "moved" else None
        self.send_json(200, {
            "issuer": WRONG_ISSUER if mode == "wrong_issuer" else self.cfg.issuer,
            "authorization_endpoint": (alt or pu) + "/oauth/authorize",
            "token_endpoint": (alt or pu) + "/oauth/token",
            "jwks_uri": alt + "/jwks.json" if alt else pu + "/.well-known/jwks.json",
        }, headers=[("Cache-Control", "max-age=3600")])

    def h_ping(self):
        self.send_json(200, {"status": "UP"})

    # --- user API ---------------------------------------------------------
    def bearer_claims(self):
        """Verified claims of the bearer access token, or None after sending 401."""
        token = self.bearer()
        desc = None
        claims = None
        if token is None:
            desc = "Full authentication is required to access this resource"
        else:
            try:
                claims = self.st.verify_access(token)
            except jwt.ExpiredSignatureError:
                desc = "Access token expired"
            except jwt.PyJWTError as e:
                desc = "Invalid access token: %s" % type(e).__name__
            if claims is not None and not self.st.access_active(claims.get("jti")):
                claims, desc = None, "Access token has been revoked"
        if claims is None:
            self._note = " [401 %s]" % desc
            self.send_json(401, {"error": "invalid_token" if token else "unauthorized",
                                 "error_description": desc},
                           headers=[("WWW-Authenticate",
                                     'Bearer error="invalid_token"' if token else "Bearer")])
        return claims

    def token_user(self, claims):
        name = claims.get("user_name") or (claims.get("sub") if claims.get("auth_source") != "none" else None)
        return self.cfg.users.get(str(name).upper()) if name else None, name

    def h_me(self):
        claims = self.bearer_claims()
        if claims is None:
            return
        user, name = self.token_user(claims)
        if user is not None:
            body = {"username": user["username"], "active": bool(user.get("active", True)),
                    "name": user["name"], "authSource": user["auth_source"]}
            if user.get("staff_id") is not None:
                body["staffId"] = user["staff_id"]
            if user.get("active_caseload"):
                body["activeCaseLoadId"] = user["active_caseload"]
            body["userId"] = user.get("user_id")
            body["uuid"] = user.get("uuid")
        else:
            body = {"username": name or claims.get("sub"), "active": True,
                    "name": claims.get("name") or name or claims.get("sub"),
                    "authSource": claims.get("auth_source", "none")}
            if claims.get("user_id") is not None:
                body["userId"] = claims["user_id"]
            if claims.get("user_uuid") is not None:
                body["uuid"] = claims["user_uuid"]
        self.send_json(200, body)

    def h_roles(self):
        claims = self.bearer_claims()
        if claims is None:
            return
        user, _ = self.token_user(claims)
        if user is not None:
            roles = list(user["roles"])
        else:
            roles = [a[5:] if a.startswith("ROLE_") else a
                     for a in claims.get("authorities") or [] if isinstance(a, str)]
        self.send_json(200, [{"roleCode": r} for r in roles])

    def h_caseloads(self):
        claims = self.bearer_claims()
        if claims is None:
            return
        user, _ = self.token_user(claims)
        out = []
        if user is not None:
            for cl in user["caseloads"]:
                out.append({
                    "caseLoadId": cl,
                    "description": self.cfg.caseload_descriptions.get(cl, cl),
                    "type": "APP" if cl == "NWEB" else "INST",
                    "caseloadFunction": "GENERAL",
                    "currentlyActive": cl == user.get("active_caseload"),
                })
        self.send_json(200, out)

    def h_manage_users_caseloads(self):
        """The Manage Users API's GET /users/me/caseloads."""
        claims = self.bearer_claims()
        if claims is None:
            return
        user, name = self.token_user(claims)
        describe = self.cfg.caseload_descriptions.get
        held = list(user["caseloads"]) if user is not None else []
        active = user.get("active_caseload") if user is not None else None
        self.send_json(200, {
            "username": user["username"] if user is not None else name or claims.get("sub"),
            "active": bool(user.get("active", True)) if user is not None else True,
            "accountType": "GENERAL",
            "activeCaseload": {"id": active, "name": describe(active, active)} if active else None,
            "caseloads": [{"id": cl, "name": describe(cl, cl)} for cl in held],
        })

    # --- token verification API -------------------------------------------
    def h_verify(self):
        token = self.bearer()
        if token is None:
            self.send_json(401, {"status": 401, "error": "unauthorized",
                                 "error_description": "Bearer token required"},
                           headers=[("WWW-Authenticate", "Bearer")])
            return
        try:
            claims = self.st.verify_access(token)
        except jwt.ExpiredSignatureError:
            self.send_json(400, {"status": 400, "error": "expired_token",
                                 "error_description": "JWT expired"})
            return
        except jwt.PyJWTError as e:
            self.send_json(400, {"status": 400, "error": "invalid_token",
                                 "error_description": "Malformed or invalid JWT: %s" % type(e).__name__})
            return
        active = self.st.access_active(claims.get("jti"))
        self._note = " [active=%s]" % str(active).lower()
        self.send_json(200, {"active": active})

    # --- test hooks -------------------------------------------------------
    def hook_body(self):
        try:
            return self.json_body()
        except (ValueError, UnicodeDecodeError) as e:
            self.send_json(400, {"error": "bad JSON: %s" % e})
            return None

    def t_fault(self):
        b = self.hook_body()
        if b is None:
            return
        endpoint = b.get("endpoint", "*")
        mode = str(b.get("mode", ""))
        if endpoint != "*" and endpoint not in ENDPOINTS:
            return self.send_json(400, {"error": "unknown endpoint", "endpoints": list(ENDPOINTS) + ["*"]})
        if mode not in TRANSPORT_MODES + SHAPING_MODES + DISCOVERY_MODES:
            return self.send_json(400, {"error": "unknown mode",
                                        "modes": list(TRANSPORT_MODES + SHAPING_MODES
                                                      + DISCOVERY_MODES)})
        count = b.get("count")
        if count is not None and (not isinstance(count, int) or count < 1):
            return self.send_json(400, {"error": "count must be a positive integer"})
        try:
            delay = float(b.get("delay", 5 if mode == "slow" else 0))
        except (TypeError, ValueError):
            return self.send_json(400, {"error": "delay must be a number"})
        f = {"endpoint": endpoint, "mode": mode, "delay": delay, "count": count}
        with self.st.lock:
            self.st.faults.append(f)
        self.send_json(200, {"ok": True, "faults": self.st.fault_list()})

    def t_fault_clear(self):
        with self.st.lock:
            self.st.faults = []
        self.send_json(200, {"ok": True, "faults": []})

    def t_rotate(self):
        b = self.hook_body()
        if b is None:
            return
        kid, kids = self.st.rotate(bool(b.get("drop_old", False)))
        self.send_json(200, {"kid": kid, "kids": kids})

    def t_stats(self):
        self.send_json(200, self.st.get_stats())

    def t_reset_stats(self):
        with self.st.lock:
            self.st.reset_stats()
        self.send_json(200, {"ok": True})

    def t_users(self):
        out = []
        for u in self.cfg.users.values():
            out.append({k: u.get(k) for k in (
                "username", "password", "name", "description", "auth_source", "roles",
                "active_caseload", "caseloads", "user_id", "staff_id", "uuid", "active")})
        self.send_json(200, out)

    def t_revoke(self):
        b = self.hook_body()
        if b is None:
            return
        n = 0
        if b.get("username"):
            n += self.st.revoke_user(str(b["username"]).upper())
        if b.get("jti"):
            n += self.st.revoke_jti(str(b["jti"]))
        self.send_json(200, {"revoked": n})

    def t_roles(self):
        """A seeded user's roles from now on (tokens issued later, refreshes too)."""
        b = self.hook_body()
        if b is None:
            return
        user = self.cfg.users.get(str(b.get("username", "")).upper())
        roles = b.get("roles")
        if user is None or not isinstance(roles, list) \
                or not all(isinstance(r, str) for r in roles):
            return self.send_json(400, {"error": "needs a seeded username and a list of roles"})
        with self.st.lock:
            user["roles"] = list(roles)
        self.send_json(200, {"username": user["username"], "roles": user["roles"]})

    def t_mint(self):
        b = self.hook_body()
        if b is None:
            return
        mode = b.get("mode")
        if mode is not None and mode not in SHAPING_MODES:
            return self.send_json(400, {"error": "unknown mode", "modes": list(SHAPING_MODES)})
        client_id = b.get("client_id") or ("allocation-manager" if "allocation-manager" in self.cfg.clients
                                           else next(iter(self.cfg.clients), "devauth"))
        client = self.cfg.clients.get(client_id) or {
            "client_id": client_id, "scopes": ["read", "write"], "authorities": [],
            "grant_types": []}
        try:
            lifetime = int(b.get("lifetime", self.cfg.access_lifetime_for(client)))
        except (TypeError, ValueError):
            return self.send_json(400, {"error": "lifetime must be an integer"})
        username = b.get("username")
        scope = b.get("scope") or list(client.get("scopes", ["read", "write"]))
        if isinstance(scope, str):
            scope = scope.split()
        if username:
            user = self.cfg.users.get(str(username).upper()) or {
                "username": str(username), "auth_source": "nomis", "roles": [],
                "name": str(username), "user_id": None, "uuid": None}
            claims = build_claims(self.cfg, client, user, b.get("grant_type", "authorization_code"),
                                  scope, lifetime, None)
        else:
            claims = build_claims(self.cfg, client, None, "client_credentials", scope, lifetime, None)
        if lifetime < 0:
            claims["iat"] = claims["exp"] - max(self.cfg.access_lifetime, 60)
        if mode == "expired_token":
            claims["exp"] = int(time.time()) - 60
            claims["iat"] = claims["exp"] - max(self.cfg.access_lifetime, 60)
        elif mode == "wrong_issuer":
            claims["iss"] = WRONG_ISSUER
        overrides = b.get("claims") or {}
        if not isinstance(overrides, dict):
            return self.send_json(400, {"error": "claims must be an object"})
        for k, v in overrides.items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        token = self.st.sign(claims, mode)
        self.st.track_access(claims)
        self.send_json(200, {"access_token": token, "jti": claims.get("jti"),
                             "exp": claims.get("exp")})


def build_claims(cfg, client, user, grant_type, scope, lifetime, cc_username,
                 cc_auth_source="none"):
    now = int(time.time())
    if user is not None:
        claims = {
            "sub": user["username"],
            "user_name": user["username"],
            "auth_source": user["auth_source"],
            "authorities": user_authorities(user),
            "scope": list(scope),
            "client_id": client["client_id"],
            "grant_type": grant_type,
        }
        if user.get("user_id") is not None:
            claims["user_id"] = str(user["user_id"])
        if user.get("uuid") is not None:
            claims["user_uuid"] = user["uuid"]
        claims["name"] = user.get("name") or user["username"]
    else:
        claims = {"sub": cc_username or client["client_id"]}
        if cc_username:
            claims["user_name"] = cc_username
        claims.update({
            "auth_source": cc_auth_source,
            "authorities": list(client.get("authorities", [])),
            "scope": list(scope),
            "client_id": client["client_id"],
            "grant_type": grant_type,
        })
    claims.update({"iss": cfg.issuer, "exp": now + lifetime, "iat": now,
                   "jti": str(uuid.uuid4())})
    return claims


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None  # an ssl.SSLContext: https (--tls-cert)

    def process_request(self, request, client_address):
        # connections, not requests: shows whether clients keep them alive
        self.state.count_connection()
        super().process_request(request, client_address)

    def finish_request(self, request, client_address):
        # the TLS handshake in the connection's own thread, never the accept loop
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return
            try:
                super().finish_request(request, client_address)
            finally:
                request.close()
            return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout)):
            return
        log("connection error from %s: %r" % (client_address[0], exc))


def loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_args(argv):
    p = argparse.ArgumentParser(description="Development stand-in for HMPPS Auth (NOMIS SSO).")
    p.add_argument("--port", type=int, required=True, help="port to listen on (0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--users", default=os.path.join(HERE, "users.json"))
    p.add_argument("--clients", default=os.path.join(HERE, "clients.json"))
    p.add_argument("--access-token-lifetime", type=int, default=1200, metavar="SECONDS")
    p.add_argument("--refresh-token-lifetime", type=int, default=43200, metavar="SECONDS")
    p.add_argument("--public-url", default=None,
                   help="external base URL, default http(s)://HOST:PORT/auth")
    p.add_argument("--tls-cert", default=None, metavar="PEM",
                   help="serve https with this certificate (chain) instead of http")
    p.add_argument("--tls-key", default=None, metavar="PEM",
                   help="the --tls-cert key (default: in the --tls-cert file)")
    p.add_argument("--bench-id-token", action="store_true",
                   help="bench only: allow the openid scope and add an id_token to the "
                        "token response when it was asked for (HMPPS Auth issues none)")
    args = p.parse_args(argv)
    if not loopback(args.host):
        p.error("--host must be a loopback address: devauth never listens elsewhere")
    return args


def main(argv=None):
    args = parse_args(argv)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    Server.address_family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    httpd = Server((args.host, args.port), Handler)
    if args.tls_cert:
        httpd.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        httpd.tls.load_cert_chain(args.tls_cert, args.tls_key)
    port = httpd.server_address[1]
    cfg = Config(args, port)
    httpd.state = State(cfg)
    log("listening on %s:%d, public URL %s, %d users, %d clients"
        % (args.host, port, cfg.public_url, len(cfg.users), len(cfg.clients)))
    sys.stdout.write("READY %s://%s:%d/auth\n" % ("https" if args.tls_cert else "http",
                                                  url_host(args.host), port))
    sys.stdout.flush()
    try:
        httpd.serve_forever(poll_interval=0.2)
    except (SystemExit, KeyboardInterrupt):
        pass
    finally:
        httpd.server_close()
        log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
