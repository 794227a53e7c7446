"""The module's own pages are usable by every member of staff: sign-in failed,
sign-in cancelled, sign-in service unavailable, access denied, the session
store unavailable, the sign-out confirmation, sign-out not confirmed, a
sign-out address refused and the password-fallback form (and its error
state), each
reached in headless Chromium the way a person reaches it, then

* checked with axe-core (from npm, into a cache directory: NSSO_AXE_DIR,
  default ~/.cache/mod_nomis_sso/axe) at WCAG 2.2 AA: no violations;
* laid out at 320 CSS px wide (400 % zoom of a 1280 px window): no
  horizontal scrolling;
* screenshotted at both widths into tests/integration/artifacts/;

and the forms are filled and submitted with the keyboard alone (Tab, typing,
Enter) in a Chromium with JavaScript turned off: nothing needs scripts.
The demo's allocation manager (tools/demo) is held to the same checks.

The module writes no "signed out" page of its own: sign-out ends at HMPPS
Auth's sign-out and then the service's NomisSSOPostLogoutURL."""

import os
import re
import subprocess
import urllib.parse

import pytest

import harness as H

AXE_VERSION = "4.10.3"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
ARTIFACTS = os.path.join(H.HERE, "artifacts")

DENIED_CONF = """
Alias /manager/ "{dir}/htdocs/protected/"
Alias /store-down/ "{dir}/htdocs/protected/"
<Location /manager/>
    AuthType nomis-sso
    Require nomis-role ALLOC_MGR
</Location>
"""


def axe_source():
    """axe.min.js, installed with npm into the cache directory once."""
    d = os.environ.get("NSSO_AXE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "mod_nomis_sso", "axe")
    path = os.path.join(d, "node_modules", "axe-core", "axe.min.js")
    if not os.path.exists(path):
        os.makedirs(d, exist_ok=True)
        p = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-save",
                            "--prefix", d, "axe-core@" + AXE_VERSION],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=300)
        assert p.returncode == 0 and os.path.exists(path), "npm install axe-core: " + p.stdout
    with open(path, encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def axe():
    return axe_source()


def _driver(javascript):
    if not H.chromium_available():
        pytest.skip("chromium/chromedriver not installed")
    return H.chromium(javascript=javascript, width=1280, height=900)


@pytest.fixture
def chrome():
    driver, cleanup = _driver(True)
    yield driver
    cleanup()


@pytest.fixture
def nojs():
    driver, cleanup = _driver(False)
    try:
        # scripts really are off for pages
        driver.get("data:text/html," + urllib.parse.quote(
            '<p id="x">off</p><script>document.getElementById("x").textContent="on"</script>'))
        from selenium.webdriver.common.by import By
        assert driver.find_element(By.ID, "x").text == "off"
        yield driver
    finally:
        cleanup()


# a same-origin page whose sign-out form carries a wrong token (a forged one)
FORGED_SIGN_OUT = """<!DOCTYPE html><html lang="en"><head><title>forged</title></head>
<body><main><h1>forged</h1><form method="post" action="/nomis-sso/logout">
<input type="hidden" name="token" value="forged">
<button id="forged" type="submit">Sign out</button></form></main></body></html>
"""


def _pages_site(h):
    H.write_file(os.path.join(h.dir, "htdocs", "forged-sign-out.html"), FORGED_SIGN_OUT)
    return DENIED_CONF.format(dir=h.dir)


@pytest.fixture(scope="module")
def pages_httpd(module_httpd_factory):
    return module_httpd_factory(extra=_pages_site)


@pytest.fixture(scope="module")
def password_httpd(module_httpd_factory):
    return module_httpd_factory(nsso_extra="NomisSSOGrantType password\n"
                                           "NomisSSOPasswordAllowHTTP On")


@pytest.fixture
def site(pages_httpd, devauth, request):
    from conftest import serving
    return serving(request, pages_httpd)


@pytest.fixture
def pw_site(password_httpd, devauth, request):
    from conftest import serving
    return serving(request, password_httpd)


# ---------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------
def run_axe(driver, axe):
    driver.execute_script(axe)
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(function (r) { done({violations: r.violations.map(function (v) {"
        "  return {id: v.id, impact: v.impact, help: v.help,"
        "          nodes: v.nodes.map(function (n) { return n.html; })}; }),"
        "  passes: r.passes.length}); })"
        ".catch(function (e) { done({error: String(e)}); });", AXE_TAGS)
    assert "error" not in result, result
    return result


def screenshot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, "a11y-%s.png" % name))


def check_page(driver, axe, name, heading):
    """axe at WCAG 2.2 AA, the page's parts, and no horizontal scrolling at
    320 CSS px (400 % zoom)."""
    from selenium.webdriver.common.by import By
    assert driver.find_element(By.TAG_NAME, "h1").text == heading, driver.page_source
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert driver.find_elements(By.TAG_NAME, "main"), "no main landmark"
    screenshot(driver, name)
    result = run_axe(driver, axe)
    assert result["violations"] == [], "%s: %s" % (name, result["violations"])
    assert result["passes"] > 5, result  # axe really ran on the page
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 320, "height": 640, "deviceScaleFactor": 1, "mobile": False})
    try:
        widths = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth,"
            " window.innerWidth]")
        screenshot(driver, name + "-320px")
        assert widths[2] == 320, widths
        assert widths[0] <= widths[1], "%s scrolls sideways at 320 px: %s" % (name, widths)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def wait_for(driver, cond, timeout=20):
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def safe(d):
        try:
            return cond(d)
        except WebDriverException:
            return False
    return WebDriverWait(driver, timeout).until(safe)


def h1_is(text):
    from selenium.webdriver.common.by import By
    return lambda d: d.find_element(By.TAG_NAME, "h1").text == text


def devauth_sign_in(driver, devauth, site, path, user):
    """Through devauth's form (its page is not the module's)."""
    from selenium.webdriver.common.by import By
    driver.get(site.url(path))
    wait_for(driver, lambda d: d.find_element(By.ID, "username"))
    driver.find_element(By.ID, "username").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(H.PASSWORD)
    driver.find_element(By.ID, "submit").click()


def keys(driver, *seq):
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(driver).send_keys(*seq).perform()


def focused_id(driver):
    return driver.switch_to.active_element.get_attribute("id")


# ---------------------------------------------------------------------------
# the pages
# ---------------------------------------------------------------------------
def test_sign_in_failed_page(chrome, axe, site):
    chrome.get(site.url("/nomis-sso/callback?code=x&state=forged"))
    wait_for(chrome, h1_is("Sign-in could not be completed"))
    check_page(chrome, axe, "sign-in-failed", "Sign-in could not be completed")


def test_sign_in_cancelled_page(chrome, axe, site, devauth):
    from selenium.webdriver.common.by import By
    chrome.get(site.url("/protected/env"))
    wait_for(chrome, lambda d: d.find_element(By.ID, "deny"))
    chrome.find_element(By.ID, "deny").click()
    wait_for(chrome, h1_is("Sign-in cancelled"))
    check_page(chrome, axe, "sign-in-cancelled", "Sign-in cancelled")


def test_service_unavailable_page(chrome, axe, site, devauth):
    devauth.fault("token", "500", count=1)
    devauth_sign_in(chrome, devauth, site, "/protected/env", "ALLOC_SPO")
    wait_for(chrome, h1_is("Sign-in service unavailable"))
    check_page(chrome, axe, "service-unavailable", "Sign-in service unavailable")


def test_access_denied_page(chrome, axe, site, devauth):
    devauth_sign_in(chrome, devauth, site, "/manager/page.html", "NO_ROLES_USER")
    wait_for(chrome, h1_is("You do not have access to this page"))
    check_page(chrome, axe, "access-denied", "You do not have access to this page")


def test_password_form_and_its_error(chrome, axe, pw_site):
    from selenium.webdriver.common.by import By
    chrome.get(pw_site.url("/protected/env"))
    wait_for(chrome, h1_is("Sign in with your NOMIS account"))
    check_page(chrome, axe, "password-form", "Sign in with your NOMIS account")
    chrome.find_element(By.ID, "username").send_keys("ALLOC_SPO")
    chrome.find_element(By.ID, "password").send_keys("wrong-password")
    chrome.find_element(By.ID, "submit").click()
    wait_for(chrome, lambda d: d.find_element(By.ID, "error"))
    check_page(chrome, axe, "password-form-error", "Sign in with your NOMIS account")


def test_logout_confirmation_page(chrome, axe, site, devauth):
    from selenium.webdriver.common.by import By
    devauth_sign_in(chrome, devauth, site, "/protected/page.html", "ALLOC_SPO")
    wait_for(chrome, lambda d: d.find_element(By.ID, "secret"))
    # a link on another site: the module asks before signing out
    chrome.get("data:text/html," + urllib.parse.quote(
        '<a id="go" href="%s">sign out</a>' % site.url("/nomis-sso/logout")))
    chrome.find_element(By.ID, "go").click()
    wait_for(chrome, h1_is("Sign out?"))
    check_page(chrome, axe, "logout-confirmation", "Sign out?")


def test_sign_out_not_confirmed_page(chrome, axe, site, devauth):
    from selenium.webdriver.common.by import By
    devauth_sign_in(chrome, devauth, site, "/protected/page.html", "ALLOC_SPO")
    wait_for(chrome, lambda d: d.find_element(By.ID, "secret"))
    chrome.get(site.url("/forged-sign-out.html"))
    chrome.find_element(By.ID, "forged").click()
    wait_for(chrome, h1_is("Sign-out not confirmed"))
    check_page(chrome, axe, "sign-out-not-confirmed", "Sign-out not confirmed")


def test_sign_out_address_refused_page(chrome, axe, site):
    chrome.get(site.url("/nomis-sso/logout?return=https://elsewhere.example/"))
    wait_for(chrome, h1_is("Sign-out address refused"))
    check_page(chrome, axe, "sign-out-address-refused", "Sign-out address refused")


def test_store_down_page(chrome, axe, httpd_factory, devauth):
    """The session store (redis, through socache) gone after sign-in: 503."""
    import test_shared_store as SS
    from selenium.webdriver.common.by import By
    SS._need(SS.REDIS, "redis")
    engine = SS.Engine("redis").start()
    try:
        load = "LoadModule socache_redis_module %s/mod_socache_redis.so\nRedisTimeout 2\n" \
            % H.MODDIR
        h = httpd_factory(nsso_conf=load + H.nsso_directives(
            devauth.auth_url, extra="NomisSSOSessionStore socache:redis:127.0.0.1:%d"
            % engine.port))
        devauth_sign_in(chrome, devauth, h, "/protected/page.html", "ALLOC_SPO")
        wait_for(chrome, lambda d: d.find_element(By.ID, "secret"))
        engine.stop()
        chrome.get(h.url("/protected/page.html"))
        wait_for(chrome, h1_is("Service temporarily unavailable"))
        check_page(chrome, axe, "service-temporarily-unavailable",
                   "Service temporarily unavailable")
    finally:
        engine.stop()


# ---------------------------------------------------------------------------
# keyboard alone, JavaScript off
# ---------------------------------------------------------------------------
def test_password_form_by_keyboard_without_javascript(nojs, pw_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    nojs.get(pw_site.url("/protected/env?kbd=1"))
    wait_for(nojs, h1_is("Sign in with your NOMIS account"))
    # the first Tab stops: no link before the form (no skip link needed)
    keys(nojs, Keys.TAB)
    assert focused_id(nojs) == "username"
    keys(nojs, "ALLOC_POM", Keys.TAB)
    assert focused_id(nojs) == "password"
    keys(nojs, H.PASSWORD, Keys.TAB)
    assert focused_id(nojs) == "submit"
    from selenium.webdriver.common.action_chains import ActionChains
    ActionChains(nojs).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert focused_id(nojs) == "password"
    keys(nojs, Keys.ENTER)  # Enter in a field submits the form
    wait_for(nojs, lambda d: "REMOTE_USER=" in d.find_element(By.TAG_NAME, "body").text)
    env = H.cgi_env(nojs.find_element(By.TAG_NAME, "body").text)
    assert env["REMOTE_USER"] == "ALLOC_POM" and env["QUERY_STRING"] == "kbd=1", env
    screenshot(nojs, "password-form-signed-in-by-keyboard")


def test_sign_out_confirmation_by_keyboard_without_javascript(nojs, site, devauth):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    devauth_sign_in(nojs, devauth, site, "/protected/page.html", "ALLOC_SPO")
    wait_for(nojs, lambda d: d.find_element(By.ID, "secret"))
    nojs.get("data:text/html," + urllib.parse.quote(
        '<a id="go" href="%s">sign out</a>' % site.url("/nomis-sso/logout")))
    keys(nojs, Keys.TAB)
    assert focused_id(nojs) == "go"
    keys(nojs, Keys.ENTER)
    wait_for(nojs, h1_is("Sign out?"))
    keys(nojs, Keys.TAB)
    assert focused_id(nojs) == "sign-out"
    # the focused control is visibly marked (outline or box shadow)
    style = nojs.switch_to.active_element.value_of_css_property("outline-style")
    shadow = nojs.switch_to.active_element.value_of_css_property("box-shadow")
    assert style not in ("none", "") or shadow not in ("none", ""), (style, shadow)
    assert nojs.switch_to.active_element.value_of_css_property("background-color") in (
        "rgba(255, 221, 0, 1)", "rgb(255, 221, 0)"), "no yellow focus marker"
    screenshot(nojs, "logout-confirmation-button-focused")
    keys(nojs, Keys.ENTER)
    # through HMPPS Auth's sign-out and back to the service's home page
    wait_for(nojs, lambda d: d.current_url == site.url("/"))
    assert H.COOKIE not in {c["name"] for c in nojs.get_cookies()}
    nojs.get(site.url("/protected/page.html"))
    wait_for(nojs, lambda d: d.find_element(By.ID, "username"))
    assert re.match(re.escape(devauth.auth_url) + "/oauth/authorize", nojs.current_url)


# ---------------------------------------------------------------------------
# the demo's application (tools/demo), which staff would see behind the module
# ---------------------------------------------------------------------------
import test_demo  # noqa: E402

demo = test_demo.demo  # the fixture: tools/demo running on ports of its own


def test_demo_application_pages(chrome, axe, demo):
    from selenium.webdriver.common.by import By
    site, auth = demo["site"], demo["auth"]
    devauth_sign_in(chrome, auth, site, "/allocations/", "ALLOC_SPO")
    wait_for(chrome, h1_is("Your allocations"))
    check_page(chrome, axe, "demo-your-allocations", "Your allocations")
    chrome.find_element(By.ID, "menu-allocate").click()
    wait_for(chrome, h1_is("Allocate a POM"))
    check_page(chrome, axe, "demo-allocate", "Allocate a POM")
