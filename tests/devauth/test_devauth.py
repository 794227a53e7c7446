"""Tests for devauth, the HMPPS Auth stand-in.

Run with: /usr/bin/python3 -m pytest -q tests/devauth
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "devauth.py")
PYTHON = "/usr/bin/python3"
CLIENT = ("allocation-manager", "clientsecret")
PASSWORD = "password123456"
REDIRECT = "http://127.0.0.1:8080/auth/nomis/callback"


def start_server(stderr_path, *extra):
    err = open(stderr_path, "wb")
    proc = subprocess.Popen([PYTHON, SCRIPT, "--port", "0", *extra],
                            stdout=subprocess.PIPE, stderr=err)
    err.close()
    line = proc.stdout.readline().decode()
    assert line.startswith(("READY http://127.0.0.1:", "READY https://127.0.0.1:")), line
    assert line.endswith("/auth\n")
    return proc, line.split()[1]


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=10)
    proc.stdout.close()
    return rc


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("devauth") / "stderr.log"
    proc, base = start_server(log)
    yield {"base": base, "root": base[: -len("/auth")], "log": log, "proc": proc}
    assert stop_server(proc) == 0


@pytest.fixture
def base(server):
    return server["base"]


@pytest.fixture
def root(server):
    return server["root"]


@pytest.fixture(autouse=True)
def clear_faults(server):
    yield
    requests.post(server["root"] + "/__test__/fault/clear", timeout=5)


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.inputs, self.ids, self.form, self.deny = {}, {}, None, None
        self.texts, self._in = {}, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids[a["id"]] = a
            self._in = a["id"]
        if tag == "form":
            self.form = a
        elif tag == "input" and a.get("name"):
            self.inputs[a["name"]] = a.get("value") or ""
        elif tag == "a" and a.get("id") == "deny":
            self.deny = a["href"]

    def handle_data(self, data):
        if self._in:
            self.texts[self._in] = self.texts.get(self._in, "") + data

    def handle_endtag(self, tag):
        self._in = None


def parse_form(text):
    p = FormParser()
    p.feed(text)
    return p


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(sess, base, client_id="allocation-manager", redirect_uri=REDIRECT, state="xyz",
              challenge=None, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    if state is not None:
        params["state"] = state
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return sess.get(base + "/oauth/authorize", params=params, allow_redirects=False, timeout=5)


def sign_in(sess, base, page_text, username="alloc_spo", password=PASSWORD):
    form = parse_form(page_text)
    assert form.form["action"] == "/auth/sign-in"
    data = dict(form.inputs)
    data.update(username=username, password=password)
    root = base[: -len("/auth")]
    return sess.post(root + form.form["action"], data=data, allow_redirects=False, timeout=5)


def code_from(resp):
    assert resp.status_code == 302, resp.text
    q = parse_qs(urlsplit(resp.headers["Location"]).query)
    return q["code"][0], q.get("state", [None])[0]


def token(base, auth=CLIENT, **data):
    return requests.post(base + "/oauth/token", data=data, auth=auth, timeout=5)


def login(base, username="alloc_spo", with_pkce=True):
    """Full browser flow; returns (session, token response body)."""
    sess = requests.Session()
    verifier, challenge = pkce_pair() if with_pkce else (None, None)
    r = authorize(sess, base, challenge=challenge)
    assert r.status_code == 200
    code, _ = code_from(sign_in(sess, base, r.text, username=username))
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier:
        data["code_verifier"] = verifier
    r = token(base, **data)
    assert r.status_code == 200, r.text
    return sess, r.json()


def password_grant(base, username="ALLOC_SPO"):
    r = token(base, grant_type="password", username=username, password=PASSWORD)
    assert r.status_code == 200, r.text
    return r.json()


def jwks(base):
    return requests.get(base + "/.well-known/jwks.json", timeout=5).json()


def verify_rs256(base, tok):
    kid = jwt.get_unverified_header(tok)["kid"]
    keys = {k["kid"]: k for k in jwks(base)["keys"]}
    key = jwt.PyJWK(keys[kid]).key
    return jwt.decode(tok, key, algorithms=["RS256"], issuer=base + "/issuer")


def me(base, tok):
    return requests.get(base + "/api/user/me", headers={"Authorization": "Bearer " + tok}, timeout=5)


def verify_api(base, tok):
    return requests.post(base + "/token/verify", headers={"Authorization": "Bearer " + tok}, timeout=5)


def hook(root, name, body=None):
    r = requests.post(root + "/__test__/" + name, json=body or {}, timeout=5)
    assert r.status_code == 200, r.text
    return r.json()


# ---------------------------------------------------------------------------

def test_ping_discovery_jwks(base):
    assert requests.get(base + "/health/ping", timeout=5).json() == {"status": "UP"}
    d = requests.get(base + "/issuer/.well-known/openid-configuration", timeout=5).json()
    assert d == {"issuer": base + "/issuer", "authorization_endpoint": base + "/oauth/authorize",
                 "token_endpoint": base + "/oauth/token",
                 "jwks_uri": base + "/.well-known/jwks.json"}
    r = requests.get(base + "/.well-known/jwks.json", timeout=5)
    assert r.headers["Cache-Control"] == "max-age=43200"
    key = r.json()["keys"][0]
    assert set(key) == {"kty", "e", "n", "use", "kid", "alg"}
    assert (key["kty"], key["use"], key["alg"], key["e"]) == ("RSA", "sig", "RS256", "AQAB")
    assert len(base64.urlsafe_b64decode(key["n"] + "==")) == 256


def test_code_flow_with_pkce(base):
    sess = requests.Session()
    verifier, challenge = pkce_pair()
    state = "st/ate+with&odd=chars"
    r = authorize(sess, base, state=state, challenge=challenge)
    assert r.status_code == 200
    assert "HMPPS Digital Services - Sign in (development)" in r.text
    form = parse_form(r.text)
    assert form.form["id"] == "signin" and form.form["method"] == "post"
    for name in ("username", "password", "client_id", "redirect_uri", "state",
                 "code_challenge", "code_challenge_method"):
        assert name in form.inputs
    assert form.inputs["state"] == state and form.inputs["code_challenge"] == challenge
    assert "submit" in form.ids and form.ids["password"]["type"] == "password"
    deny = urlsplit(form.deny)
    assert form.deny.startswith(REDIRECT + "?")
    assert parse_qs(deny.query) == {"error": ["access_denied"], "state": [state]}

    r = sign_in(sess, base, r.text, username="alloc_spo")
    assert "devauth_session" in sess.cookies
    assert "Path=/auth" in r.headers["Set-Cookie"]
    code, got_state = code_from(r)
    assert r.headers["Location"].startswith(REDIRECT + "?")
    assert got_state == state
    r = token(base, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
              code_verifier=verifier)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["access_token", "token_type", "refresh_token", "expires_in", "scope",
                          "sub", "auth_source", "jti", "iss"]
    assert body["token_type"] == "bearer" and body["scope"] == "read write"
    assert body["sub"] == "ALLOC_SPO" and body["auth_source"] == "nomis"
    assert body["iss"] == base + "/issuer"
    assert 1190 <= body["expires_in"] <= 1200

    hdr = jwt.get_unverified_header(body["access_token"])
    assert hdr == {"alg": "RS256", "typ": "JWT", "kid": jwks(base)["keys"][0]["kid"]}
    claims = verify_rs256(base, body["access_token"])
    assert claims["sub"] == claims["user_name"] == "ALLOC_SPO"
    assert claims["auth_source"] == "nomis"
    assert claims["authorities"] == ["ROLE_ALLOC_MGR"]
    assert claims["scope"] == ["read", "write"]
    assert claims["client_id"] == "allocation-manager"
    assert claims["grant_type"] == "authorization_code"
    assert claims["user_id"] == "485412" and claims["name"] == "Alloc Spo"
    assert claims["user_uuid"] and claims["jti"] == body["jti"]
    assert claims["exp"] - claims["iat"] == 1200
    rt = verify_rs256(base, body["refresh_token"])
    assert rt["ati"] == body["jti"] and rt["exp"] - rt["iat"] == 43200


def test_code_without_state_and_single_use(base):
    sess = requests.Session()
    r = authorize(sess, base, state=None)
    r = sign_in(sess, base, r.text)
    code, state = code_from(r)
    assert state is None and "state=" not in r.headers["Location"]
    r = token(base, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert r.status_code == 200
    r = token(base, grant_type="authorization_code", code=code, redirect_uri=REDIRECT)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_pkce_mismatch_and_redirect_mismatch(base):
    for data in ({"code_verifier": secrets.token_urlsafe(48)}, {},
                 {"redirect_uri": REDIRECT + "x"}):
        sess = requests.Session()
        verifier, challenge = pkce_pair()
        r = authorize(sess, base, challenge=challenge)
        code, _ = code_from(sign_in(sess, base, r.text))
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": verifier}
        form.update(data)
        if not data:
            del form["code_verifier"]
        r = token(base, **form)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", data
        # the code is spent even by a failed attempt
        form.update(code_verifier=verifier, redirect_uri=REDIRECT)
        assert token(base, **form).status_code == 400


def test_pkce_method_must_be_s256(base):
    r = authorize(requests.Session(), base, code_challenge="a" * 43, code_challenge_method="plain")
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_request"]


def test_bad_client_auth(base):
    for auth in (None, ("allocation-manager", "wrong"), ("nobody", "clientsecret")):
        r = token(base, auth=auth, grant_type="client_credentials")
        assert r.status_code == 401
        assert r.json()["error"] == "unauthorized"
        assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_authorize_rejects_unknown_client_and_redirect(base):
    s = requests.Session()
    r = authorize(s, base, client_id="nope")
    assert r.status_code == 400 and "Location" not in r.headers
    r = authorize(s, base, redirect_uri="https://evil.example/cb")
    assert r.status_code == 400 and "Location" not in r.headers
    r = authorize(s, base, response_type="token")
    assert r.status_code == 302 and "error=unsupported_response_type" in r.headers["Location"]


def test_wrong_password_reshows_form(base):
    sess = requests.Session()
    r = authorize(sess, base)
    r = sign_in(sess, base, r.text, username="Alloc_Spo", password="nope")
    assert r.status_code == 200
    page = parse_form(r.text)
    assert "error" in page.ids and page.texts["error"].strip()
    assert page.inputs["username"] == "Alloc_Spo"
    assert page.inputs["client_id"] == "allocation-manager"
    assert "devauth_session" not in sess.cookies


def test_refresh_reusable(base):
    body = password_grant(base)
    c1 = verify_rs256(base, body["access_token"])
    time.sleep(1.05)
    for _ in range(2):
        r = token(base, grant_type="refresh_token", refresh_token=body["refresh_token"])
        assert r.status_code == 200, r.text
        b2 = r.json()
        c2 = verify_rs256(base, b2["access_token"])
        assert c2["sub"] == "ALLOC_SPO" and c2["jti"] != c1["jti"]
        assert c2["exp"] > c1["exp"]
        assert b2["refresh_token"] == body["refresh_token"]
    r = token(base, grant_type="refresh_token", refresh_token="garbage")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_password_grant_and_grant_errors(base):
    body = password_grant(base, "alloc_admin")
    c = verify_rs256(base, body["access_token"])
    assert c["authorities"] == ["ROLE_MOIC_ADMIN", "ROLE_ALLOC_MGR"]
    assert c["grant_type"] == "password"
    r = token(base, grant_type="password", username="ALLOC_SPO", password="bad")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = token(base, ("other-service", "othersecret"), grant_type="password",
              username="ALLOC_SPO", password=PASSWORD)
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = token(base, grant_type="implicit")
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"
    r = token(base)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_client_credentials(base):
    r = token(base, grant_type="client_credentials")
    body = r.json()
    assert "refresh_token" not in body and body["auth_source"] == "none"
    c = verify_rs256(base, body["access_token"])
    assert "user_name" not in c and c["sub"] == "allocation-manager"
    assert c["auth_source"] == "none"
    assert c["authorities"] == ["ROLE_SYSTEM_USER", "ROLE_VIEW_POM_ALLOCATIONS"]
    c = verify_rs256(base, token(base, grant_type="client_credentials",
                                 username="ALLOC_SPO").json()["access_token"])
    assert c["user_name"] == c["sub"] == "ALLOC_SPO" and c["auth_source"] == "none"
    # the client may name the auth source too, as on HMPPS Auth
    c = verify_rs256(base, token(base, grant_type="client_credentials", username="ALLOC_SPO",
                                 auth_source="nomis").json()["access_token"])
    assert c["user_name"] == "ALLOC_SPO" and c["auth_source"] == "nomis"
    assert c["grant_type"] == "client_credentials" and "user_id" not in c


def test_user_api(base):
    tok = password_grant(base)["access_token"]
    h = {"Authorization": "Bearer " + tok}
    assert me(base, tok).json() == {
        "username": "ALLOC_SPO", "active": True, "name": "Alloc Spo", "authSource": "nomis",
        "staffId": 485926, "activeCaseLoadId": "LEI", "userId": "485412",
        "uuid": "6a0a7d5e-3c1b-4f7a-9a52-0c6f1a9d2b41"}
    assert requests.get(base + "/api/user/me/roles", headers=h, timeout=5).json() == [
        {"roleCode": "ALLOC_MGR"}]
    cls = requests.get(base + "/api/users/me/caseLoads", headers=h, timeout=5).json()
    assert [(c["caseLoadId"], c["currentlyActive"]) for c in cls] == [("LEI", True), ("MDI", False)]
    assert all(c["description"] for c in cls)
    mu = requests.get(base + "/users/me/caseloads", headers=h, timeout=5).json()
    assert mu == {"username": "ALLOC_SPO", "active": True, "accountType": "GENERAL",
                  "activeCaseload": {"id": "LEI", "name": "Leeds (HMP)"},
                  "caseloads": [{"id": "LEI", "name": "Leeds (HMP)"},
                                {"id": "MDI", "name": "Moorland (HMP & YOI)"}]}
    assert requests.get(base + "/users/me/caseloads", timeout=5).status_code == 401
    delius = password_grant(base, "delius_spo")["access_token"]
    d = me(base, delius).json()
    assert d["authSource"] == "delius" and "activeCaseLoadId" not in d
    r = requests.get(base + "/api/user/me", timeout=5)
    assert r.status_code == 401 and r.json()["error"]
    assert me(base, "not.a.jwt").status_code == 401


def test_silent_sso(base):
    sess, _ = login(base)
    _, challenge = pkce_pair()
    r = authorize(sess, base, state="again", challenge=challenge)
    code, state = code_from(r)
    assert state == "again"
    # prompt=login forces the form, and another client is silent too
    assert authorize(sess, base, prompt="login").status_code == 200
    r = authorize(sess, base, client_id="other-service")
    assert r.status_code == 302 and "code=" in r.headers["Location"]
    # a fresh browser gets the form; prompt=none gets login_required
    assert authorize(requests.Session(), base).status_code == 200
    r = authorize(requests.Session(), base, prompt="none")
    assert "error=login_required" in r.headers["Location"]


def test_sign_out_revokes(base):
    sess, body = login(base, "alloc_pom")
    tok = body["access_token"]
    other = password_grant(base, "ALLOC_POM")["access_token"]
    assert me(base, tok).status_code == 200
    assert verify_api(base, tok).json() == {"active": True}
    r = sess.get(base + "/sign-out", params={"client_id": "allocation-manager",
                                             "redirect_uri": "http://localhost:8080/"},
                 allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == "http://localhost:8080/"
    assert "devauth_session" not in sess.cookies
    for t in (tok, other):
        assert me(base, t).status_code == 401
        assert verify_api(base, t).json() == {"active": False}
    r = token(base, grant_type="refresh_token", refresh_token=body["refresh_token"])
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert authorize(sess, base).status_code == 200  # no silent SSO any more
    # /logout alias, unregistered redirect goes to the sign-in page
    r = requests.get(base + "/logout", params={"client_id": "allocation-manager",
                                               "redirect_uri": "https://evil.example/"},
                     allow_redirects=False, timeout=5)
    assert r.status_code == 302 and r.headers["Location"] == base + "/sign-in"
    r = requests.get(base + "/sign-in", timeout=5)
    assert r.status_code == 200 and 'id="signin"' in r.text


def test_token_verify(base, root):
    tok = password_grant(base)["access_token"]
    assert verify_api(base, tok).json() == {"active": True}
    expired = hook(root, "mint", {"username": "ALLOC_SPO", "lifetime": -30})["access_token"]
    assert verify_api(base, expired).status_code == 400
    assert verify_api(base, "garbage").status_code == 400
    assert requests.post(base + "/token/verify", timeout=5).status_code == 401


def test_rotation(base, root):
    old = password_grant(base)["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]
    out = hook(root, "rotate-keys", {"drop_old": False})
    assert out["kid"] != old_kid and out["kids"] == [out["kid"], old_kid]
    assert [k["kid"] for k in jwks(base)["keys"]] == out["kids"]
    assert me(base, old).status_code == 200
    new = password_grant(base)
    assert jwt.get_unverified_header(new["access_token"])["kid"] == out["kid"]
    verify_rs256(base, new["access_token"])
    out2 = hook(root, "rotate-keys", {"drop_old": True})
    assert out2["kids"] == [out2["kid"]]
    assert me(base, old).status_code == 401
    assert me(base, new["access_token"]).status_code == 401
    # refresh tokens stay usable across rotations (the server tracks them)
    r = token(base, grant_type="refresh_token", refresh_token=new["refresh_token"])
    assert r.status_code == 200
    assert jwt.get_unverified_header(r.json()["access_token"])["kid"] == out2["kid"]


def test_fault_500_count_and_stats(base, root):
    hook(root, "reset-stats")
    hook(root, "fault", {"endpoint": "token", "mode": "500", "count": 2})
    for _ in range(2):
        assert token(base, grant_type="client_credentials").status_code == 500
    assert token(base, grant_type="client_credentials").status_code == 200
    requests.get(base + "/.well-known/jwks.json", timeout=5)
    s = requests.get(root + "/__test__/stats", timeout=5).json()
    assert s["requests"]["token"] == 3 and s["requests"]["jwks"] == 1
    assert s["requests"]["authorize"] == 0 and s["requests"]["me"] == 0
    assert s["grants"] == {"authorization_code": 0, "refresh_token": 0, "password": 0,
                           "client_credentials": 1}
    hook(root, "reset-stats")
    assert requests.get(root + "/__test__/stats", timeout=5).json()["requests"]["token"] == 0


def test_fault_slow_garbage_close(base, root):
    hook(root, "fault", {"endpoint": "jwks", "mode": "slow", "delay": 0.4, "count": 1})
    t0 = time.monotonic()
    assert requests.get(base + "/.well-known/jwks.json", timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.4
    hook(root, "fault", {"endpoint": "jwks", "mode": "garbage", "count": 1})
    r = requests.get(base + "/.well-known/jwks.json", timeout=5)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    hook(root, "fault", {"endpoint": "me", "mode": "close"})
    tok = password_grant(base)["access_token"]
    for _ in range(2):  # no count: until cleared
        with pytest.raises(requests.ConnectionError):
            me(base, tok)
    hook(root, "fault/clear")
    assert me(base, tok).status_code == 200
    hook(root, "fault", {"endpoint": "*", "mode": "500", "count": 1})
    assert authorize(requests.Session(), base).status_code == 500
    assert verify_api(base, tok).status_code == 200
    r = requests.post(root + "/__test__/fault", json={"endpoint": "token", "mode": "nope"}, timeout=5)
    assert r.status_code == 400


def check_hostile(base, tok, mode):
    hdr = jwt.get_unverified_header(tok)
    kids = [k["kid"] for k in jwks(base)["keys"]]
    if mode == "expired_token":
        with pytest.raises(jwt.ExpiredSignatureError):
            verify_rs256(base, tok)
    elif mode == "bad_signature":
        assert hdr["kid"] == kids[0]
        with pytest.raises(jwt.InvalidSignatureError):
            verify_rs256(base, tok)
    elif mode == "wrong_issuer":
        with pytest.raises(jwt.InvalidIssuerError):
            verify_rs256(base, tok)
    elif mode == "hs256":
        assert hdr["alg"] == "HS256" and hdr["kid"] == kids[0]
        pem = jwt.PyJWK(jwks(base)["keys"][0]).key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        signing_input, _, sig = tok.rpartition(".")
        mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
        assert base64.urlsafe_b64encode(mac).rstrip(b"=").decode() == sig
    elif mode == "alg_none":
        assert hdr["alg"] == "none" and tok.endswith(".")
        assert jwt.decode(tok, options={"verify_signature": False})["sub"]
    elif mode == "unknown_kid":
        assert hdr["kid"] not in kids
    assert me(base, tok).status_code == 401


@pytest.mark.parametrize("mode", ["expired_token", "bad_signature", "wrong_issuer", "hs256",
                                  "alg_none", "unknown_kid"])
def test_token_shaping_faults(base, root, mode):
    hook(root, "fault", {"endpoint": "token", "mode": mode, "count": 1})
    body = password_grant(base)
    check_hostile(base, body["access_token"], mode)
    verify_rs256(base, body["refresh_token"])  # refresh tokens stay sound
    assert me(base, password_grant(base)["access_token"]).status_code == 200  # count used up
    tok = hook(root, "mint", {"username": "ALLOC_POM", "mode": mode})["access_token"]
    check_hostile(base, tok, mode)


def test_mint(base, root):
    out = hook(root, "mint", {"username": "alloc_pom", "lifetime": 60,
                              "claims": {"passed_mfa": True, "user_name": None}})
    c = verify_rs256(base, out["access_token"])
    assert c["sub"] == "ALLOC_POM" and "user_name" not in c and c["passed_mfa"] is True
    assert c["exp"] - c["iat"] == 60 and c["jti"] == out["jti"]
    assert me(base, out["access_token"]).json()["username"] == "ALLOC_POM"
    many = ["ROLE_X_%03d" % i for i in range(80)]
    big = hook(root, "mint", {"username": "ALLOC_SPO", "claims": {"authorities": many}})
    assert len(big["access_token"]) > 2000
    expired = hook(root, "mint", {"username": "ALLOC_SPO", "lifetime": -10})["access_token"]
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_rs256(base, expired)
    assert me(base, expired).status_code == 401
    cc = verify_rs256(base, hook(root, "mint", {})["access_token"])
    assert cc["auth_source"] == "none" and "user_name" not in cc


def test_roles_hook(base, root):
    """A user's roles changed: tokens issued afterwards, a refresh too, carry them."""
    before = password_grant(base, "DELIUS_SPO")
    assert verify_rs256(base, before["access_token"])["authorities"] == ["ROLE_PROBATION"]
    try:
        out = hook(root, "roles", {"username": "delius_spo", "roles": ["GLOBAL_SEARCH"]})
        assert out == {"username": "DELIUS_SPO", "roles": ["GLOBAL_SEARCH"]}
        r = token(base, grant_type="refresh_token", refresh_token=before["refresh_token"])
        assert r.status_code == 200, r.text
        assert verify_rs256(base, r.json()["access_token"])["authorities"] == \
            ["ROLE_GLOBAL_SEARCH"]
        for bad in ({"username": "NOBODY", "roles": []}, {"username": "DELIUS_SPO"},
                    {"username": "DELIUS_SPO", "roles": [1]}):
            r = requests.post(root + "/__test__/roles", json=bad, timeout=5)
            assert r.status_code == 400, (bad, r.text)
    finally:
        hook(root, "roles", {"username": "DELIUS_SPO", "roles": ["PROBATION"]})


def test_users_hook(root):
    users = requests.get(root + "/__test__/users", timeout=5).json()
    by = {u["username"]: u for u in users}
    assert set(by) == {"ALLOC_SPO", "ALLOC_POM", "NO_ROLES_USER", "DELIUS_SPO", "ALLOC_ADMIN"}
    assert all(u["password"] == PASSWORD for u in users)
    assert by["ALLOC_ADMIN"]["caseloads"] == ["LEI", "MDI", "NWEB"]
    assert by["DELIUS_SPO"]["auth_source"] == "delius"


def test_logs_are_clean_and_sigterm(tmp_path):
    log = tmp_path / "err.log"
    proc, base = start_server(log, "--access-token-lifetime", "300")
    try:
        body = password_grant(base)
        assert body["expires_in"] <= 300
        sess, b2 = login(base)
        me(base, b2["access_token"])
    finally:
        assert stop_server(proc) == 0
    text = log.read_text()
    assert '"POST /auth/oauth/token" 200' in text
    for secret in (PASSWORD, "clientsecret", body["access_token"][-40:],
                   body["refresh_token"][-40:], b2["access_token"][-40:],
                   sess.cookies["devauth_session"] if "devauth_session" in sess.cookies else "x" * 50):
        assert secret not in text


# ---------------------------------------------------------------------------
# connections counted; an https listener (--tls-cert)
# ---------------------------------------------------------------------------
def _connections_seen(session, base, verify):
    return session.get(base[: -len("/auth")] + "/__test__/stats", verify=verify,
                       timeout=10).json()["connections"]


def _count_connections(base, verify=True):
    """(kept alive: new connections for 3 requests on one Session,
        fresh: for 3 requests each on its own)"""
    jwks = base + "/.well-known/jwks.json"
    with requests.Session() as s:
        c0 = _connections_seen(s, base, verify)
        for _ in range(3):
            assert s.get(jwks, verify=verify, timeout=10).status_code == 200
        c1 = _connections_seen(s, base, verify)
        for _ in range(3):
            with requests.Session() as one:
                assert one.get(jwks, verify=verify, timeout=10).status_code == 200
        c2 = _connections_seen(s, base, verify)
    return c1 - c0, c2 - c1


def test_stats_count_connections_not_requests(base):
    assert _count_connections(base) == (0, 3)


def test_https_listener(tmp_path):
    d = str(tmp_path)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=devauth", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", d + "/key.pem", "-out", d + "/cert.pem"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc, https_base = start_server(tmp_path / "stderr.log", "--tls-cert", d + "/cert.pem",
                                    "--tls-key", d + "/key.pem")
    try:
        assert https_base.startswith("https://127.0.0.1:")
        meta = requests.get(https_base + "/issuer/.well-known/openid-configuration",
                            verify=d + "/cert.pem", timeout=10)
        assert meta.status_code == 200
        assert meta.json()["issuer"].startswith("https://")
        assert _count_connections(https_base, verify=d + "/cert.pem") == (0, 3)
        # plain http on the https port: refused, and the server stays up
        with pytest.raises(requests.RequestException):
            requests.get(https_base.replace("https:", "http:") + "/.well-known/jwks.json",
                         timeout=5)
        assert requests.get(https_base + "/.well-known/jwks.json", verify=d + "/cert.pem",
                            timeout=10).status_code == 200
    finally:
        assert stop_server(proc) == 0


def test_bench_id_token_switch(base, tmp_path):
    # off (the default, like HMPPS Auth): openid is not an allowed scope
    sess = requests.Session()
    r = authorize(sess, base, scope="openid read", nonce="n-0")
    assert r.status_code == 302
    assert parse_qs(urlsplit(r.headers["Location"]).query)["error"] == ["invalid_scope"]
    _, body = login(base)
    assert "id_token" not in body

    proc, on = start_server(tmp_path / "stderr.log", "--bench-id-token")
    try:
        sess = requests.Session()
        verifier, challenge = pkce_pair()
        r = authorize(sess, on, challenge=challenge, scope="openid read", nonce="n-1")
        assert r.status_code == 200
        assert parse_form(r.text).inputs["nonce"] == "n-1"
        code, _ = code_from(sign_in(sess, on, r.text))
        r = token(on, grant_type="authorization_code", code=code, redirect_uri=REDIRECT,
                  code_verifier=verifier)
        assert r.status_code == 200, r.text
        body = r.json()
        idt = jwt.decode(body["id_token"], jwt.PyJWK(jwks(on)["keys"][0]).key,
                         algorithms=["RS256"], issuer=on + "/issuer",
                         audience="allocation-manager")
        assert idt["sub"] == "ALLOC_SPO" and idt["nonce"] == "n-1"
        assert idt["azp"] == "allocation-manager"
        # without the openid scope, no id_token even with the switch
        _, body = login(on)
        assert "id_token" not in body
    finally:
        assert stop_server(proc) == 0
