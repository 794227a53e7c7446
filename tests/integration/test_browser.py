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
