"""Hostile input through the real httpd (issue 6, "Hostile-input corpus").

One event-MPM httpd for the whole file protects everything (<Location />,
so any path starts a sign-in) with:

  /public.html   open (the harness's liveness page)
  /api/          AuthType nomis-bearer, env.cgi
  /app/          AuthType nomis-sso, proxied to backend_echo.py
  /api-app/      AuthType nomis-bearer, proxied to backend_echo.py

Server-to-server calls (NomisSSOAuthInternalURL) go through a small
pass-through proxy to the shared dev auth server that adds one key of this
file's own to the JWKS it forwards. Tokens minted by devauth are signed with
devauth's keys; tokens whose *payload* is the hostile part (duplicate
claims, non-JSON, a kid with path characters) are signed with that extra
key, so the signature is valid and the module has to refuse them for the
right reason. A control token signed the same way is accepted.

Every test checks that the server is still up and that the error_log shows
no crash; the token tests also check that no token reached the error_log.
"""

import base64
import http.client
import json
import os
import re
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests

import harness as H
from harness import cgi_env
from conftest import serving

HERE = os.path.dirname(os.path.abspath(__file__))
PAYLOADS = os.path.join(HERE, "payloads", "open_redirects.txt")

XHR = {"X-Requested-With": "XMLHttpRequest", "Accept": "application/json"}
NAV = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
OWN_KID = "hostile-test-key"
STATE_LIMIT = 5  # NomisSSOStateCookieLimit default
CRASH_MARKS = ("Segmentation fault", "exit signal", "AH00052", "double free",
               "AddressSanitizer", "stack smashing", "Aborted", "core dumped")
JWT_IN_LOG = re.compile(r"eyJ[A-Za-z0-9_\-]{20,}")

# a sign-in started with 100 stale state cookies answers with ~100 Set-Cookie
# headers that clear them; http.client refuses more than 100 by default
http.client._MAXHEADERS = max(http.client._MAXHEADERS, 2000)


# ---------------------------------------------------------------------------
# signing with a key of our own
# ---------------------------------------------------------------------------
def b64url(data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def compact_json(obj):
    return json.dumps(obj, separators=(",", ":"))


class OwnKey:
    """An RSA key published (through AuthProxy) under OWN_KID."""

    def __init__(self, kid=OWN_KID):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        nums = self.private.public_key().public_numbers()

        def int_b64(n):
            return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        self.jwk = {"kty": "RSA", "e": int_b64(nums.e), "n": int_b64(nums.n), "use": "sig",
                    "kid": kid, "alg": "RS256"}

    def sign(self, data, alg="RS256"):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        if alg == "PS256":
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
        else:
            pad = padding.PKCS1v15()
        return self.private.sign(data, pad, hashes.SHA256())

    def token(self, payload, header=None, alg="RS256"):
        """A compact JWS; payload and header may be objects or raw text/bytes."""
        hdr = header if header is not None else {"alg": alg, "typ": "JWT", "kid": self.kid}
        h = b64url(hdr if isinstance(hdr, (str, bytes)) else compact_json(hdr))
        p = b64url(payload if isinstance(payload, (str, bytes)) else compact_json(payload))
        signing_input = (h + "." + p).encode("ascii")
        return h + "." + p + "." + b64url(self.sign(signing_input, alg))


def user_claims(issuer, lifetime=600, user="ALLOC_SPO", **over):
    now = int(time.time())
    c = {"sub": user, "user_name": user, "auth_source": "nomis",
         "authorities": ["ROLE_ALLOC_MGR"], "scope": ["read", "write"],
         "client_id": H.CLIENT_ID, "grant_type": "authorization_code", "name": "Alloc Spo",
         "user_id": "485412",
         "iss": issuer, "exp": now + lifetime, "iat": now, "jti": secrets.token_hex(16)}
    c.update(over)
    return c


# ---------------------------------------------------------------------------
# a pass-through proxy to devauth that adds our key to the JWKS
# ---------------------------------------------------------------------------
class AuthProxy:
    HOP = {"host", "connection", "content-length", "keep-alive", "transfer-encoding",
           "date", "server"}

    def __init__(self, upstream_port, extra_keys=()):
        self.upstream = upstream_port
        self.extra_keys = list(extra_keys)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items() if k.lower() not in proxy.HOP}
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=hdrs)
                    resp = conn.getresponse()
                    data = resp.read()
                except (OSError, http.client.HTTPException):
                    self.close_connection = True  # mirror a dropped connection
                    return
                finally:
                    conn.close()
                if self.path.split("?")[0].endswith("/.well-known/jwks.json"):
                    data = proxy.rewrite_jwks(data)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in proxy.HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def rewrite_jwks(self, data):
        try:
            doc = json.loads(data)
            doc["keys"] = list(doc["keys"]) + self.extra_keys
        except (ValueError, KeyError, TypeError):
            return data  # devauth's garbage fault goes through unchanged
        return json.dumps(doc).encode("utf-8")

    @property
    def auth_url(self):
        return "http://127.0.0.1:%d/auth" % self.server.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------------------
# the httpd
# ---------------------------------------------------------------------------
def hostile_extra(h, echo_port):
    backend = "http://127.0.0.1:%d/" % echo_port
    return """
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
ScriptAliasMatch "^/api/" "{d}/cgi-bin/env.cgi"
<Location />
    AuthType nomis-sso
    Require valid-user
</Location>
<Location /public.html>
    Require all granted
</Location>
<Location /api/>
    AuthType nomis-bearer
    Require valid-user
</Location>
<Location /app/>
    ProxyPass {backend}
</Location>
<Location /api-app/>
    AuthType nomis-bearer
    Require valid-user
    ProxyPass {backend}
</Location>
<Location /api-ru/>
    AuthType nomis-bearer
    Require valid-user
    RequestHeader set X-Remote-User "expr=%{{REMOTE_USER}}"
    ProxyPass {backend}
</Location>
""".format(moddir=H.MODDIR, d=h.dir, backend=backend)


@pytest.fixture(scope="module")
def own_key():
    return OwnKey()


@pytest.fixture(scope="module")
def auth_proxy(devauth_server, own_key):
    p = AuthProxy(devauth_server.port, [own_key.jwk]).start()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def hostile_httpd(module_httpd_factory, auth_proxy, echo_backend):
    return module_httpd_factory(mpm="event", internal_url=auth_proxy.auth_url,
                                extra=lambda h: hostile_extra(h, echo_backend.port))


@pytest.fixture
def site(hostile_httpd, devauth, request):
    return serving(request, hostile_httpd)


@pytest.fixture(scope="module")
def signed_in(hostile_httpd, devauth_server):
    """A Browser signed in as ALLOC_SPO (and remembered by devauth, so later
    sign-ins through it are silent)."""
    b = H.Browser(hostile_httpd, devauth_server)
    _, page = b.login("/protected/env")
    assert page.status_code == 200, hostile_httpd.explain(page, "sign-in")
    return b


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def assert_alive(h, mark):
    """The server answers and its error_log shows no crashed child."""
    assert h.running(), "httpd exited\n" + h.log_tail()
    r = requests.get(h.url("/public.html"), timeout=10)
    assert r.status_code == 200, h.explain(r, "httpd no longer serves")
    log = h.log_since(mark)
    for m in CRASH_MARKS:
        assert m not in log, "crash marker %r in the error_log:\n%s" % (m, log[-3000:])


def assert_no_token_logged(h, mark, tokens=()):
    """No JWT-looking text, and no 30-character piece of any token's
    signature, in the error_log written since mark."""
    log = h.log_since(mark)
    m = JWT_IN_LOG.search(log)
    assert not m, "a JWT in the error_log: %r" % log[max(0, m.start() - 200):m.end() + 50]
    runs = re.findall(r"[A-Za-z0-9_\-]{30,}", log)
    for tok in tokens:
        parts = tok.split(".")
        sig = parts[2] if len(parts) >= 3 else tok
        if len(sig) < 30:
            continue
        for run in runs:
            for i in range(len(run) - 29):
                assert run[i:i + 30] not in sig, \
                    "part of a token's signature in the error_log: %r" % run


def raw_http(port, head, timeout=15, body=b""):
    """Send request bytes verbatim ('head' without the final CRLF CRLF);
    (status, [(name, value)], body bytes), status 0 when the server closed
    without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + b"\r\n\r\n" + body)
        resp = http.client.HTTPResponse(s)
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return 0, [], b""
        except http.client.BadStatusLine:
            # no status line: httpd took a broken request line for HTTP/0.9
            # and answered with a bare (error) body, no headers
            return 0, [], b""
        data = resp.read()
        return resp.status, resp.getheaders(), data


def raw_get(h, target, headers=(), host=None):
    """GET with the request target and headers exactly as given (bytes or str)."""
    if isinstance(target, str):
        target = target.encode("utf-8")
    lines = [b"GET " + target + b" HTTP/1.1",
             b"Host: " + (host if host is not None else ("127.0.0.1:%d" % h.port).encode()),
             b"Connection: close"]
    for name, value in headers:
        lines.append((name.encode() if isinstance(name, str) else name) + b": "
                     + (value.encode("utf-8") if isinstance(value, str) else value))
    return raw_http(h.port, b"\r\n".join(lines))


def header(headers, name):
    for k, v in headers:
        if k.lower() == name.lower():
            return v
    return None


def headers_all(headers, name):
    return [v for k, v in headers if k.lower() == name.lower()]


def bearer(h, token, path="/api/env"):
    return requests.get(h.url(path), headers=dict(XHR, Authorization="Bearer " + token),
                        allow_redirects=False, timeout=15)


def challenge_params(value):
    assert value and value.startswith("Bearer "), "not a Bearer challenge: %r" % value
    return dict(re.findall(r'([A-Za-z_]+)="((?:[^"\\]|\\.)*)"', value))


def assert_invalid_token(h, r):
    assert r.status_code == 401, h.explain(r, "hostile bearer token not refused with 401")
    params = challenge_params(r.headers.get("WWW-Authenticate"))
    assert params.get("error") == "invalid_token", params
    assert "REMOTE_USER=" not in r.text


def is_same_host_path(loc):
    """A Location every browser resolves to a path on the same host."""
    if not loc or not loc.startswith("/") or loc.startswith("//") or loc.startswith("/\\"):
        return False
    if any(ord(c) <= 0x20 or ord(c) == 0x7f or ord(c) > 0x7e for c in loc) or "\\" in loc:
        return False
    return urlsplit(urljoin("http://127.0.0.1:1/", loc)).netloc == "127.0.0.1:1"


# ---------------------------------------------------------------------------
# bearer tokens
# ---------------------------------------------------------------------------
def devauth_issuer(devauth):
    return devauth.auth_url + "/issuer"


def minted(devauth, **kw):
    kw.setdefault("username", "ALLOC_SPO")
    return devauth.mint(**kw)["access_token"]


def swap_header(token, header):
    """The token with its header replaced (payload and signature kept)."""
    _, p, s = token.split(".")
    return b64url(compact_json(header)) + "." + p + "." + s


def swap_payload(token, payload):
    h, _, s = token.split(".")
    return h + "." + b64url(payload if isinstance(payload, (str, bytes))
                            else compact_json(payload)) + "." + s


def dup_claims(issuer, key, first, second):
    """Claims text with `key` twice: first value, then second."""
    c = user_claims(issuer)
    c.pop(key, None)
    body = compact_json(c)[:-1]
    return (body + ',"%s":%s,"%s":%s}' % (key, json.dumps(first), key, json.dumps(second)))


def hostile_tokens(devauth, key):
    """name -> token factory (called with the test's devauth and key)."""
    iss = devauth_issuer(devauth)
    now = int(time.time())

    def kid(value):
        return lambda: key.token(user_claims(iss), header={"alg": "RS256", "typ": "JWT",
                                                           "kid": value})

    def tampered():
        tok = minted(devauth)
        claims = json.loads(b64url_decode(tok.split(".")[1]))
        claims["user_name"] = claims["sub"] = "ALLOC_ADMIN"
        claims["authorities"] = ["ROLE_MOIC_ADMIN", "ROLE_ALLOC_MGR"]
        return swap_payload(tok, claims)

    def none_with_sig():
        tok = minted(devauth)
        return swap_header(tok, {"alg": "none", "typ": "JWT"})

    def none_kid_kept(alg):
        def make():
            tok = minted(devauth)
            hdr = json.loads(b64url_decode(tok.split(".")[0]))
            hdr["alg"] = alg
            return swap_header(tok, hdr)
        return make

    return {
        # algorithm confusion
        "alg_none": lambda: minted(devauth, mode="alg_none"),
        "alg_none_with_signature": none_with_sig,
        "alg_None_kid_kept": none_kid_kept("None"),
        "alg_NONE_kid_kept": none_kid_kept("NONE"),
        "alg_hs256_public_key_secret": lambda: minted(devauth, mode="hs256"),
        "alg_hs256_relabelled": none_kid_kept("HS256"),
        "alg_ps256_not_allowed": lambda: key.token(user_claims(iss), alg="PS256",
                                                   header={"alg": "PS256", "kid": key.kid}),
        "alg_missing": lambda: key.token(user_claims(iss), header={"kid": key.kid}),
        "alg_not_string": lambda: key.token(user_claims(iss),
                                            header={"alg": ["RS256"], "kid": key.kid}),
        "embedded_jwk_header": lambda: OwnKey("attacker").token(
            user_claims(iss), header={"alg": "RS256", "kid": "attacker",
                                      "jwk": OwnKey("attacker2").jwk}),
        "crit_unknown_extension": lambda: key.token(
            user_claims(iss), header={"alg": "RS256", "kid": key.kid, "crit": ["x-evil"],
                                      "x-evil": True}),
        # keys
        "unknown_kid": lambda: minted(devauth, mode="unknown_kid"),
        "bad_signature": lambda: minted(devauth, mode="bad_signature"),
        "kid_path_traversal": kid("../../etc/passwd"),
        "kid_absolute_path": kid("/dev/null"),
        "kid_sql": kid("' OR 1=1--"),
        "kid_sql_union": kid("x' UNION SELECT 'key'--"),
        "kid_command": kid("$(touch /tmp/nsso-pwned)`id`"),
        "kid_url": kid("http://evil.example/jwks.json"),
        "kid_format_string": kid("%s%s%s%n%n"),
        "kid_long": kid("k" * 4000),
        "kid_number": kid(12345),
        "kid_object": kid({"kid": OWN_KID}),
        "kid_empty": kid(""),
        "kid_prefix_of_real": kid(OWN_KID[:-1]),
        "kid_real_with_suffix": kid(OWN_KID + "\u0000x"),
        # times and issuer
        "expired": lambda: minted(devauth, lifetime=-300),
        "expired_mode": lambda: minted(devauth, mode="expired_token"),
        "nbf_future": lambda: minted(devauth, claims={"nbf": now + 3600}),
        "iat_future": lambda: minted(devauth, claims={"iat": now + 3600}),
        "wrong_issuer": lambda: minted(devauth, mode="wrong_issuer"),
        "issuer_trailing_slash": lambda: minted(devauth, claims={"iss": iss + "/"}),
        "issuer_prefix": lambda: minted(devauth, claims={"iss": iss[:-1]}),
        "issuer_case": lambda: minted(devauth, claims={"iss": iss.upper()}),
        "issuer_missing": lambda: minted(devauth, claims={"iss": None}),
        "issuer_array": lambda: minted(devauth, claims={"iss": [iss]}),
        "exp_missing": lambda: minted(devauth, claims={"exp": None}),
        "exp_string": lambda: minted(devauth, claims={"exp": str(now + 600)}),
        "exp_float": lambda: minted(devauth, claims={"exp": now + 600.5}),
        "exp_float_integral": lambda: minted(devauth, claims={"exp": float(now + 600)}),
        "exp_exponent": lambda: minted(devauth, claims={"exp": 1e30}),
        "exp_huge_int64": lambda: minted(devauth, claims={"exp": 2 ** 63 - 1}),
        "exp_overflow_int64": lambda: minted(devauth, claims={"exp": 2 ** 64}),
        "exp_negative": lambda: minted(devauth, claims={"exp": -1}),
        "exp_bool": lambda: minted(devauth, claims={"exp": True}),
        "exp_object": lambda: minted(devauth, claims={"exp": {"$gt": 0}}),
        # payload integrity and syntax (validly signed with our key)
        "tampered_payload": tampered,
        "duplicate_user_name": lambda: key.token(
            dup_claims(iss, "user_name", "ALLOC_SPO", "ALLOC_ADMIN")),
        "duplicate_exp_expired_last": lambda: key.token(
            dup_claims(iss, "exp", now + 600, now - 600)),
        "duplicate_exp_expired_first": lambda: key.token(
            dup_claims(iss, "exp", now - 600, now + 600)),
        "duplicate_iss": lambda: key.token(dup_claims(iss, "iss", "https://evil.example", iss)),
        "duplicate_header_alg": lambda: key.token(
            user_claims(iss), header='{"alg":"none","alg":"RS256","kid":"%s"}' % key.kid),
        "payload_not_json": lambda: key.token("this is not json"),
        "payload_empty": lambda: key.token(""),
        "payload_array": lambda: key.token("[]"),
        "payload_string": lambda: key.token('"ALLOC_SPO"'),
        "payload_null": lambda: key.token("null"),
        "payload_trailing_garbage": lambda: key.token(compact_json(user_claims(iss)) + " x"),
        "payload_two_objects": lambda: key.token(compact_json(user_claims(iss)) + "{}"),
        "payload_bom": lambda: key.token(b"\xef\xbb\xbf" + compact_json(user_claims(iss))
                                         .encode()),
        "payload_invalid_utf8": lambda: key.token(
            compact_json(user_claims(iss, name="X")).encode().replace(b'"X"', b'"\xff\xfe"')),
        "payload_nul_in_user": lambda: key.token(
            compact_json(user_claims(iss)).replace('"user_name":"ALLOC_SPO"',
                                                   '"user_name":"ALLOC_SPO\\u0000ADMIN"')),
        "payload_deep_nesting": lambda: key.token(
            compact_json(user_claims(iss))[:-1] + ',"x":' + "[" * 2100 + "]" * 2100 + "}"),
        "payload_number_overflow": lambda: key.token(
            compact_json(user_claims(iss))[:-1] + ',"x":1e99999}'),
        "header_not_json": lambda: key.token(user_claims(iss), header="not json"),
        # shape
        "two_segments": lambda: ".".join(minted(devauth).split(".")[:2]),
        "signature_empty": lambda: ".".join(minted(devauth).split(".")[:2]) + ".",
        "four_segments": lambda: minted(devauth) + ".AAAA",
        "five_segments_jwe_shape": lambda: b64url('{"alg":"dir","enc":"A256GCM"}')
        + "..AAAA.AAAA.AAAA",
        "empty_segments": lambda: "..",
        "signature_not_base64url": lambda: minted(devauth)[:-4] + "+/+/",
        "padded_base64": lambda: minted(devauth) + "==",
        "garbage_8k": lambda: "A" * 8000,
    }


def token_case_names():
    class _Fake:
        auth_url = "http://127.0.0.1:1/auth"
    return sorted(hostile_tokens(_Fake(), None))


def test_bearer_controls_accepted(site, devauth, own_key):
    """The two ways of making tokens work: the hostile variants below are
    refused for what is wrong with them, not for how they were made."""
    r = bearer(site, minted(devauth))
    assert r.status_code == 200, site.explain(r, "devauth token refused")
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO"
    r = bearer(site, own_key.token(user_claims(devauth_issuer(devauth))))
    assert r.status_code == 200, site.explain(r, "token signed with the test key refused")
    assert cgi_env(r.text).get("REMOTE_USER") == "ALLOC_SPO"


@pytest.mark.parametrize("case", token_case_names())
def test_hostile_bearer_token_refused(site, devauth, own_key, case):
    mark = site.log_mark()
    token = hostile_tokens(devauth, own_key)[case]()
    t0 = time.monotonic()
    r = bearer(site, token)
    assert time.monotonic() - t0 < 5, "refusal took too long"
    assert_invalid_token(site, r)
    # the same token again (a cached refusal must not turn into acceptance)
    assert_invalid_token(site, bearer(site, token))
    assert_alive(site, mark)
    assert_no_token_logged(site, mark, [token])


def test_one_megabyte_token(site, devauth):
    mark = site.log_mark()
    real = minted(devauth)
    h, p, s = real.split(".")
    token = h + "." + p + "A" * (1024 * 1024) + "." + s
    try:
        status, headers, _ = raw_get(site, "/api/env", [
            ("Accept", "application/json"), ("Authorization", "Bearer " + token)])
    except (BrokenPipeError, ConnectionResetError):
        status = None  # the server may close while the megabyte is still arriving
    assert status in (None, 400, 401, 431), "1 MB token answered %s" % status
    # just under the header field limit: reaches the module
    token = h + "." + p + "A" * (8000 - len(h) - len(p) - len(s)) + "." + s
    r = bearer(site, token)
    assert r.status_code in (400, 401, 431), site.explain(r, "8 KB token")
    assert_alive(site, mark)
    assert_no_token_logged(site, mark, [token, real])


def test_bearer_token_in_both_places(site, devauth):
    """A valid token in a second Authorization header or a query string
    does not rescue an invalid first one."""
    mark = site.log_mark()
    good = minted(devauth)
    bad = minted(devauth, mode="bad_signature")
    status, headers, _ = raw_get(site, "/api/env?access_token=" + good, [
        ("Accept", "application/json"), ("Authorization", "Bearer " + bad),
        ("Authorization", "Bearer " + good)])
    assert status in (400, 401), status
    status, headers, _ = raw_get(site, "/api/env?access_token=" + good,
                                 [("Accept", "application/json")])
    assert status == 401, status
    assert_alive(site, mark)
    assert_no_token_logged(site, mark, [good, bad])


CALLBACK_MODES = ["alg_none", "hs256", "unknown_kid", "bad_signature", "expired_token",
                  "wrong_issuer"]


@pytest.mark.parametrize("mode", CALLBACK_MODES)
def test_hostile_token_at_callback(site, devauth, mode):
    """HMPPS Auth's token endpoint hands out a hostile token: no session, a
    502 page, nothing logged, and the next sign-in works."""
    mark = site.log_mark()
    b = H.Browser(site, devauth)
    cb_url = b.authorize(b.begin("/protected/env"))
    devauth.fault("token", mode, count=1)
    t0 = time.monotonic()
    r = b.callback(cb_url)
    assert time.monotonic() - t0 < 5
    assert r.status_code == 502, site.explain(r, "callback with a %s token" % mode)
    assert H.new_session_cookie(r) is None, "a session was made from a %s token" % mode
    assert "eyJ" not in r.text
    _, page = b.login("/protected/env")
    assert page.status_code == 200, site.explain(page, "sign-in after the fault")
    assert cgi_env(page.text).get("REMOTE_USER") == "ALLOC_SPO"
    assert_alive(site, mark)
    assert_no_token_logged(site, mark)


# ---------------------------------------------------------------------------
# open redirects
# ---------------------------------------------------------------------------
def decode_line(line):
    out, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch != "\\" or i + 1 == len(line):
            out.append(ch)
            i += 1
            continue
        nxt = line[i + 1]
        if nxt == "x":
            out.append(chr(int(line[i + 2:i + 4], 16)))
            i += 4
            continue
        out.append({"t": "\t", "n": "\n", "r": "\r", "0": "\0", "\\": "\\"}.get(nxt, "\\" + nxt))
        i += 2
    return "".join(out)


def load_payloads(port):
    items = []
    with open(PAYLOADS, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            p = decode_line(line)
            p = p.replace("{HOST}", "127.0.0.1:%d" % port).replace(
                "{HOSTNAME}", "127.0.0.1").replace("{PORT}", str(port))
            if p not in items:
                items.append(p)
    return items


def test_payload_file_is_big_enough():
    items = load_payloads(80)
    assert len(items) >= 500, len(items)
    with open(PAYLOADS, encoding="utf-8") as f:
        lines = [x for x in f.read().splitlines() if x and not x.startswith("#")]
    assert len(set(lines)) == len(lines), "duplicate lines in %s" % PAYLOADS
    for must in ["//evil.example", "/\\evil.example", "\\/evil.example", "https:evil.example",
                 "%2F%2Fevil.example", "/%2F/evil.example", "/\t/evil.example",
                 "\uff0f\uff0fevil.example", "/@evil.example", "javascript:alert(1)",
                 "JaVaScRiPt:alert(1)", "/%25252F/evil.example"]:
        assert must in items, must


def state_cookie_of(headers):
    for v in headers_all(headers, "Set-Cookie"):
        name, value, attrs = H.parse_set_cookie(v)
        if name.startswith(H.STATE_PREFIX) and value and attrs.get("max-age") != "0":
            return name, value
    return None


def login_via_target(h, devauth, sso_cookie, payload):
    """Request `payload` as the request target, then finish the sign-in with
    devauth's silent SSO and the module's callback. Returns a description of
    the outcome: ('refused', status) when no sign-in started, ('auth-refused',
    status) when devauth refused the redirect_uri, ('done', Location)."""
    target = payload.encode("utf-8")
    status, headers, _ = raw_get(h, target, [("Accept", NAV["Accept"])])
    assert status < 500, "GET %r answered %s" % (payload, status)
    if status != 302:
        return "refused", status
    loc = header(headers, "Location") or ""
    assert loc.startswith(devauth.auth_url + "/oauth/authorize?"), \
        "GET %r redirected to %r" % (payload, loc)
    st = state_cookie_of(headers)
    assert st, "no state cookie for %r" % payload
    r = requests.get(loc, headers={"Cookie": sso_cookie}, allow_redirects=False, timeout=15)
    if r.status_code != 302:
        # an absolute-form target names another host in redirect_uri: devauth refuses it
        assert r.status_code == 400, (payload, r.status_code, r.text[:300])
        return "auth-refused", r.status_code
    cb = r.headers["Location"]
    if not cb.startswith(h.url(H.CALLBACK) + "?"):
        # an absolute-form request target sets the host the redirect_uri is
        # built from (as a Host header would): the sign-in continues there,
        # not on this site, which only the sender's own client can be made to do
        assert urlsplit(cb).path == H.CALLBACK and urlsplit(payload).netloc, (payload, cb)
        return "other-origin", cb
    r = requests.get(cb, headers={"Cookie": "%s=%s" % st}, allow_redirects=False, timeout=15)
    assert r.status_code == 302, h.explain(r, "callback for %r" % payload)
    assert H.new_session_cookie(r), "no session after the callback for %r" % payload
    return "done", r.headers.get("Location")


def test_open_redirect_return_url(site, devauth, signed_in):
    """Every payload as the URL that starts a sign-in: after the callback
    the browser is sent to a path on this host. All payloads are tried when
    that takes under a minute, else a fixed sample of 100."""
    mark = site.log_mark()
    sso = "devauth_session=" + signed_in.cookie("devauth_session")
    payloads = load_payloads(site.port)
    results = {}

    def one(p):
        results[p] = login_via_target(site, devauth, sso, p)

    t0 = time.monotonic()
    with ThreadPoolExecutor(6) as pool:
        first = payloads[:100]
        list(pool.map(one, first))
        per = (time.monotonic() - t0) / len(first)
        rest = payloads[100:]
        if per * len(rest) > 50:
            rest = rest[::max(1, len(rest) // 100)][:100]
        list(pool.map(one, rest))
    done = {p: v for p, (k, v) in results.items() if k == "done"}
    bad = {p: v for p, v in done.items() if not is_same_host_path(v)}
    assert not bad, "sign-in returned off-site: %r" % bad
    started = sum(1 for k, _ in results.values() if k != "refused")
    assert len(done) >= 0.3 * len(results), \
        "too few sign-ins completed to mean anything: %d of %d" % (len(done), len(results))
    assert started >= len(done)
    assert_alive(site, mark)


def logout_target(h, devauth, r):
    """The redirect_uri a sign-out sends to HMPPS Auth."""
    loc = r.headers.get("Location", "")
    assert loc.startswith(devauth.auth_url + "/sign-out?"), loc
    return H.query_of(loc).get("redirect_uri")


def is_this_site(h, url):
    base = h.base + "/"
    if not url or not url.startswith(base):
        return False
    return is_same_host_path(url[len(h.base):])


def raw_query_ok(p):
    """p can go into a query string as it is (what a careless link would do)."""
    return all(0x21 <= ord(c) <= 0x7e for c in p) and not any(c in p for c in "#&+%")


def test_open_redirect_post_logout(site, devauth):
    """Every payload as ?return= on the sign-out URL (percent-encoded, and
    also verbatim where a query allows it): 400, unless it resolves to a
    path on this host; a refused sign-out leaves the user signed in."""
    mark = site.log_mark()
    b = H.Browser(site, devauth)
    b.login("/protected/env")
    # controls: a local path and this site's own absolute URL are accepted
    for good in ["/after", site.url("/after?x=1")]:
        r = b.get("/nomis-sso/logout?return=" + quote(good, safe=""),
                  headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 302, site.explain(r, "return=%r refused" % good)
        assert logout_target(site, devauth, r) == site.url("/after" + good.partition(
            "/after")[2]), r.headers["Location"]
        b.login("/protected/env")
    payloads = load_payloads(site.port)
    queries = [(p, quote(p, safe="")) for p in payloads]
    queries += [(p, p) for p in payloads if raw_query_ok(p)]

    def one(item):
        p, q = item
        status, headers, _ = raw_get(site, "/nomis-sso/logout?return=" + q,
                                     [("Accept", NAV["Accept"])])
        return p, q, status, headers

    refused = []
    with ThreadPoolExecutor(6) as pool:
        for p, q, status, headers in pool.map(one, queries):
            assert status in (302, 400), "return=%r answered %s" % (q, status)
            if status == 302:
                loc = header(headers, "Location") or ""
                assert loc.startswith(devauth.auth_url + "/sign-out?"), loc
                target = H.query_of(loc).get("redirect_uri")
                assert is_this_site(site, target), \
                    "sign-out return %r accepted as %r" % (q, target)
            else:
                assert not headers_all(headers, "Set-Cookie"), \
                    "a refused sign-out set cookies (%r)" % q
                refused.append(q)
    assert len(refused) >= len(queries) // 2, "hardly anything refused?"
    # refused with a live session (a click on a same-origin link, which would
    # otherwise sign out at once): still signed in afterwards
    sid = b.session_id()
    for q in refused[::max(1, len(refused) // 25)]:
        status, headers, _ = raw_get(site, "/nomis-sso/logout?return=" + q, [
            ("Accept", NAV["Accept"]), ("Cookie", "%s=%s" % (H.COOKIE, sid)),
            ("Sec-Fetch-Site", "same-origin")])
        assert status == 400, (q, status)
        assert not headers_all(headers, "Set-Cookie"), q
    r = b.get("/protected/env")
    assert r.status_code == 200, site.explain(r, "signed out by a refused sign-out")
    assert_alive(site, mark)


# ---------------------------------------------------------------------------
# cookies
# ---------------------------------------------------------------------------
def cookie_get(h, cookie, path="/protected/page.html", headers=NAV):
    return requests.get(h.url(path), headers=dict(headers, Cookie=cookie),
                        allow_redirects=False, timeout=15)


def assert_refused_cleanly(h, devauth, r, what):
    assert r.status_code in (302, 400, 401), h.explain(r, what)
    if r.status_code == 302:
        assert r.headers["Location"].startswith(devauth.auth_url + "/oauth/authorize?"), \
            r.headers["Location"]


@pytest.mark.parametrize("value", [
    "A" * 8000,
    "A" * 42, "A" * 44, "A" * 43 + "=", "+" * 43, "/" * 43, "%" * 43, "." * 43,
    "!!!!", "", '""', '"' + "A" * 43 + '"', "A" * 20 + "%00" + "A" * 20, "\u00e9" * 43,
    "../../../../etc/passwd", "' OR 1=1--", "A" * 43 + " " + "B" * 43,
], ids=lambda v: "len%d-%s" % (len(v), re.sub(r"[^A-Za-z0-9]", "_", v[:8])))
def test_malformed_session_cookie(site, devauth, value):
    mark = site.log_mark()
    for headers in (NAV, XHR):
        status, hdrs, _ = raw_get(site, "/protected/page.html", list(headers.items()) + [
            ("Cookie", (H.COOKIE + "=" + value).encode("utf-8"))])
        assert status in (302, 400, 401), "cookie %r answered %s" % (value[:50], status)
        if status == 302:
            assert header(hdrs, "Location").startswith(devauth.auth_url)
    assert_alive(site, mark)


def test_control_bytes_in_session_cookie(site, devauth):
    mark = site.log_mark()
    for value in [b"A\x01B", b"A\x00B", b"\x7f" * 43, b"\xff\xfe" * 20, b"A\rB"]:
        status, _, _ = raw_get(site, "/protected/page.html", [
            ("Accept", NAV["Accept"]), ("Cookie", b"nomis_sso_session=" + value)])
        assert status in (0, 302, 400, 401), (value, status)
    assert_alive(site, mark)


def test_unknown_session_id(site, devauth):
    """A well-formed id this store never issued (e.g. from another store)."""
    mark = site.log_mark()
    for _ in range(5):
        sid = secrets.token_urlsafe(32)
        assert len(sid) == 43
        r = cookie_get(site, "%s=%s" % (H.COOKIE, sid))
        assert_refused_cleanly(site, devauth, r, "unknown session id")
        assert r.status_code == 302
        cleared = H.cookies_set(r).get(H.COOKIE)
        assert cleared and cleared[1].get("max-age") == "0", \
            "the unknown session cookie was not cleared: %r" % H.set_cookie_headers(r)
        r = cookie_get(site, "%s=%s" % (H.COOKIE, sid), headers=XHR)
        assert r.status_code == 401, site.explain(r)
    assert_alive(site, mark)


def test_duplicated_session_cookies(site, devauth):
    mark = site.log_mark()
    spo = H.Browser(site, devauth)
    spo.login("/protected/env", "ALLOC_SPO")
    pom = H.Browser(site, devauth)
    pom.login("/protected/env", "ALLOC_POM")
    a, p = spo.session_id(), pom.session_id()
    bogus = secrets.token_urlsafe(32)
    combos = [(a, bogus), (bogus, a), (a, p), (p, a), (a, a), (a, "x"), ("x", a)]
    for first, second in combos:
        for cookie_headers in (
                [("Cookie", "%s=%s; %s=%s" % (H.COOKIE, first, H.COOKIE, second))],
                [("Cookie", "%s=%s" % (H.COOKIE, first)),
                 ("Cookie", "%s=%s" % (H.COOKIE, second))]):
            status, hdrs, body = raw_get(site, "/protected/env",
                                         [("Accept", NAV["Accept"])] + cookie_headers)
            assert status in (200, 302, 400, 401), (first, second, status)
            if status == 200:
                user = cgi_env(body.decode()).get("REMOTE_USER")
                who = {a: "ALLOC_SPO", p: "ALLOC_POM"}
                allowed = {who[x] for x in (first, second) if x in who}
                assert user in allowed, (first, second, user)
                if first not in who:
                    pytest.fail("a duplicate cookie let a bogus first id fall through to "
                                "the second: %r" % ((first, second),))
    # both sessions unharmed
    assert spo.get("/protected/env").status_code == 200
    assert pom.get("/protected/env").status_code == 200
    assert_alive(site, mark)


def test_hundred_state_cookies(site, devauth):
    """A browser arriving with 100 sign-in cookies: the next sign-in clears
    all but the limit, so the jar holds at most NomisSSOStateCookieLimit."""
    mark = site.log_mark()
    jar = {"%s%s" % (H.STATE_PREFIX, secrets.token_urlsafe(16)): "x" for _ in range(100)}
    cookie = "; ".join("%s=%s" % kv for kv in jar.items())
    status, headers, _ = raw_get(site, "/protected/page.html",
                                 [("Accept", NAV["Accept"]), ("Cookie", cookie)])
    assert status == 302, "100 state cookies: %s" % status
    assert header(headers, "Location").startswith(devauth.auth_url + "/oauth/authorize?")
    set_cookies = headers_all(headers, "Set-Cookie")
    for h in set_cookies:
        name, value, attrs = H.parse_set_cookie(h)
        if attrs.get("max-age") == "0":
            jar.pop(name, None)
        elif name.startswith(H.STATE_PREFIX):
            jar[name] = value
    states = [n for n in jar if n.startswith(H.STATE_PREFIX)]
    assert len(states) <= STATE_LIMIT, \
        "%d sign-in cookies left after one sign-in" % len(states)
    assert len(set_cookies) <= 101
    assert_alive(site, mark)


def test_state_cookies_stay_bounded(site, devauth):
    """Twelve sign-ins started in one browser: never more than the limit of
    state cookies, the newest ones kept, and the newest still completes."""
    mark = site.log_mark()
    b = H.Browser(site, devauth)
    urls = []
    for i in range(12):
        urls.append(b.begin("/protected/page.html?n=%d" % i))
        assert len(b.state_cookies()) <= STATE_LIMIT, b.state_cookies().keys()
    cb = b.callback(b.authorize(urls[-1]))
    assert cb.status_code == 302, site.explain(cb)
    assert cb.headers["Location"] == "/protected/page.html?n=11"
    assert_alive(site, mark)


def test_huge_cookie_header(site, devauth):
    mark = site.log_mark()
    big = "; ".join("c%d=%s" % (i, "v" * 50) for i in range(1100))  # about 60 KB
    assert len(big) > 60000
    status, _, _ = raw_get(site, "/protected/page.html",
                           [("Accept", NAV["Accept"]), ("Cookie", big)])
    assert status == 400, status
    # the same amount split over many Cookie headers, each within the limit
    parts = [big[i:i + 7000] for i in range(0, len(big), 7000)]
    parts = [p.strip("; ") for p in parts]
    status, hdrs, _ = raw_get(site, "/protected/page.html",
                              [("Accept", NAV["Accept"])] + [("Cookie", p) for p in parts])
    assert status in (302, 400), status
    # and as many sign-in cookies as fit: still bounded afterwards
    many = ["%s%s=x" % (H.STATE_PREFIX, secrets.token_urlsafe(16)) for _ in range(800)]
    chunks = ["; ".join(many[i:i + 100]) for i in range(0, len(many), 100)]
    status, hdrs, _ = raw_get(site, "/protected/page.html",
                              [("Accept", NAV["Accept"])] + [("Cookie", c) for c in chunks])
    assert status in (302, 400), status
    if status == 302:
        kept = {H.parse_set_cookie(c)[0] for c in headers_all(hdrs, "Set-Cookie")
                if H.parse_set_cookie(c)[2].get("max-age") != "0"}
        cleared = {H.parse_set_cookie(c)[0] for c in headers_all(hdrs, "Set-Cookie")
                   if H.parse_set_cookie(c)[2].get("max-age") == "0"}
        left = {c.split("=")[0] for c in many} - cleared
        assert len(left) + len(kept) <= STATE_LIMIT, (len(left), len(kept))
    assert_alive(site, mark)


# ---------------------------------------------------------------------------
# headers
# ---------------------------------------------------------------------------
def echo_json(body):
    return json.loads(body.decode("utf-8"))


def nomis_headers(doc):
    return [(k, v) for k, v in doc["headers"] if k.lower().replace("_", "-").startswith("x-nomis")]


SPOOFS = {
    "plain": [(b"X-Nomis-Roles", b"MOIC_ADMIN")],
    "case": [(b"x-nomis-roles", b"MOIC_ADMIN"), (b"X-NOMIS-USER", b"ALLOC_ADMIN")],
    "underscore": [(b"X_Nomis_Roles", b"MOIC_ADMIN"), (b"X-Nomis_User", b"ALLOC_ADMIN")],
    "folded-value": [(b"X-Nomis-Roles", b"ALLOC_MGR\r\n MOIC_ADMIN")],
    "folded-header": [(b"X-Custom", b"a\r\n X-Nomis-Roles: MOIC_ADMIN")],
    "bare-lf": [(b"X-Custom", b"a\nX-Nomis-Roles: MOIC_ADMIN")],
    "bare-cr": [(b"X-Custom", b"a\rX-Nomis-Roles: MOIC_ADMIN")],
    "encoded-crlf": [(b"X-Custom", b"a%0d%0aX-Nomis-Roles:%20MOIC_ADMIN")],
    "nul": [(b"X-Nomis-User", b"ALLOC_ADMIN\x00ALLOC_SPO")],
    "space-before-colon": [(b"X-Nomis-User ", b"ALLOC_ADMIN")],
    "tab-before-colon": [(b"X-Nomis-Roles\t", b"MOIC_ADMIN")],
    "leading-space": [(b" X-Nomis-Roles", b"MOIC_ADMIN")],
    "many": [(b"X-Nomis-Roles", b"MOIC_ADMIN")] * 50,
}
MODULE_HEADERS = {"x-nomis-user", "x-nomis-name", "x-nomis-auth-source", "x-nomis-roles",
                  "x-nomis-caseload", "x-nomis-caseloads", "x-nomis-user-id",
                  "x-nomis-user-uuid", "x-nomis-expires"}


@pytest.mark.parametrize("spoof", sorted(SPOOFS))
def test_spoofed_identity_headers(site, devauth, signed_in, spoof):
    """A signed-in ALLOC_SPO's request with forged X-Nomis-* (CR/LF and
    folding tricks) through raw sockets: httpd refuses it, or the backend
    gets exactly the module's identity headers, once each, and no header
    the client tried to smuggle in."""
    mark = site.log_mark()
    cookie = ("%s=%s" % (H.COOKIE, signed_in.session_id())).encode()
    status, headers, body = raw_get(site, "/app/echo", [(b"Accept", b"text/html"),
                                                         (b"Cookie", cookie)] + SPOOFS[spoof])
    assert status in (0, 200, 302, 400), status
    if status == 302:
        # the trick broke the Cookie header (a folded line joins it): no session
        assert header(headers, "Location").startswith(devauth.auth_url + "/oauth/authorize?")
    if status == 200:
        doc = echo_json(body)
        got = nomis_headers(doc)
        names = [k.lower() for k, _ in got]
        assert len(names) == len(set(names)), "an identity header twice: %r" % got
        assert set(names) <= MODULE_HEADERS, got
        values = dict((k.lower(), v) for k, v in got)
        assert values.get("x-nomis-user") == "ALLOC_SPO", got
        assert values.get("x-nomis-roles") == "ALLOC_MGR", got
        for k, v in doc["headers"]:
            assert "\r" not in v and "\n" not in v and "\x00" not in v, (k, v)
            if k.lower().replace("_", "-").startswith("x-nomis"):
                assert "MOIC_ADMIN" not in v and "ALLOC_ADMIN" not in v, (k, v)
    assert_alive(site, mark)


def env_var_broken(text, prefixes):
    """Names of variables (with one of the prefixes) whose value spilled over
    a line (CR or LF in it) in env.cgi's sorted NAME=value output."""
    lines = text.split("\n")
    bad = []
    for i, line in enumerate(lines):
        if not line.startswith(prefixes):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "\r" in line or (nxt and not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", nxt)):
            bad.append(line.split("=")[0])
    return bad


@pytest.mark.parametrize("claims", [
    {"name": "Evil\r\nX-Injected: yes"},
    {"name": "Evil\nX-Nomis-Roles: MOIC_ADMIN"},
    {"name": "Evil\rX-Injected: yes"},
    {"user_name": "EVIL\r\nX-Injected: yes", "sub": "EVIL\r\nX-Injected: yes"},
    {"auth_source": "nomis\r\nX-Injected: yes"},
    {"authorities": ["ROLE_ALLOC_MGR\r\nX-Injected: yes", "ROLE_POM"]},
    {"user_id": "1\r\n\r\nGET /smuggled HTTP/1.1"},
    {"name": "\u2028Evil\u0085X-Injected: yes"},
], ids=lambda c: "-".join(sorted(c)))
def test_header_injection_from_claims(site, devauth, claims):
    """Claims with CR/LF (signed by HMPPS Auth itself) never split a header
    on the way to a backend or a CGI."""
    mark = site.log_mark()
    token = devauth.mint(username="ALLOC_SPO", claims=claims)["access_token"]
    r = bearer(site, token, "/api-app/echo")
    assert r.status_code in (200, 401), site.explain(r)
    if r.status_code == 200:
        doc = r.json()
        assert doc["path"] == "/echo", doc["path"]
        for k, v in doc["headers"]:
            assert k.lower() != "x-injected", doc["headers"]
            assert "\r" not in v and "\n" not in v, (k, v)
        names = [k.lower() for k, _ in nomis_headers(doc)]
        assert len(names) == len(set(names)), doc["headers"]
        assert "MOIC_ADMIN" not in dict((k.lower(), v) for k, v in nomis_headers(doc)).get(
            "x-nomis-roles", ""), doc["headers"]
    r = bearer(site, token, "/api/env")
    assert r.status_code in (200, 401), site.explain(r)
    if r.status_code == 200:
        bad = env_var_broken(r.text, ("NOMIS_SSO_", "HTTP_X_NOMIS_"))
        assert not bad, "a claim broke the CGI environment: %r\n%s" % (bad, r.text)
    assert_alive(site, mark)
    assert_no_token_logged(site, mark, [token])


def test_remote_user_has_no_control_characters(site, devauth):
    mark = site.log_mark()
    evil = "EVIL\r\nX-Injected: yes"
    token = devauth.mint(username="ALLOC_SPO",
                         claims={"user_name": evil, "sub": evil})["access_token"]
    # a user name that could split a header downstream is refused outright
    r = bearer(site, token, "/api-ru/echo")
    assert r.status_code == 401, site.explain(r)
    if r.status_code == 200:
        names = [k.lower() for k, _ in r.json()["headers"]]
        assert "x-injected" not in names, r.json()["headers"]
    r = bearer(site, token, "/api/env")
    assert r.status_code == 401, site.explain(r)
    if r.status_code == 200:
        bad = env_var_broken(r.text, ("REMOTE_USER", "NOMIS_SSO_", "HTTP_X_NOMIS_"))
        assert not bad, "REMOTE_USER carries CR/LF: %r\n%s" % (bad, r.text)
        env = cgi_env(r.text)
        assert env.get("REMOTE_USER") == env.get("NOMIS_SSO_USER"), env
    assert_alive(site, mark)


@pytest.mark.parametrize("host", [
    b"h" * 8000,
    b"a." * 4000,
    b"127.0.0.1:" + b"9" * 7990,
    b"[" + b":" * 7990 + b"]",
    b"evil.example/../../x",
    b"evil.example@127.0.0.1",
    b"evil.example\\@127.0.0.1",
    b"",
], ids=["8k-label", "4000-labels", "8k-port", "8k-ipv6", "slash", "at", "backslash", "empty"])
def test_hostile_host_header(site, devauth, host):
    mark = site.log_mark()
    for target, hdrs in [("/protected/page.html", NAV), ("/api/env", XHR),
                         ("/nomis-sso/logout?return=/x", NAV),
                         ("/nomis-sso/callback?state=AAAAAAAAAAAAAAAAAAAAAA&code=x", NAV)]:
        status, headers, _ = raw_get(site, target, list(hdrs.items()), host=host)
        assert status in (0, 302, 400, 401, 404), (target, host[:40], status)
        assert status < 500
        if status == 302:
            loc = header(headers, "Location")
            assert loc.startswith(devauth.auth_url + "/"), loc[:200]
    assert_alive(site, mark)
