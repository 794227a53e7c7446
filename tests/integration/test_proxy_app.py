"""The module in front of a real application: httpd's mod_proxy passes
/allocations/ to the demo's Flask allocation manager (tools/demo-site/app.py),
which reads only the X-Nomis-* headers, shows name, roles and caseload, hides
"Allocate a POM" without ALLOC_MGR, and calls a stand-in NOMIS API
(tools/demo-site/nomis_api.py) with the access token the module passes
(NomisSSOPassAccessToken On); the API checks the token's RS256 signature
against devauth's JWKS. Tokens live LIFETIME seconds and are refreshed
WINDOW seconds before they expire, so a token near expiry is refreshed before
it is passed. Spoofed X-Nomis-* headers never reach the app, and a WebSocket
upgrade through mod_proxy_wstunnel keeps the identity check.

The configuration is the one docs/operations.md shows ("In front of an
application")."""

import base64
import json
import os
import re
import socket
import time

import pytest
import requests

import harness as H
from backend_ws import frame, read_frame

DEMO_SITE = os.path.join(H.SRCDIR, "tools", "demo-site")
LIFETIME = 14   # devauth's access token lifetime here
WINDOW = 9      # NomisSSORefreshBeforeExpiry

PROXY_CONF = """
LoadModule proxy_module {moddir}/mod_proxy.so
LoadModule proxy_http_module {moddir}/mod_proxy_http.so
LoadModule proxy_wstunnel_module {moddir}/mod_proxy_wstunnel.so

# the application: identity as X-Nomis-* headers, the token as a bearer
ProxyPass        /allocations/ http://127.0.0.1:{app}/allocations/
ProxyPassReverse /allocations/ http://127.0.0.1:{app}/allocations/
<Location /allocations/>
    AuthType nomis-sso
    Require nomis-role ALLOC_MGR ALLOC_CASE_MGR
    NomisSSOPassAccessToken On
</Location>
<Location /allocations/allocate>
    Require nomis-role ALLOC_MGR
</Location>

# live updates over a WebSocket: the same sign-in, the same headers
ProxyPass /allocations-live ws://127.0.0.1:{ws}/live
<Location /allocations-live>
    AuthType nomis-sso
    Require valid-user
</Location>

# a public page of the same application (no sign-in)
ProxyPass /public-app/ http://127.0.0.1:{app}/allocations/
"""


@pytest.fixture(scope="module")
def auth_short():
    d = H.DevAuth(extra_args=["--access-token-lifetime", str(LIFETIME)]).start()
    yield d
    d.cleanup()


@pytest.fixture(scope="module")
def backends(auth_short):
    api = H.ReadyServer([H.PYTHON, os.path.join(DEMO_SITE, "nomis_api.py"), "--port", "0",
                         "--auth-url", auth_short.auth_url]).start()
    app = H.ReadyServer([H.PYTHON, os.path.join(DEMO_SITE, "app.py"), "--port", "0",
                         "--api", api.base]).start()
    ws = H.ReadyServer([H.PYTHON, os.path.join(H.HERE, "backend_ws.py"), "--port", "0"]).start()
    yield {"api": api, "app": app, "ws": ws}
    for s in (ws, app, api):
        s.cleanup()


@pytest.fixture(scope="module")
def proxy_httpd(module_httpd_factory, auth_short, backends):
    return module_httpd_factory(
        auth_url=auth_short.auth_url,
        nsso_extra="NomisSSOClockSkew 0\nNomisSSORefreshBeforeExpiry %d" % WINDOW,
        extra=PROXY_CONF.format(moddir=H.MODDIR, app=backends["app"].port,
                                ws=backends["ws"].port))


@pytest.fixture
def h(proxy_httpd, request):
    from conftest import serving
    return serving(request, proxy_httpd)


def api_stats(backends):
    return requests.get(backends["api"].base + "/__stats__", timeout=5).json()


def refreshes(auth):
    return auth.stats().get("grants", {}).get("refresh_token", 0)


def sign_in(h, auth, user):
    b = H.Browser(h, auth)
    _, page = b.login("/allocations/", username=user)
    return b, page


def text_of(page, elem_id):
    m = re.search(r'id="%s">(.*?)<' % re.escape(elem_id), page)
    return m.group(1) if m else None


def test_app_shows_identity_and_calls_api_with_token(h, auth_short, backends):
    before = api_stats(backends)["calls"]
    b, page = sign_in(h, auth_short, "ALLOC_SPO")
    assert page.status_code == 200, h.explain(page)
    t = page.text
    assert text_of(t, "user") == "ALLOC_SPO", t
    assert text_of(t, "caseload") == "LEI", t
    assert "ALLOC_MGR" in text_of(t, "roles"), t
    assert text_of(t, "name") and text_of(t, "name") != "ALLOC_SPO", t
    # the NOMIS API verified the token the module passed, and it was this user's
    assert 'id="api-user"' in t and "<strong>ALLOC_SPO</strong>" in t, t
    assert "Adams, John" in t, t
    assert api_stats(backends)["calls"] == before + 1
    # the ALLOC_MGR holder sees the menu item and may open the page
    assert 'id="menu-allocate"' in t
    r = b.get("/allocations/allocate")
    assert r.status_code == 200 and 'id="allocate"' in r.text, h.explain(r)


def test_menu_item_hidden_without_the_role(h, auth_short):
    b, page = sign_in(h, auth_short, "ALLOC_POM")
    assert page.status_code == 200, h.explain(page)
    assert text_of(page.text, "user") == "ALLOC_POM"
    assert "ALLOC_CASE_MGR" in text_of(page.text, "roles")
    assert 'id="menu-allocate"' not in page.text
    assert 'id="menu-allocations"' in page.text
    r = b.get("/allocations/allocate")
    assert r.status_code == 403, h.explain(r)
    assert "You do not have access to this page" in r.text
    # a user with no allowed role never reaches the application
    b2 = H.Browser(h, auth_short)
    cb = b2.callback(b2.authorize(b2.begin("/allocations/"), "NO_ROLES_USER"))
    r = b2.get(cb.headers["Location"])
    assert r.status_code == 403, h.explain(r)


def test_api_refuses_a_token_it_cannot_verify(backends):
    """The API's check can fail: a token signed by another key is refused."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    import jwt
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({"sub": "ALLOC_SPO", "exp": int(time.time()) + 300,
                         "iss": "http://127.0.0.1/auth/issuer"}, key, algorithm="RS256",
                        headers={"kid": "forged"})
    r = requests.get(backends["api"].base + "/allocations",
                     headers={"Authorization": "Bearer " + forged}, timeout=10)
    assert r.status_code == 401
    r = requests.get(backends["api"].base + "/allocations", timeout=10)
    assert r.status_code == 401


def test_token_near_expiry_is_refreshed_before_it_is_passed(h, auth_short, backends):
    b, page = sign_in(h, auth_short, "ALLOC_SPO")
    assert page.status_code == 200, h.explain(page)
    exp1 = int(re.search(r'id="token-exp" data-exp="(\d+)"', page.text).group(1))
    n = refreshes(auth_short)
    # inside the refresh window, the token still valid for a few seconds
    delay = exp1 - WINDOW + 1 - time.time()
    if delay > 0:
        time.sleep(delay)
    assert exp1 - time.time() > 1, "too slow to test inside the window"
    r = b.get("/allocations/whoami.json")
    assert r.status_code == 200, h.explain(r)
    doc = r.json()
    assert doc["api_status"] == 200, doc
    exp2 = doc["api"]["token_exp"]
    assert exp2 > exp1, "the API was handed the old token (exp %s, then %s)" % (exp1, exp2)
    assert exp2 - time.time() > WINDOW, "the token passed is near expiry"
    assert refreshes(auth_short) == n + 1, auth_short.stats()
    assert doc["identity"]["user"] == "ALLOC_SPO"


SPOOF = {"X-Nomis-User": "EVIL", "X-Nomis-Roles": "ALLOC_MGR,MOIC_ADMIN",
         "X-Nomis-Caseload": "NWEB", "X-Nomis-Name": "Evil", "x-nomis-user-id": "1",
         "X-Nomis-Extra": "made-up"}


def test_spoofed_headers_never_reach_the_app(h, auth_short):
    # without a session, on a public path of the same application
    r = requests.get(h.url("/public-app/whoami.json"), headers=SPOOF, timeout=10)
    assert r.status_code == 200, h.explain(r)
    assert r.json()["headers"] == {}, r.json()
    assert r.json()["bearer"] is False
    # signed in as ALLOC_POM: the app sees ALLOC_POM only
    b, _ = sign_in(h, auth_short, "ALLOC_POM")
    r = b.get("/allocations/whoami.json", headers=SPOOF)
    doc = r.json()
    assert doc["identity"]["user"] == "ALLOC_POM", doc
    assert doc["identity"]["roles"] == ["ALLOC_CASE_MGR"], doc
    assert doc["identity"]["caseload"] == "LEI", doc
    assert "EVIL" not in json.dumps(doc) and "made-up" not in json.dumps(doc), doc
    # a client's own Authorization header is replaced by the session's token
    r = b.get("/allocations/whoami.json", headers={"Authorization": "Bearer forged"})
    assert r.json()["api_status"] == 200 and r.json()["api"]["user"] == "ALLOC_POM"


# ---------------------------------------------------------------------------
# WebSocket through mod_proxy_wstunnel
# ---------------------------------------------------------------------------
def ws_open(port, path, cookie=None, extra=None):
    """An upgrade request on a raw socket: (status, socket, buffered reader)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
             "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13",
             "Origin: http://127.0.0.1:%d" % port]
    if cookie:
        lines.append("Cookie: %s=%s" % (H.COOKIE, cookie))
    for k, v in (extra or {}).items():
        lines.append("%s: %s" % (k, v))
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
    f = s.makefile("rb")
    status_line = f.readline().decode("latin-1")
    while f.readline() not in (b"\r\n", b""):
        pass
    return int(status_line.split()[1]), s, f


def test_websocket_upgrade_needs_a_session(h, auth_short):
    status, s, f = ws_open(h.port, "/allocations-live", extra=SPOOF)
    s.close()
    assert status in (302, 401), "upgrade without a session answered %d" % status


def test_websocket_backend_sees_the_identity(h, auth_short):
    b, _ = sign_in(h, auth_short, "ALLOC_SPO")
    status, s, f = ws_open(h.port, "/allocations-live", cookie=b.session_id(), extra=SPOOF)
    try:
        assert status == 101, h.log_tail()
        op, hello = read_frame(f)
        seen = json.loads(hello)["headers"]
        assert seen.get("X-Nomis-User") == "ALLOC_SPO", seen
        assert "ALLOC_MGR" in seen.get("X-Nomis-Roles", ""), seen
        assert "X-Nomis-Extra" not in seen and "EVIL" not in json.dumps(seen), seen
        assert "Authorization" not in seen, "token passed where not configured"
        s.sendall(frame(b"ping", mask=os.urandom(4)))
        op, data = read_frame(f)
        assert (op, data) == (1, b"echo:ping")
    finally:
        s.close()
    # a session id that is not one: refused as well
    status, s, f = ws_open(h.port, "/allocations-live", cookie="A" * 43)
    s.close()
    assert status in (302, 401)
