"""Authorization through a real httpd: the Require nomis-* providers, their
combinations with RequireAll / RequireAny / Require not / Require expr, the
denial answers (NomisSSOUnauthzAction) and the caseload lookup at sign-in.

Every seeded user signs in once per httpd (module-scoped), and each check is
one request with that user's session cookie. The protected URLs all run
env.cgi, so an allowed request also shows who the CGI believes is signed in.
"""

import pytest

import harness as H
from harness import cgi_env
from conftest import serving

USERS = ("ALLOC_SPO", "ALLOC_POM", "NO_ROLES_USER", "DELIUS_SPO", "ALLOC_ADMIN")

# <Location /authz/NAME> -> the authorization lines inside it
AUTHZ_LOCATIONS = {
    "role-mgr": "Require nomis-role ALLOC_MGR",
    "role-prefixed": "Require nomis-role ROLE_ALLOC_MGR",
    "role-any": "Require nomis-role MOIC_ADMIN ALLOC_CASE_MGR",
    "role-lower": "Require nomis-role alloc_mgr",
    "user": "Require nomis-user alloc_spo Delius_Spo",
    "source-nomis": "Require nomis-auth-source nomis",
    "source-delius": "Require nomis-auth-source delius",
    "scope-read": "Require nomis-scope read",
    "scope-write": "Require nomis-scope write",
    "scope-admin": "Require nomis-scope admin",
    "caseload-lei": "Require nomis-caseload LEI",
    "caseload-mdi": "Require nomis-caseload MDI",
    "all": "<RequireAll>\n Require nomis-role ALLOC_MGR\n Require nomis-caseload LEI\n"
           "</RequireAll>",
    "any": "<RequireAny>\n Require nomis-auth-source delius\n"
           " Require nomis-role ALLOC_CASE_MGR\n</RequireAny>",
    "not": "<RequireAll>\n Require nomis-role ALLOC_MGR\n Require not nomis-role MOIC_ADMIN\n"
           "</RequireAll>",
    "nested": "<RequireAll>\n Require nomis-auth-source nomis\n <RequireAny>\n"
              "  Require nomis-role ALLOC_MGR\n  Require nomis-caseload MDI\n"
              " </RequireAny>\n</RequireAll>",
    "expr": 'Require expr "%{env:NOMIS_SSO_ROLES} =~ /ALLOC_MGR/"',
    # naming REMOTE_USER makes mod_authz_core wait for authentication
    "expr-user": 'Require expr "%{REMOTE_USER} != \'\' && %{env:NOMIS_SSO_ROLES} =~ /ALLOC_MGR/"',
    "if": '<If "%{env:NOMIS_SSO_ROLES} =~ /ALLOC_MGR/">\n  Header always set X-Is-Mgr yes\n'
          '</If>\nHeader always set X-Roles-At-Output "expr=%{env:NOMIS_SSO_ROLES}"',
    "deny401": "NomisSSOUnauthzAction 401\nRequire nomis-role MOIC_ADMIN",
    "deny-redirect": "NomisSSOUnauthzAction /denied.html\nRequire nomis-role MOIC_ADMIN",
}


def authz_extra(h, server_lines=""):
    """Config appended to the harness template: /authz/* runs env.cgi behind
    AuthType nomis-sso, each /authz/NAME with its own Require lines."""
    parts = [server_lines,
             'ScriptAliasMatch "^/authz/" "%s/cgi-bin/env.cgi"' % h.dir,
             "<Location /authz/>\n    AuthType nomis-sso\n    Require valid-user\n</Location>"]
    for name, lines in AUTHZ_LOCATIONS.items():
        parts.append("<Location /authz/%s>\n%s\n</Location>" % (name, lines))
    return "\n".join(parts) + "\n"


def configure(h, server_lines=""):
    h.params["extra"] = authz_extra(h, server_lines)
    h.write_conf()
    return h


Logins = H.Logins


def assert_allowed(h, r, user):
    assert r.status_code == 200, h.explain(r, "%s should be allowed" % user)
    env = cgi_env(r.text)
    assert env.get("REMOTE_USER") == user, h.explain(r, "REMOTE_USER")
    assert env.get("AUTH_TYPE") == H.AUTH_TYPE, h.explain(r, "AUTH_TYPE")
    return env


def assert_denied_page(h, r, user, words):
    """403 page naming the user and, in words, what was required, nothing
    more (no directive syntax)."""
    assert r.status_code == 403, h.explain(r, "%s should get 403" % user)
    assert "text/html" in r.headers.get("Content-Type", ""), h.explain(r, "content type")
    assert user in r.text, h.explain(r, "the page does not name the user")
    assert words in r.text, h.explain(r, "the page does not say %r" % words)
    assert "Require" not in r.text, h.explain(r, "directive syntax on the page")
    assert "eyJ" not in r.text, h.explain(r, "a token on the denial page")
    assert "REMOTE_USER=" not in r.text, h.explain(r, "the protected content leaked")
    assert "Location" not in r.headers


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def authz_httpd(module_httpd_factory):
    return module_httpd_factory(mpm="event", extra=authz_extra)


@pytest.fixture(scope="module")
def logins_module(authz_httpd, devauth_server):
    return Logins(authz_httpd, devauth_server)


@pytest.fixture
def logins(logins_module, authz_httpd, devauth, request):
    serving(request, authz_httpd)
    return logins_module


# ---------------------------------------------------------------------------
# the allow / deny matrix
# ---------------------------------------------------------------------------
MATRIX = [
    # Require nomis-role: bare name, ROLE_ prefix, any of several, case-sensitive
    ("role-mgr", "ALLOC_SPO", True),
    ("role-mgr", "ALLOC_ADMIN", True),
    ("role-mgr", "ALLOC_POM", False),
    ("role-mgr", "NO_ROLES_USER", False),
    ("role-mgr", "DELIUS_SPO", False),
    ("role-prefixed", "ALLOC_SPO", True),
    ("role-prefixed", "ALLOC_POM", False),
    ("role-any", "ALLOC_POM", True),
    ("role-any", "ALLOC_ADMIN", True),
    ("role-any", "ALLOC_SPO", False),
    ("role-any", "NO_ROLES_USER", False),
    ("role-lower", "ALLOC_SPO", False),
    # Require nomis-user: case-insensitive
    ("user", "ALLOC_SPO", True),
    ("user", "DELIUS_SPO", True),
    ("user", "ALLOC_POM", False),
    ("user", "ALLOC_ADMIN", False),
    # Require nomis-auth-source
    ("source-nomis", "ALLOC_SPO", True),
    ("source-nomis", "NO_ROLES_USER", True),
    ("source-nomis", "DELIUS_SPO", False),
    ("source-delius", "DELIUS_SPO", True),
    ("source-delius", "ALLOC_SPO", False),
    # Require nomis-scope (allocation-manager tokens carry read and write)
    ("scope-read", "ALLOC_POM", True),
    ("scope-write", "ALLOC_SPO", True),
    ("scope-admin", "ALLOC_SPO", False),
    # Require nomis-caseload: the active caseload only
    ("caseload-lei", "ALLOC_SPO", True),
    ("caseload-lei", "ALLOC_POM", True),
    ("caseload-lei", "ALLOC_ADMIN", True),
    ("caseload-lei", "NO_ROLES_USER", False),
    ("caseload-lei", "DELIUS_SPO", False),
    ("caseload-mdi", "NO_ROLES_USER", True),
    ("caseload-mdi", "ALLOC_SPO", False),
    # <RequireAll> role + caseload
    ("all", "ALLOC_SPO", True),
    ("all", "ALLOC_ADMIN", True),
    ("all", "ALLOC_POM", False),
    ("all", "NO_ROLES_USER", False),
    # <RequireAny> auth source | role
    ("any", "DELIUS_SPO", True),
    ("any", "ALLOC_POM", True),
    ("any", "ALLOC_SPO", False),
    ("any", "NO_ROLES_USER", False),
    # <RequireAll> role, not another role
    ("not", "ALLOC_SPO", True),
    ("not", "ALLOC_ADMIN", False),
    ("not", "ALLOC_POM", False),
    # <RequireAll> source + <RequireAny> role | caseload
    ("nested", "ALLOC_SPO", True),
    ("nested", "NO_ROLES_USER", True),
    ("nested", "ALLOC_POM", False),
    ("nested", "DELIUS_SPO", False),
    # Require expr on the environment the module sets before authorization
    ("expr", "ALLOC_SPO", True),
    ("expr", "ALLOC_ADMIN", True),
    ("expr", "ALLOC_POM", False),
    ("expr", "NO_ROLES_USER", False),
    ("expr-user", "ALLOC_SPO", True),
    ("expr-user", "ALLOC_ADMIN", True),
    ("expr-user", "ALLOC_POM", False),
]

KNOWN_BUGS = {}

# Locations whose denial comes from `Require not` or `Require expr`.
NEGATED_OR_EXPR = {"not", "expr", "expr-user"}


def _matrix_params():
    out = []
    for loc, user, allowed in MATRIX:
        bug = KNOWN_BUGS.get((loc, user))
        marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
        out.append(pytest.param(loc, user, allowed, marks=marks,
                                id="%s-%s-%s" % (loc, user, "allow" if allowed else "deny")))
    return out


@pytest.mark.parametrize("loc,user,allowed", _matrix_params())
def test_require_matrix(logins, authz_httpd, loc, user, allowed):
    h = authz_httpd
    r = logins.get(user, "/authz/%s" % loc)
    if allowed:
        assert_allowed(h, r, user)
    else:
        assert r.status_code == 403, h.explain(r, "%s at /authz/%s: expected 403" % (user, loc))
        assert "REMOTE_USER=" not in r.text, h.explain(r, "protected content served")
        if loc == "expr":
            # an expression without %{REMOTE_USER} is decided by mod_authz_core
            # before authentication (from the module's early variables): its
            # own 403, nothing from the protected page
            pass
        elif loc in NEGATED_OR_EXPR:
            # mod_authz_core negated a grant or evaluated an expression: the
            # page names the user, and the rule when a nomis-* line denied
            assert user in r.text, h.explain(r, "the denial page does not name the user")
            assert "this page needs" in r.text or "this page is only for" in r.text, \
                h.explain(r, "denial text missing")
        else:
            assert user in r.text, h.explain(r, "the denial page does not name the user")
            assert "this page needs" in r.text or "this page is only for" in r.text, \
                h.explain(r, "the page does not say what is needed")
            assert "Require" not in r.text, h.explain(r, "directive syntax on the page")
        assert "eyJ" not in r.text


def test_denied_user_keeps_session(logins, authz_httpd):
    """A denial is not a sign-out: the same session still opens other pages."""
    h = authz_httpd
    assert logins.get("ALLOC_POM", "/authz/role-mgr").status_code == 403
    assert_allowed(h, logins.get("ALLOC_POM", "/authz/role-any"), "ALLOC_POM")
    assert_allowed(h, logins.get("ALLOC_POM", "/protected/env"), "ALLOC_POM")


# ---------------------------------------------------------------------------
# the denial answer
# ---------------------------------------------------------------------------
def test_denial_page_content(logins, authz_httpd):
    h = authz_httpd
    mark = h.log_mark()
    r = logins.get("ALLOC_POM", "/authz/role-mgr")
    assert_denied_page(h, r, "ALLOC_POM", "needs one of these roles: Alloc mgr")
    # no dump of what the user does have
    assert "ALLOC_CASE_MGR" not in r.text, h.explain(r, "the user's roles are listed")
    assert "ROLE_" not in r.text, h.explain(r, "role names on the page")
    assert "LEI" not in r.text, h.explain(r, "the caseload is on the page")
    assert "WWW-Authenticate" not in r.headers, h.explain(r)
    assert "eyJ" not in h.log_since(mark)


def test_denial_page_for_caseload(logins, authz_httpd):
    h = authz_httpd
    r = logins.get("NO_ROLES_USER", "/authz/caseload-lei")
    assert_denied_page(h, r, "NO_ROLES_USER", "needs one of these active caseloads: LEI")
    assert "MDI" not in r.text, h.explain(r, "the user's caseload is on the page")


def test_denial_page_without_caseload(logins, authz_httpd):
    """A user without a caseload is denied with the same page (no 500)."""
    h = authz_httpd
    r = logins.get("DELIUS_SPO", "/authz/caseload-lei")
    assert_denied_page(h, r, "DELIUS_SPO", "needs one of these active caseloads: LEI")
    assert "PROBATION" not in r.text


def test_unauthz_action_401(logins, authz_httpd):
    h = authz_httpd
    r = logins.get("ALLOC_POM", "/authz/deny401")
    assert r.status_code == 401, h.explain(r, "NomisSSOUnauthzAction 401")
    assert "Location" not in r.headers
    assert "REMOTE_USER=" not in r.text and "eyJ" not in r.text
    # the holder of the role still gets in
    assert_allowed(h, logins.get("ALLOC_ADMIN", "/authz/deny401"), "ALLOC_ADMIN")


def test_unauthz_action_redirect(logins, authz_httpd):
    h = authz_httpd
    r = logins.get("ALLOC_POM", "/authz/deny-redirect")
    assert r.status_code == 302, h.explain(r, "NomisSSOUnauthzAction /denied.html")
    loc = r.headers.get("Location", "")
    assert loc == "/denied.html" or loc == h.url("/denied.html"), h.explain(r, "Location")
    assert "REMOTE_USER=" not in r.text and "eyJ" not in r.text
    assert_allowed(h, logins.get("ALLOC_ADMIN", "/authz/deny-redirect"), "ALLOC_ADMIN")


def test_expr_sees_module_environment(logins, authz_httpd):
    """Require expr reads NOMIS_SSO_ROLES: the environment is set before
    authorization, and the CGI sees the same value the expression matched."""
    h = authz_httpd
    env = assert_allowed(h, logins.get("ALLOC_ADMIN", "/authz/expr-user"), "ALLOC_ADMIN")
    assert set(env["NOMIS_SSO_ROLES"].split(",")) == {"MOIC_ADMIN", "ALLOC_MGR"}
    r = logins.get("ALLOC_POM", "/authz/expr-user")
    assert r.status_code in (401, 403) and "REMOTE_USER=" not in r.text, h.explain(r)


def test_if_block_sees_roles(logins, authz_httpd):
    h = authz_httpd
    r = logins.get("ALLOC_SPO", "/authz/if")
    assert_allowed(h, r, "ALLOC_SPO")
    # the variable is there by the time the response goes out...
    assert r.headers.get("X-Roles-At-Output") == "ALLOC_MGR", r.headers
    # ...and <If> on it should have matched
    assert r.headers.get("X-Is-Mgr") == "yes", r.headers


def test_spoofed_headers_do_not_grant(logins, authz_httpd):
    """A client's X-Nomis-* headers and environment-like names change nothing."""
    h = authz_httpd
    sid = logins("ALLOC_POM").session_id()
    status, headers, body = H.raw_request(h.port, "GET", "/authz/role-mgr", headers={
        "Cookie": "%s=%s" % (H.COOKIE, sid), "Accept": "text/html",
        "X-Nomis-Roles": "ALLOC_MGR", "X-Nomis-User": "ALLOC_SPO",
        "X_Nomis_Roles": "ALLOC_MGR", "NOMIS_SSO_ROLES": "ALLOC_MGR"})
    assert status == 403, (status, headers, body[:500])
    status, headers, body = H.raw_request(h.port, "GET", "/authz/expr-user", headers={
        "Cookie": "%s=%s" % (H.COOKIE, sid), "Accept": "text/html",
        "X-Nomis-Roles": "ALLOC_MGR", "NOMIS_SSO_ROLES": "ALLOC_MGR"})
    assert status in (401, 403), (status, headers, body[:500])


def test_no_session_still_goes_to_sign_in(authz_httpd, devauth):
    """Without a session a Require nomis-* page starts a sign-in, not a 403."""
    h = authz_httpd
    b = H.Browser(h, devauth)
    r = b.get("/authz/role-mgr")
    assert r.status_code == 302, h.explain(r)
    assert r.headers["Location"].startswith(devauth.auth_url + "/oauth/authorize?")
    # and after signing in the user lands on the page, allowed
    cb = b.callback(b.authorize(r.headers["Location"], "ALLOC_SPO"))
    assert cb.status_code == 302 and cb.headers["Location"] == "/authz/role-mgr", h.explain(cb)
    assert_allowed(h, b.get("/authz/role-mgr"), "ALLOC_SPO")


# ---------------------------------------------------------------------------
# the caseload lookup at sign-in
# ---------------------------------------------------------------------------
def test_caseload_in_environment(logins, authz_httpd):
    h = authz_httpd
    assert assert_allowed(h, logins.get("ALLOC_SPO", "/authz/role-mgr"),
                          "ALLOC_SPO").get("NOMIS_SSO_CASELOAD") == "LEI"
    assert assert_allowed(h, logins.get("NO_ROLES_USER", "/protected/env"),
                          "NO_ROLES_USER").get("NOMIS_SSO_CASELOAD") == "MDI"
    assert "NOMIS_SSO_CASELOAD" not in assert_allowed(
        h, logins.get("DELIUS_SPO", "/protected/env"), "DELIUS_SPO")


def test_caseload_lookup_unreachable(httpd_factory, devauth):
    """NomisSSOCaseloadURL on a closed port: sign-in works, the caseload
    requirement denies with 403, nothing answers 500."""
    closed = H.closed_port()
    h = httpd_factory(start=False)
    configure(h, "NomisSSOCaseloadURL http://127.0.0.1:%d/api/user/me" % closed)
    h.start()
    b = H.Browser(h, devauth)
    cb, page = b.login("/authz/role-mgr", "ALLOC_SPO")
    assert cb.status_code == 302, h.explain(cb, "callback")
    env = assert_allowed(h, page, "ALLOC_SPO")
    assert "NOMIS_SSO_CASELOAD" not in env, env
    r = b.get("/authz/caseload-lei")
    assert_denied_page(h, r, "ALLOC_SPO", "needs one of these active caseloads: LEI")
    # other requirements are unaffected
    assert_allowed(h, b.get("/authz/role-mgr"), "ALLOC_SPO")
    assert b.get("/authz/all").status_code == 403
    log = h.log_since(0)
    assert "caseload" in log.lower() and "ALLOC_SPO" in log, h.log_tail()
    assert not any(" 500 " in line for line in h.access_lines()), h.access_lines()


def test_caseload_from_prison_api_shape(httpd_factory, devauth):
    """NomisSSOCaseloadURL pointing at the prison API's /users/me/caseLoads
    (an array with currentlyActive) gives the active caseload."""
    h = httpd_factory(start=False)
    configure(h, "NomisSSOCaseloadURL %s/api/users/me/caseLoads" % devauth.auth_url)
    h.start()
    spo = H.Browser(h, devauth)
    _, page = spo.login("/authz/caseload-lei", "ALLOC_SPO")
    assert assert_allowed(h, page, "ALLOC_SPO").get("NOMIS_SSO_CASELOAD") == "LEI"
    assert spo.get("/authz/caseload-mdi").status_code == 403
    other = H.Browser(h, devauth)
    _, page = other.login("/protected/env", "NO_ROLES_USER")
    assert assert_allowed(h, page, "NO_ROLES_USER").get("NOMIS_SSO_CASELOAD") == "MDI"
    assert_allowed(h, other.get("/authz/caseload-mdi"), "NO_ROLES_USER")
    assert other.get("/authz/caseload-lei").status_code == 403


def test_scope_read_only_client(httpd_factory, devauth):
    """A client whose tokens carry only scope read: nomis-scope read allows,
    nomis-scope write denies."""
    h = httpd_factory(start=False, client_id="other-service", secret="othersecret")
    configure(h)
    h.start()
    b = H.Browser(h, devauth)
    _, page = b.login("/authz/scope-read", "ALLOC_SPO")
    assert_allowed(h, page, "ALLOC_SPO")
    assert_denied_page(h, b.get("/authz/scope-write"), "ALLOC_SPO",
                       "needs one of these kinds of access: write")


# ---------------------------------------------------------------------------
# configuration checks
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("provider", ["nomis-role", "nomis-user", "nomis-auth-source",
                                      "nomis-scope", "nomis-caseload"])
def test_require_without_values_fails_configtest(httpd_factory, provider):
    h = httpd_factory(start=False)
    h.params["extra"] = ("<Location /needs>\n    AuthType nomis-sso\n    Require %s\n"
                         "</Location>\n" % provider)
    h.write_conf()
    rc, out = h.config_test()
    assert rc != 0, "httpd -t accepted 'Require %s' without values:\n%s" % (provider, out)
    assert provider in out, out
    # the same line with a value is fine: the missing value was the problem
    h.params["extra"] = ("<Location /needs>\n    AuthType nomis-sso\n    Require %s X\n"
                         "</Location>\n" % provider)
    h.write_conf()
    rc, out = h.config_test()
    assert rc == 0, out
