"""PHP (Debian's libapache2-mod-php, loaded explicitly: the harness runs its
own configuration, not /etc/apache2) under the prefork MPM: a PHP page sees
$_SERVER['REMOTE_USER'], AUTH_TYPE, the NOMIS_SSO_* variables README.md
lists, a NomisSSOPassClaim claim, and the X-Nomis-* headers as HTTP_X_NOMIS_*
(never a client's own); the access token only where NomisSSOPassAccessToken
is On. The configuration is the one docs/operations.md shows ("With PHP")."""

import os

import pytest
import requests

import harness as H

PHP_MODULE = os.path.join(H.MODDIR, "libphp8.2.so")

WHOAMI = r"""<?php
header('Content-Type: application/json');
header('Cache-Control: no-store');
$out = array();
foreach ($_SERVER as $k => $v) {
    if ($k === 'REMOTE_USER' || $k === 'AUTH_TYPE' || strncmp($k, 'NOMIS_SSO_', 10) === 0
        || strncmp($k, 'HTTP_X_NOMIS_', 13) === 0 || $k === 'HTTP_AUTHORIZATION') {
        $out[$k] = $v;
    }
}
$out['getenv_REMOTE_USER'] = getenv('REMOTE_USER');
// httpd keeps Authorization out of the environment (CGIPassAuth Off): the
// request's headers as mod_proxy would forward them
$hdrs = apache_request_headers();
if (isset($hdrs['Authorization'])) {
    $out['header_Authorization'] = $hdrs['Authorization'];
}
$out['php_sapi'] = php_sapi_name();
echo json_encode($out);
"""

PHP_CONF = """
LoadModule php_module {php}
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
DirectoryIndex index.php index.html

Alias /php/ "{dir}/php/"
<Directory "{dir}/php">
    Require all granted
</Directory>
<Location /php/>
    AuthType nomis-sso
    Require valid-user
</Location>
<Location /php/manager/>
    Require nomis-role ALLOC_MGR
    NomisSSOPassAccessToken On
</Location>
"""


def _site(h):
    for sub in ("php", "php/manager"):
        os.mkdir(os.path.join(h.dir, sub))
        os.chmod(os.path.join(h.dir, sub), 0o755)
    H.write_file(os.path.join(h.dir, "php", "whoami.php"), WHOAMI)
    H.write_file(os.path.join(h.dir, "php", "manager", "whoami.php"), WHOAMI)
    return PHP_CONF.format(php=PHP_MODULE, dir=h.dir)


@pytest.fixture(scope="module")
def php_httpd(module_httpd_factory):
    if not os.path.exists(PHP_MODULE):
        pytest.skip("libapache2-mod-php is not installed (%s)" % PHP_MODULE)
    return module_httpd_factory(mpm="prefork", extra=_site,
                                nsso_extra="NomisSSOPassClaim grant_type GRANT_TYPE")


@pytest.fixture
def h(php_httpd, request):
    from conftest import serving
    return serving(request, php_httpd)


def test_php_sees_the_user_roles_and_claims(h, devauth):
    b = H.Browser(h, devauth)
    _, page = b.login("/php/whoami.php", username="ALLOC_SPO")
    assert page.status_code == 200, h.explain(page)
    env = page.json()
    assert env["php_sapi"] == "apache2handler", env
    assert env["REMOTE_USER"] == "ALLOC_SPO" and env["getenv_REMOTE_USER"] == "ALLOC_SPO", env
    assert env["AUTH_TYPE"] == "nomis-sso"
    assert env["NOMIS_SSO_USER"] == "ALLOC_SPO"
    assert env["NOMIS_SSO_ROLES"] == "ALLOC_MGR"
    # every caseload held comes from the Manage Users API (test_claims.py); the
    # active one from /api/user/me
    assert env["NOMIS_SSO_CASELOAD"] == "LEI" and "LEI" in env["NOMIS_SSO_CASELOADS"], env
    assert env["NOMIS_SSO_AUTH_SOURCE"] == "nomis"
    assert env["NOMIS_SSO_NAME"] and env["NOMIS_SSO_USER_ID"] and env["NOMIS_SSO_USER_UUID"]
    assert env["NOMIS_SSO_EXPIRES"].isdigit()
    assert env["NOMIS_SSO_GRANT_TYPE"] == "authorization_code", env
    assert env["HTTP_X_NOMIS_USER"] == "ALLOC_SPO", env
    assert "NOMIS_SSO_ACCESS_TOKEN" not in env and "header_Authorization" not in env, env


def test_php_never_sees_a_clients_spoofed_headers(h, devauth):
    b = H.Browser(h, devauth)
    b.login("/php/whoami.php", username="ALLOC_POM")
    r = b.get("/php/whoami.php", headers={"X-Nomis-User": "EVIL", "X-Nomis-Roles": "ALLOC_MGR",
                                          "X-Nomis-Anything": "x"})
    env = r.json()
    assert env["REMOTE_USER"] == "ALLOC_POM"
    assert env["HTTP_X_NOMIS_USER"] == "ALLOC_POM" and env["NOMIS_SSO_ROLES"] == "ALLOC_CASE_MGR"
    assert env["HTTP_X_NOMIS_ROLES"] == "ALLOC_CASE_MGR" and "HTTP_X_NOMIS_ANYTHING" not in env
    # and without a session PHP is never reached
    r = requests.get(h.url("/php/whoami.php"), headers={"X-Nomis-User": "EVIL"},
                     allow_redirects=False, timeout=10)
    assert r.status_code == 302


def test_php_role_and_access_token(h, devauth):
    pom = H.Browser(h, devauth)
    pom.login("/php/whoami.php", username="ALLOC_POM")
    r = pom.get("/php/manager/whoami.php")
    assert r.status_code == 403, h.explain(r)
    spo = H.Browser(h, devauth)
    spo.login("/php/whoami.php", username="ALLOC_SPO")
    r = spo.get("/php/manager/whoami.php")
    assert r.status_code == 200, h.explain(r)
    env = r.json()
    token = env.get("NOMIS_SSO_ACCESS_TOKEN")
    assert token and token.count(".") == 2, env
    assert env["header_Authorization"] == "Bearer " + token, env
    # the token is a real one: HMPPS Auth's /api/user/me answers for it
    me = requests.get(devauth.auth_url + "/api/user/me",
                      headers={"Authorization": "Bearer " + token}, timeout=10).json()
    assert me["username"] == "ALLOC_SPO", me
