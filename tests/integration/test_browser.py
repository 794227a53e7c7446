"""A real browser, Debian's chromium driven by chromedriver: one sign-in, and
sign-out by what the browser itself says in Sec-Fetch-Site (an <img> on
another origin of the same site must not sign out; the service's own link
must)."""

import os
import shutil
import tempfile

import pytest

import harness as H

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture
def chrome():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip("%s is not installed" % path)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="nsso-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--user-data-dir=" + profile):
        opts.add_argument(arg)
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def sign_in(chrome, site, devauth, path):
    """Sign in as ALLOC_SPO through devauth's form: the env.cgi page's body."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(chrome, 20)
    chrome.get(site.url(path))
    wait.until(EC.presence_of_element_located((By.ID, "username")))
    assert chrome.current_url.startswith(devauth.auth_url + "/oauth/authorize?"), \
        chrome.current_url
    chrome.find_element(By.ID, "username").send_keys("ALLOC_SPO")
    chrome.find_element(By.ID, "password").send_keys(H.PASSWORD)
    chrome.find_element(By.ID, "submit").click()

    def page_shows_env(driver):
        # the page is replaced several times (devauth -> callback -> env.cgi):
        # an element found on one page may be gone when it is read
        try:
            return "REMOTE_USER=" in driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException:
            return False

    wait.until(page_shows_env)
    return chrome.find_element(By.TAG_NAME, "body").text


def test_sign_in_with_chromium(chrome, site, devauth):
    from selenium.webdriver.common.by import By

    body = sign_in(chrome, site, devauth, "/protected/env?from=browser")
    env = H.cgi_env(body)
    assert env.get("REMOTE_USER") == "ALLOC_SPO", body + "\n" + site.log_tail()
    assert env.get("AUTH_TYPE") == "nomis-sso"
    assert env.get("QUERY_STRING") == "from=browser"
    assert chrome.current_url == site.url("/protected/env?from=browser")
    # the browser kept the session cookie (HttpOnly: not visible to scripts)
    names = {c["name"]: c for c in chrome.get_cookies()}
    assert names[H.COOKIE]["httpOnly"] is True
    assert chrome.execute_script("return document.cookie").find(H.COOKIE) == -1
    # and a second visit needs no sign-in
    chrome.get(site.url("/protected/page.html"))
    assert "protected page" in chrome.find_element(By.TAG_NAME, "body").text


def test_sign_out_by_sec_fetch_site_with_chromium(chrome, site, devauth):
    """An <img> of the sign-out URL on another origin of the same site (devauth
    on another port of 127.0.0.1: Chromium sends Sec-Fetch-Site: same-site, and
    the Lax session cookie with it) ends nothing; a click on a link on the
    service's own page (same-origin) signs out at once."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(chrome, site, devauth, "/protected/env")
    mark = site.log_mark()
    chrome.get(devauth.base + "/auth/.well-known/jwks.json")
    loaded = chrome.execute_async_script(
        "var done = arguments[arguments.length - 1], img = new Image();"
        "img.onload = function () { done('load'); };"
        "img.onerror = function () { done('error'); };"
        "img.src = arguments[0];", site.url("/nomis-sso/logout"))
    assert loaded == "error", loaded   # the confirmation page is no image
    assert "signed out" not in site.log_since(mark), site.log_since(mark)
    chrome.get(site.url("/protected/page.html"))
    assert "protected page" in chrome.find_element(By.TAG_NAME, "body").text, \
        "an <img> on a same-site origin signed the user out\n" + site.log_tail()
    # the service's own link: same-origin, signed out at once, via HMPPS Auth
    chrome.execute_script(
        "var a = document.createElement('a'); a.href = '/nomis-sso/logout';"
        "document.body.appendChild(a); a.click();")
    WebDriverWait(chrome, 20).until(lambda d: d.current_url == site.url("/"))
    assert "signed out session" in site.log_since(mark), site.log_tail()
    chrome.get(site.url("/protected/page.html"))
    assert chrome.current_url.startswith(devauth.auth_url + "/"), chrome.current_url


ARTIFACTS = os.path.join(H.HERE, "artifacts")


def test_denial_page_with_chromium(chrome, httpd_factory, devauth):
    """The module's own 403 page as a browser shows it (screenshot kept in
    tests/integration/artifacts/): the HMPPS look (its inline style applies
    under the page's CSP), the roles in words, the two sign-out links and the
    request id; "Sign in as someone else" signs out and comes back to the
    page through HMPPS Auth's sign-in form."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    h = httpd_factory(start=False)
    h.params["extra"] = ('ScriptAliasMatch "^/authz/" "%s/cgi-bin/env.cgi"\n'
                         "<Location /authz/>\n    AuthType nomis-sso\n"
                         "    Require nomis-role ROLE_ALLOCATION_MANAGER_ADMIN POM\n"
                         "</Location>\n" % h.dir)
    h.write_conf()
    h.start()
    sign_in(chrome, h, devauth, "/protected/env")
    chrome.get(h.url("/authz/caseload?x=1"))
    os.makedirs(ARTIFACTS, exist_ok=True)
    chrome.save_screenshot(os.path.join(ARTIFACTS, "denied-403.png"))
    body = chrome.find_element(By.TAG_NAME, "body").text
    assert chrome.title == "Access denied", chrome.title
    assert "You do not have access to this page" in body, body
    assert "needs one of these roles: Allocation manager admin, Pom." in body, body
    assert "Require" not in body and "ROLE_" not in body
    assert "HM Prison and Probation Service" in body
    ref = chrome.find_element(By.CSS_SELECTOR, "#nsso-ref strong").text
    assert ref and ("request id %s" % ref) in h.log_since(0), h.log_tail()
    header = chrome.find_element(By.CSS_SELECTOR, "header.nsso-header")
    assert header.value_of_css_property("background-color") in (
        "rgba(11, 12, 12, 1)", "rgb(11, 12, 12)"), "the page's style did not apply"
    sign_out = chrome.find_element(By.ID, "nsso-sign-out")
    assert sign_out.text == "Sign out"
    assert sign_out.get_attribute("href") == h.url("/nomis-sso/logout")
    other = chrome.find_element(By.ID, "nsso-switch-user")
    assert other.text == "Sign in as someone else"
    other.click()
    # signed out here and at HMPPS Auth, then back to the page: its sign-in form
    WebDriverWait(chrome, 20).until(EC.presence_of_element_located((By.ID, "username")))
    assert chrome.current_url.startswith(devauth.auth_url + "/oauth/authorize?"), \
        chrome.current_url
    assert "signed out session" in h.log_since(0), h.log_tail()
