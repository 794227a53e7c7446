#!/usr/bin/python3
"""The demo's protected page: a stand-in "allocation manager" that shows
what mod_nomis_sso handed it (REMOTE_USER and the NOMIS_SSO_* variables)."""
import html
import os
import time


def row(label, value):
    return "<tr><th>%s</th><td id=\"%s\">%s</td></tr>" % (
        html.escape(label), html.escape(label.lower().replace(" ", "-")),
        html.escape(value or "-"))


env = os.environ
roles = [r for r in env.get("NOMIS_SSO_ROLES", "").split(",") if r]
expires = env.get("NOMIS_SSO_EXPIRES", "")
if expires.isdigit():
    expires = time.strftime("%H:%M:%S UTC", time.gmtime(int(expires)))
can_allocate = "ALLOC_MGR" in roles
print("Content-Type: text/html; charset=utf-8")
print("Cache-Control: no-store")
print()
print("""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Allocation manager (demo)</title></head><body>
<h1>Allocation manager <small>(mod_nomis_sso demo)</small></h1>
<p id="welcome">Signed in as <strong>%s</strong> (%s).</p>
<table>%s%s%s%s%s%s</table>
<h2>Roles</h2><ul id="roles">%s</ul>
<p>%s</p>
<p><a id="sign-out" href="/nomis-sso/logout">Sign out</a></p>
</body></html>""" % (
    html.escape(env.get("NOMIS_SSO_NAME", "")), html.escape(env.get("REMOTE_USER", "")),
    row("REMOTE_USER", env.get("REMOTE_USER")),
    row("AUTH_TYPE", env.get("AUTH_TYPE")),
    row("Auth source", env.get("NOMIS_SSO_AUTH_SOURCE")),
    row("User id", env.get("NOMIS_SSO_USER_ID")),
    row("Name", env.get("NOMIS_SSO_NAME")),
    row("Token expires", expires),
    "".join("<li>%s</li>" % html.escape(r) for r in roles) or "<li>(none)</li>",
    "You may allocate Prison Offender Managers." if can_allocate
    else "You can view allocations but not make them."))
