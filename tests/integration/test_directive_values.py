"""`httpd -t` with the module, directive by directive, as docs/directives.md
describes them: every whole-number directive takes exactly the bounds the
doc gives; every path and URL directive checks its value with the two
shared validators (a local path; an absolute http(s) URL without user name,
space, control character or '\\'); enumerations keep their case rules.
The doc is read, so a bound changed in the code but not the doc fails here
as well as in tests/unit/test_directives."""

import os
import re

import pytest

import harness as H

AUTH_URL = "http://127.0.0.1:9/auth"  # never contacted by -t
DOC = os.path.join(os.environ.get("NSSO_SRCDIR", os.path.join(os.path.dirname(__file__),
                                                              "..", "..")),
                   "docs", "directives.md")


def int_directives():
    """(name, low, high, main server only) of each whole-number directive the doc lists."""
    text = open(DOC, encoding="utf-8").read()
    out = []
    for m in re.finditer(r"^### (NomisSSO\w+)\n`\1 <(?:seconds|n|bytes)>` — (.*?)(?:\n\n)",
                         text, re.M | re.S):
        para = m.group(2).replace("\n", " ")
        b = re.search(r"(\d+) to (\d+)", para)
        assert b, "no bounds for %s in the doc" % m.group(1)
        out.append((m.group(1), int(b.group(1)), int(b.group(2)),
                    "main server only" in para))
    return out


INTS = int_directives()


@pytest.fixture
def made():
    hs = []
    yield hs
    for h in hs:
        h.cleanup()


def config_test(made, lines, extra=""):
    h = H.Httpd(nsso_conf=H.nsso_directives(AUTH_URL, extra=lines), extra=extra)
    made.append(h)
    return h.config_test()


def accepted(made, line, extra=""):
    rc, out = config_test(made, line, extra)
    assert rc == 0 and "Syntax OK" in out, "%r refused:\n%s" % (line, out)


def refused(made, line, name=None):
    rc, out = config_test(made, line)
    name = name or line.split()[0]
    assert rc != 0, "%r accepted:\n%s" % (line, out)
    assert name in out, "%r not named in:\n%s" % (name, out)


def test_doc_lists_the_whole_number_directives():
    names = [n for n, _, _, _ in INTS]
    assert "NomisSSOClockSkew" in names and "NomisSSOSessionCacheEntrySize" in names
    assert len(names) >= 11, names


@pytest.mark.parametrize("name,low,high,main_only", INTS, ids=[i[0] for i in INTS])
def test_whole_number_bounds(made, name, low, high, main_only):
    # globals go outside the generated block (it is in the main server too)
    accepted(made, "%s %d\n%s %d" % (name, low, name, high))
    for bad in (low - 1, high + 1):
        refused(made, "%s %d" % (name, bad), name)
    refused(made, "%s 12abc" % name, name)


LOCAL_PATH_DIRECTIVES = ["NomisSSOLogoutURI", "NomisSSOInfoURI", "NomisSSOPasswordFormURI",
                         "NomisSSOAuthSignOutPath", "NomisSSORedirectURI"]


@pytest.mark.parametrize("name", LOCAL_PATH_DIRECTIVES)
@pytest.mark.parametrize("value", ["//evil.example/x", "/\\evil.example/x", "/x?y=1",
                                   "/x#y", "x/y"])
def test_local_path_refused(made, name, value):
    # NomisSSOInfoURI accepted "/\\host" and "/x#y" before the shared check
    refused(made, "%s %s" % (name, value), name)


@pytest.mark.parametrize("name", LOCAL_PATH_DIRECTIVES)
def test_local_path_accepted(made, name):
    accepted(made, "%s /nomis-sso/some-path" % name)


URL_DIRECTIVES = ["NomisSSOAuthURL", "NomisSSOAuthInternalURL", "NomisSSOTokenVerificationURL",
                  "NomisSSOCaseloadURL", "NomisSSORedirectURI", "NomisSSOPostLogoutURL",
                  "NomisSSOUnauthzAction"]


@pytest.mark.parametrize("name", URL_DIRECTIVES)
@pytest.mark.parametrize("value", ["https://user@127.0.0.1/auth",
                                   "https://user:pw@127.0.0.1/auth",
                                   "https://127.0.0.1\\@evil.example/auth",
                                   "ftp://127.0.0.1/auth", "https:evil.example/auth",
                                   "https:///auth"])
def test_url_refused(made, name, value):
    # user names and '\' were accepted by five of these before the shared check
    refused(made, "%s %s" % (name, value), name)


@pytest.mark.parametrize("name", URL_DIRECTIVES)
def test_url_accepted(made, name):
    accepted(made, "%s HTTPS://auth.example:8443/auth/x" % name)


@pytest.mark.parametrize("line", ["NomisSSOUnauthzAction /denied?why=role",
                                  "NomisSSOPostLogoutURL https://site.example/bye?x=1#top",
                                  "NomisSSOCaseloadURL none"])
def test_redirect_targets_keep_queries(made, line):
    accepted(made, line)


@pytest.mark.parametrize("line", ["NomisSSOAuthURL https://auth.example/auth?x=1",
                                  "NomisSSORedirectURI https://site.example/cb#x",
                                  "NomisSSORedirectURI https://site.example"])
def test_base_urls_refuse_query_and_need_path(made, line):
    refused(made, line)


def test_enumerations(made):
    accepted(made, "NomisSSOPass NONE\nNomisSSOCookieSameSite strict\n"
                   "NomisSSOUnauthAction PASS\nNomisSSOTokenVerificationFailure Fail-Closed\n"
                   "NomisSSOGrantType password\nNomisSSOSSLVerify off")
    refused(made, "NomisSSOGrantType Password")  # grant types are case-sensitive
    refused(made, "NomisSSOPass sometimes")
