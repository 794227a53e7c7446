"""One sign-in in a real browser: Debian's chromium driven by chromedriver."""

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


def test_sign_in_with_chromium(chrome, site, devauth):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(chrome, 20)
    chrome.get(site.url("/protected/env?from=browser"))
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
    body = chrome.find_element(By.TAG_NAME, "body").text
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
