"""The password-grant fallback (NomisSSOGrantType password): the module's own
sign-in form, bound to the sign-in state, https-only unless allowed, and
rate-limited; after sign-in the session is like an SSO one."""

import re

import pytest
import requests

import harness as H

FORM = "/nomis-sso/sign-in"
STATE_FIELD = re.compile(r'name="state" value="([^"]+)"')


@pytest.fixture(scope="module")
def pw_httpd(module_httpd_factory):
    return module_httpd_factory(
        nsso_extra="NomisSSOGrantType password\nNomisSSOPasswordAllowHTTP On")


def _form(h, path="/protected/env?x=1"):
    s = requests.Session()
    r = s.get(h.url(path), headers={"Accept": "text/html"}, timeout=10)
    assert r.status_code == 200 and r.url.startswith(h.url(FORM)), h.explain(r)
    m = STATE_FIELD.search(r.text)
    assert m, r.text
    return s, m.group(1), r


def _post(h, s, state, username, password):
    return s.post(h.url(FORM), data={"state": state, "username": username,
                                     "password": password},
                  allow_redirects=False, timeout=15)


def test_form_is_served_instead_of_hmpps_auth(pw_httpd, devauth):
    s, state, r = _form(pw_httpd)
    assert 'type="password"' in r.text and 'autocomplete="off"' in r.text
    assert r.headers.get("Cache-Control") == "no-store"
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert "devauth" not in r.text


def test_sign_in_lands_on_original_page(pw_httpd, devauth):
    before = devauth.stats()["grants"].get("password", 0)
    s, state, _ = _form(pw_httpd, "/protected/env?prison=LEI")
    r = _post(pw_httpd, s, state, "alloc_spo", H.PASSWORD)
    assert r.status_code == 302 and r.headers["Location"] == "/protected/env?prison=LEI", \
        pw_httpd.explain(r)
    page = s.get(pw_httpd.url(r.headers["Location"]), timeout=10)
    assert "REMOTE_USER=ALLOC_SPO" in page.text and "NOMIS_SSO_ROLES=ALLOC_MGR" in page.text
    assert devauth.stats()["grants"].get("password", 0) == before + 1
    # the state is spent: the same form cannot sign in again
    r = _post(pw_httpd, s, state, "alloc_spo", H.PASSWORD)
    assert r.status_code == 400, pw_httpd.explain(r)


def test_wrong_password_shows_form_again_and_logs_no_password(pw_httpd, devauth):
    mark = pw_httpd.log_mark()
    s, state, _ = _form(pw_httpd)
    r = _post(pw_httpd, s, state, "ALLOC_POM", "not-the-password-xyz")
    assert r.status_code == 200 and "Wrong username or password" in r.text, pw_httpd.explain(r)
    assert "ALLOC_POM" in r.text  # username kept
    assert "not-the-password-xyz" not in r.text
    r = _post(pw_httpd, s, state, "ALLOC_POM", H.PASSWORD)  # same state still usable
    assert r.status_code == 302, pw_httpd.explain(r)
    log = pw_httpd.log_since(mark)
    assert "not-the-password-xyz" not in log and H.PASSWORD not in log


def test_form_post_needs_the_state_and_its_cookie(pw_httpd, devauth):
    s, state, _ = _form(pw_httpd)
    assert _post(pw_httpd, s, "", "ALLOC_SPO", H.PASSWORD).status_code == 400
    assert _post(pw_httpd, s, "A" * 22, "ALLOC_SPO", H.PASSWORD).status_code == 400
    other = requests.Session()  # CSRF: right state, but not this browser's cookie
    assert _post(pw_httpd, other, state, "ALLOC_SPO", H.PASSWORD).status_code == 400
    r = requests.get(pw_httpd.url(FORM), timeout=10)  # no sign-in started
    assert r.status_code == 400


def test_failed_attempts_are_rate_limited(pw_httpd, devauth):
    s, state, _ = _form(pw_httpd)
    codes = [_post(pw_httpd, s, state, "DELIUS_SPO", "wrong%d" % i).status_code
             for i in range(6)]
    assert codes[:5] == [200] * 5 and codes[5] == 429, codes
    r = _post(pw_httpd, s, state, "DELIUS_SPO", H.PASSWORD)
    assert r.status_code == 429 and r.headers.get("Retry-After"), pw_httpd.explain(r)
    # other users are not locked out by it
    s2, state2, _ = _form(pw_httpd)
    assert _post(pw_httpd, s2, state2, "NO_ROLES_USER", H.PASSWORD).status_code == 302


def test_plain_http_refused_unless_allowed(devauth, httpd_factory):
    conf = H.nsso_directives(devauth.auth_url, extra="NomisSSOGrantType password")
    h = httpd_factory(nsso_conf=conf)
    r = requests.get(h.url("/protected/env"), headers={"Accept": "text/html"}, timeout=10)
    assert r.status_code == 403 and "secure connection" in r.text, h.explain(r)
    assert "NomisSSOGrantType password" in h.log_since(0)  # the start-up warning


def test_configtest_rejects_unknown_grant(devauth, httpd_factory):
    conf = H.nsso_directives(devauth.auth_url, extra="NomisSSOGrantType implicit")
    h = httpd_factory(start=False, nsso_conf=conf)
    code, out = h.config_test()
    assert code != 0 and "NomisSSOGrantType" in out, out


# ---------------------------------------------------------------------------
# limits that hold: counted before HMPPS Auth is asked, by HMPPS Auth's view
# of the user name, by IPv6 /64, and per server
# ---------------------------------------------------------------------------
REMOTEIP = ("LoadModule remoteip_module %s/mod_remoteip.so\n"
            "RemoteIPHeader X-Forwarded-For\nRemoteIPInternalProxy 127.0.0.1\n" % H.MODDIR)


def _pw_site(httpd_factory, devauth, remoteip=False):
    conf = H.nsso_directives(devauth.auth_url,
                             extra="NomisSSOGrantType password\nNomisSSOPasswordAllowHTTP On")
    return httpd_factory(nsso_conf=conf, extra=REMOTEIP if remoteip else "")


def _token_requests(devauth):
    """Calls that reached HMPPS Auth's token endpoint (refused ones too)."""
    return devauth.stats()["requests"].get("token", 0)


def test_concurrent_wrong_guesses_reach_auth_at_most_five_times(httpd_factory, devauth):
    import threading
    h = _pw_site(httpd_factory, devauth)
    forms = [_form(h) for _ in range(30)]  # each guess has its own sign-in
    barrier = threading.Barrier(len(forms))
    codes = [None] * len(forms)

    def guess(i):
        s, state, _ = forms[i]
        barrier.wait()
        codes[i] = _post(h, s, state, "ALLOC_SPO", "guess-%d" % i).status_code

    before = _token_requests(devauth)
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(len(forms))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    reached = _token_requests(devauth) - before
    assert reached <= 5, (reached, codes)
    assert codes.count(200) == reached and codes.count(429) == 30 - reached, codes
    # and the real password is refused too until the window has passed
    s, state, _ = _form(h)
    assert _post(h, s, state, "ALLOC_SPO", H.PASSWORD).status_code == 429


def test_spaces_and_case_buy_no_extra_attempts(httpd_factory, devauth):
    h = _pw_site(httpd_factory, devauth)
    s, state, _ = _form(h)
    variants = ["  alloc_pom ", "ALLOC_POM", "alloc_pom", " Alloc_Pom", "ALLOC_POM   "]
    codes = [_post(h, s, state, v, "wrong-%d" % i).status_code
             for i, v in enumerate(variants)]
    assert codes == [200] * 5, codes
    before = _token_requests(devauth)
    r = _post(h, s, state, "   alloc_pom   ", H.PASSWORD)
    assert r.status_code == 429, h.explain(r)
    assert _token_requests(devauth) == before  # refused without asking HMPPS Auth


def test_success_gives_its_attempt_back(httpd_factory, devauth):
    h = _pw_site(httpd_factory, devauth)
    for i in range(8):  # more sign-ins than the limit: none is a failure
        s, state, _ = _form(h)
        r = _post(h, s, state, " alloc_spo ", H.PASSWORD)
        assert r.status_code == 302, (i, h.explain(r))


def _guess_from(h, s, state, ip, user, password="wrong"):
    return s.post(h.url(FORM), data={"state": state, "username": user, "password": password},
                  headers={"X-Forwarded-For": ip}, allow_redirects=False,
                  timeout=15).status_code


def test_ipv6_clients_are_counted_by_their_64(httpd_factory, devauth):
    h = _pw_site(httpd_factory, devauth, remoteip=True)
    s, state, _ = _form(h)
    codes = [_guess_from(h, s, state, "2001:db8:1:2::%x" % (i + 1), "NOBODY_A%d" % i)
             for i in range(20)]
    assert codes == [200] * 20, codes
    # another address in the same /64, another user: still the same client
    assert _guess_from(h, s, state, "2001:db8:1:2:ffff:1:2:3", "NOBODY_A99") == 429
    # the next /64 is someone else
    assert _guess_from(h, s, state, "2001:db8:1:3::1", "NOBODY_A98") == 200


def test_server_wide_limit(httpd_factory, devauth):
    h = _pw_site(httpd_factory, devauth, remoteip=True)
    s, state, _ = _form(h)
    codes = [_guess_from(h, s, state, "198.51.%d.%d" % (i // 200, i % 200 + 1),
                         "NOBODY_C%d" % i) for i in range(200)]
    assert codes == [200] * 200, [i for i, c in enumerate(codes) if c != 200][:5]
    before = _token_requests(devauth)
    assert _guess_from(h, s, state, "203.0.113.9", "NOBODY_C999") == 429
    assert _guess_from(h, s, state, "203.0.113.9", "ALLOC_SPO", H.PASSWORD) == 429
    assert _token_requests(devauth) == before


def test_store_down_refuses_without_asking_hmpps_auth(httpd_factory, devauth):
    from test_shared_store import REDIS, Engine, _need
    _need(REDIS, "redis")
    engine = Engine("redis").start()
    try:
        conf = ("LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n"
                % H.MODDIR) + H.nsso_directives(
                    devauth.auth_url, extra="NomisSSOGrantType password\n"
                    "NomisSSOPasswordAllowHTTP On\n"
                    "NomisSSOSessionStore socache:redis:127.0.0.1:%d" % engine.port)
        h = httpd_factory(nsso_conf=conf)
        s, state, _ = _form(h)
        engine.stop()
        before = _token_requests(devauth)
        r = _post(h, s, state, "ALLOC_SPO", "a-guess")
        assert r.status_code == 503 and r.headers.get("Retry-After"), h.explain(r)
        assert _token_requests(devauth) == before  # never "zero failures so far"
    finally:
        engine.stop()
