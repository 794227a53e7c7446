"""`httpd -t` with the module: bad configurations are refused at start-up, and
the message names the directive to fix; and directives that may not appear
everywhere (.htaccess) are refused there."""

import pytest

import harness as H

AUTH_URL = "http://127.0.0.1:9/auth"  # never contacted by -t
UNSET = "NSSO_IT_SURELY_UNSET_VARIABLE"


def config(tmp_nsso=None, extra="", env=None, **kw):
    """An Httpd (not started) whose NomisSSO block is built from kw;
    tmp_nsso replaces the whole block."""
    nsso = tmp_nsso if tmp_nsso is not None else H.nsso_directives(
        kw.pop("auth_url", AUTH_URL), **kw)
    return H.Httpd(nsso_conf=nsso, extra=extra, env=env)


@pytest.fixture
def made():
    hs = []
    yield hs
    for h in hs:
        h.cleanup()


def check(made, h, ok, *words):
    made.append(h)
    assert UNSET not in h.env
    rc, out = h.config_test()
    if ok:
        assert rc == 0, "config test failed (%d):\n%s\n---- conf ----\n%s" % (
            rc, out, open(h.conf_path).read())
        assert "Syntax OK" in out
    else:
        assert rc != 0, "bad config accepted:\n%s\n---- conf ----\n%s" % (
            out, open(h.conf_path).read())
        for w in words:
            assert w in out, "%r not named in:\n%s" % (w, out)
    return out


def test_good_config_passes(made):
    check(made, config(), True)


def test_good_config_with_globals_and_options_passes(made):
    h = config(extra="NomisSSOSessionCacheEntries 512\nNomisSSOSessionCacheEntrySize 16384\n",
               timeout=5, refetch=30)
    h.params["nsso_conf"] += ("NomisSSOClockSkew 60\nNomisSSOCookieSameSite Strict\n"
                              "NomisSSOTokenAlgorithms RS256 PS256\n"
                              "NomisSSOStateCookieLimit 3\n")
    h.write_conf()
    check(made, h, True)


def test_secret_env_and_file_forms_pass(made):
    h = config(env={"NSSO_IT_SECRET": "clientsecret"}, secret="env:NSSO_IT_SECRET",
               passphrase="file:PASSFILE")
    pf = h.write_extra_file("passphrase", H.PASSPHRASE + "\n", 0o600)
    h.params["nsso_conf"] = h.params["nsso_conf"].replace("PASSFILE", pf)
    h.write_conf()
    check(made, h, True)


def test_authtype_without_auth_url(made):
    check(made, config(tmp_nsso=""), False, "NomisSSOAuthURL")


def test_missing_client_id(made):
    check(made, config(client_id=None), False, "NomisSSOClientID")


def test_missing_client_secret(made):
    check(made, config(secret=None), False, "NomisSSOClientSecret")


def test_missing_passphrase(made):
    check(made, config(passphrase=None), False, "NomisSSOCryptoPassphrase")


def test_short_passphrase(made):
    out = check(made, config(passphrase="x" * 31), False, "NomisSSOCryptoPassphrase",
                "32 characters", "openssl rand -base64 32")
    assert "x" * 31 not in out  # the secret itself is never echoed
    check(made, config(passphrase="x" * 32), True)


def test_short_passphrase_from_file(made):
    h = config(passphrase="file:PASSFILE")
    pf = h.write_extra_file("passphrase", "only-twenty-six-characters\n", 0o600)
    h.params["nsso_conf"] = h.params["nsso_conf"].replace("PASSFILE", pf)
    h.write_conf()
    check(made, h, False, "NomisSSOCryptoPassphrase", "openssl rand -base64 32")


def test_short_second_passphrase(made):
    check(made, config(passphrase=H.PASSPHRASE + " short"), False, "NomisSSOCryptoPassphrase")


@pytest.mark.parametrize("url", ["not-a-url", "/auth", "ftp://127.0.0.1/auth",
                                 "http://127.0.0.1/auth?x=1"])
def test_auth_url_not_a_url(made, url):
    check(made, config(auth_url=url), False, "NomisSSOAuthURL")


@pytest.mark.parametrize("value", ["abc", "-1", "99999", "10s"])
def test_clock_skew_not_a_number(made, value):
    h = config()
    h.params["nsso_conf"] += "NomisSSOClockSkew %s\n" % value
    h.write_conf()
    check(made, h, False, "NomisSSOClockSkew")


def test_client_secret_env_unset(made):
    check(made, config(secret="env:" + UNSET), False, "NomisSSOClientSecret")


def test_client_secret_file_missing(made):
    check(made, config(secret="file:/nonexistent/nomis-sso/secret"), False,
          "NomisSSOClientSecret")


def test_passphrase_env_unset(made):
    check(made, config(passphrase="env:" + UNSET), False, "NomisSSOCryptoPassphrase")


def test_samesite_sometimes(made):
    h = config()
    h.params["nsso_conf"] += "NomisSSOCookieSameSite Sometimes\n"
    h.write_conf()
    check(made, h, False, "NomisSSOCookieSameSite")


@pytest.mark.parametrize("alg", ["HS256", "none", "ES256"])
def test_token_algorithms_refused(made, alg):
    h = config()
    h.params["nsso_conf"] += "NomisSSOTokenAlgorithms RS256 %s\n" % alg
    h.write_conf()
    check(made, h, False, "NomisSSOTokenAlgorithms")


@pytest.mark.parametrize("directive", ["NomisSSOSessionCacheEntries 100",
                                       "NomisSSOSessionCacheEntrySize 4096"])
def test_cache_size_inside_virtualhost(made, directive):
    h = config()
    h.params["extra"] = ("<VirtualHost 127.0.0.1:%d>\n    ServerName vhost.test\n"
                         "    %s\n</VirtualHost>\n" % (h.port, directive))
    h.write_conf()
    check(made, h, False, directive.split()[0])


def test_cache_entries_out_of_range(made):
    check(made, config(extra="NomisSSOSessionCacheEntries 0\n"), False,
          "NomisSSOSessionCacheEntries")


def test_vhost_using_authtype_without_config(made):
    h = config()
    h.params["extra"] = (
        "<VirtualHost 127.0.0.1:%d>\n    ServerName other.test\n"
        "    NomisSSOAuthURL http://127.0.0.1:9/auth\n"
        "    NomisSSOClientID other-service\n"
        "    NomisSSOClientSecret othersecret\n"
        "    <Location /x>\n        AuthType nomis-sso\n        Require valid-user\n"
        "    </Location>\n</VirtualHost>\n" % h.port)
    h.write_conf()
    # the vhost inherits the main server's passphrase: fine
    check(made, h, True)


def test_secret_file_read_at_startup(made):
    h = config(secret="file:SECRETFILE")
    sf = h.write_extra_file("secret", "", 0o600)  # empty file
    h.params["nsso_conf"] = h.params["nsso_conf"].replace("SECRETFILE", sf)
    h.write_conf()
    check(made, h, False, "NomisSSOClientSecret")
    with open(sf, "w") as f:
        f.write("clientsecret\n")
    rc, out = h.config_test()
    assert rc == 0, out


# ---------------------------------------------------------------------------
# where NomisSSOPassAccessToken may appear: httpd.conf, never .htaccess
# ---------------------------------------------------------------------------
def test_pass_access_token_not_from_htaccess(httpd_factory, devauth):
    import os
    h = httpd_factory(start=False)
    owner = os.path.join(h.dir, "htdocs", "owner")
    os.mkdir(owner)
    os.chmod(owner, 0o755)
    H.write_file(os.path.join(owner, "index.html"), "<p>owner</p>\n")
    H.write_file(os.path.join(owner, ".htaccess"), "NomisSSOPassAccessToken On\n")
    h.params["extra"] = ('<Directory "%s">\n    AllowOverride All\n</Directory>\n'
                         '<Directory "%s/cgi-bin">\n    NomisSSOPassAccessToken On\n'
                         '</Directory>\n' % (owner, h.dir))
    h.write_conf()
    h.start()
    mark = h.log_mark()
    r = H.Browser(h, devauth).get("/owner/index.html")
    assert r.status_code == 500, h.explain(r)
    log = h.log_since(mark)
    assert "NomisSSOPassAccessToken" in log and "not allowed here" in log, log
    # the same directive in a <Directory> of httpd.conf works
    _, page = H.Browser(h, devauth).login("/protected/env")
    assert page.status_code == 200, h.explain(page)
    assert H.cgi_env(page.text).get("NOMIS_SSO_ACCESS_TOKEN", "").startswith("eyJ"), page.text


# ---- the Redis store's directives (checked at configtest, never at the first request) ----

SENTINELS = "redis-sentinel://127.0.0.1:9,127.0.0.1:10#sessions"


@pytest.mark.parametrize("value", ["500ms", "2", "2s", "60s", "10ms"])
def test_store_timeout_accepted(made, value):
    check(made, config(extra="NomisSSOSessionStore redis://127.0.0.1:9\n"
                             "NomisSSOSessionStoreTimeout %s\n" % value), True)


@pytest.mark.parametrize("value", ["0", "5ms", "61s", "2x", "-1", "1hr"])
def test_store_timeout_refused(made, value):
    check(made, config(extra="NomisSSOSessionStore redis://127.0.0.1:9\n"
                             "NomisSSOSessionStoreTimeout %s\n" % value), False,
          "NomisSSOSessionStoreTimeout", "10ms to 60s")


def test_sentinel_store_accepted(made):
    check(made, config(extra="NomisSSOSessionStore %s\nNomisSSOSessionStoreReplicas 1\n"
                             "NomisSSOSessionStoreSentinelPassword env:HOME\n" % SENTINELS),
          True)


@pytest.mark.parametrize("url,words", [
    ("redis-sentinel://127.0.0.1:9", "#MASTER"),
    ("redis-sentinel://127.0.0.1:9,#m", "empty host"),
    ("redis://a:1,b:2", "only a redis[s]-sentinel:// URL"),
    ("redis://h:6379#m", "'#'"),
    ("sentinel://h#m", "redis[s]-sentinel://"),
])
def test_sentinel_store_refused(made, url, words):
    check(made, config(extra="NomisSSOSessionStore %s\n" % url), False,
          "NomisSSOSessionStore", words)


def test_store_companion_defaults_written_out_pass(made):
    """The sample conf's defaults uncommented change nothing: no error."""
    check(made, config(extra="NomisSSOSessionStoreTimeout 2s\nNomisSSOSessionStoreReplicas 0\n"),
          True)


@pytest.mark.parametrize("directive", [
    "NomisSSOSessionStoreTimeout 1s", "NomisSSOSessionStoreReplicas 1",
    "NomisSSOSessionStoreSentinelPassword env:HOME",
])
def test_store_companion_without_its_store_refused(made, directive):
    check(made, config(extra=directive + "\n"), False, directive.split()[0], "applies only")


def test_sentinel_password_with_a_plain_store_refused(made):
    check(made, config(extra="NomisSSOSessionStore redis://127.0.0.1:9\n"
                             "NomisSSOSessionStoreSentinelPassword env:HOME\n"), False,
          "NomisSSOSessionStoreSentinelPassword", "redis-sentinel://")


def test_store_replicas_out_of_range(made):
    check(made, config(extra="NomisSSOSessionStore %s\nNomisSSOSessionStoreReplicas 17\n"
                             % SENTINELS), False, "NomisSSOSessionStoreReplicas", "0 to 16")
