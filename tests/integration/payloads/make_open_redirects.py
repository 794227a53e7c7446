#!/usr/bin/python3
"""Writes open_redirects.txt: open-redirect payloads for test_hostile.py.

Each payload tries to make a "return to" URL leave this site: scheme-relative
prefixes (//, /\\, \\/ ...) and their percent-encoded, double- and triple-
encoded, whitespace-split and Unicode look-alike forms, absolute URLs and
scheme tricks (javascript:, data:, mixed case, split by control characters),
and userinfo '@' tricks that put this site's name in front of another host.

File format (read by test_hostile.load_payloads):
  * one payload per line, UTF-8; lines starting with '#' are comments;
  * escapes: \\t \\n \\r \\0 \\xHH (one byte / code point below 0x100) and
    \\\\ for a backslash, so control characters survive a text file;
  * {HOST} is replaced by "127.0.0.1:<port>" of the httpd under test,
    {HOSTNAME} by "127.0.0.1" and {PORT} by the port.

    /usr/bin/python3 tests/integration/payloads/make_open_redirects.py
"""

import os

EVIL = "evil.example"

# things that a browser (or a decoding front end) may read as "//"
SLASH2 = [
    "//", "///", "////", "/\\", "\\/", "\\\\", "/\\/", "\\//", "/\\\\",
    "/%2F", "/%2f", "%2F%2F", "%2f%2f", "/%5C", "/%5c", "%5C%5C", "%2F/", "%5C/",
    "/%252F", "%252F%252F", "/%255C", "/%25252F", "%25252F%25252F", "/%2525252F",
    "/%%32%46", "/%u002F", "/%C0%AF", "/%E2%81%84", "/%EF%BC%8F",
    "/\t/", "/\n/", "/\r/", "/\r\n/", "\t//", "\n//", " //", "/ /", "/\x0b/", "/\x0c/",
    "/\x00/", "//\t", "//\n", "/%09/", "/%0A/", "/%0D/", "/%0d%0a/", "/%00/", "/%20/",
    "/%2F%09", "/\\\t", "/\t\\",
    "\uff0f\uff0f", "/\uff0f", "\uff0f/", "\u2044\u2044", "/\u2044", "\u2215\u2215",
    "/\u2215", "\u29f8\u29f8", "/\u29f8", "\uff3c\uff3c", "/\uff3c", "/\ufe68",
    "\u3033", "/\u2216", "/\u1735", "/\u0338",
    "/.//", "/./\\", "/..//", "/%2E%2E//",
]

HOSTS = [
    EVIL,
    EVIL + "/",
    EVIL + "/login?next=/",
    "{HOSTNAME}@" + EVIL,
    "{HOST}@" + EVIL,
    EVIL + "%2F@{HOST}",
    "{HOSTNAME}." + EVIL,
    "evil\u3002example",
    "\u24d4vil.example",
    "0x7f000001." + EVIL,
]

SCHEMES = [
    "http:", "https:", "HTTPS:", "hTtPs:", "ftp:", "file:", "ws:", "wss:",
    "http%3A", "https%3a", "http&colon;", "https\t:", "ht\ttps:", "ht\ntp:",
    "\x01https:", " https:", "https\uff1a",
]

SCRIPTS = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "JAVASCRIPT:alert(1)",
    "javascript://%0aalert(1)", "javascript://" + EVIL + "/%0aalert(1)",
    "java\tscript:alert(1)", "java\nscript:alert(1)", "java\rscript:alert(1)",
    "jav&#x09;ascript:alert(1)", "javascript&colon;alert(1)", "\x00javascript:alert(1)",
    " javascript:alert(1)", "\tjavascript:alert(1)", "javascript%3Aalert(1)",
    "javascript%253Aalert(1)", "/javascript:alert(1)", "//javascript:alert(1)",
    "vbscript:msgbox(1)", "VBScript:msgbox(1)", "livescript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "DATA:text/html,x",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:,evil", "dAtA:text/html,x", "blob:https://" + EVIL + "/x",
    "\u006aavascript:alert(1)", "jav\u0061script:alert(1)",
    "\uff4aavascript:alert(1)",
]


def escape(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\0":
            out.append("\\0")
        elif ord(ch) < 0x20 or ord(ch) == 0x7f:
            out.append("\\x%02x" % ord(ch))
        else:
            out.append(ch)
    line = "".join(out)
    if line.startswith("#"):
        line = "\\x23" + line[1:]
    return line


def payloads():
    seen = []

    def add(p):
        if p not in seen:
            seen.append(p)

    # scheme-relative prefixes x hosts
    for pre in SLASH2:
        for host in HOSTS[:3]:
            add(pre + host)
    for host in HOSTS[3:]:
        for pre in SLASH2[:12]:
            add(pre + host)
    # absolute URLs, with and without the slashes, and slash look-alikes
    for scheme in SCHEMES:
        for mid in ["", "/", "//", "///", "\\\\", "/\\", "\\/", "%2F%2F", "\uff0f\uff0f"]:
            add(scheme + mid + EVIL)
    # userinfo and parsing-confusion tricks around this site's own name
    for t in [
        "/@" + EVIL, "/@" + EVIL + "/", "//@" + EVIL, "/%40" + EVIL,
        "@" + EVIL, "//{HOSTNAME}@" + EVIL, "//{HOST}@" + EVIL,
        "http://{HOST}@" + EVIL + "/", "https://{HOST}@" + EVIL + "/",
        "http://{HOSTNAME}:{PORT}@" + EVIL + "/", "http://{HOST}%40" + EVIL + "/",
        "http://{HOST}%2540" + EVIL + "/", "http://{HOST}:@" + EVIL + "/",
        "http://{HOST}\\@" + EVIL + "/", "http://{HOST}\\\\@" + EVIL + "/",
        "http://{HOST}." + EVIL + "/", "http://{HOSTNAME}." + EVIL + ":{PORT}/",
        "http://{HOST}" + EVIL + "/", "http://" + EVIL + "#@{HOST}/",
        "http://" + EVIL + "?@{HOST}/", "http://" + EVIL + "\\.{HOST}/",
        "http://" + EVIL + "/{HOST}", "http://" + EVIL + "%23@{HOST}/",
        "http://" + EVIL + ";@{HOST}/", "http://" + EVIL + "%00@{HOST}/",
        "http://" + EVIL + "\t@{HOST}/", "http://{HOST}\t@" + EVIL + "/",
        "http://{HOSTNAME}:{PORT}:80@" + EVIL + "/", "http://[::1]@" + EVIL + "/",
        "http://{HOST} @" + EVIL + "/", "http://{HOST}%20@" + EVIL + "/",
        "http://{HOSTNAME}%3A{PORT}@" + EVIL + "/",
        "https://{HOST}/", "ftp://{HOST}/", "http://{HOSTNAME}:1/",
        "http://{HOSTNAME}/", "http://localhost:{PORT}/", "http://127.1:{PORT}/",
        "http://2130706433:{PORT}/", "http://0x7f.0.0.1:{PORT}/",
        "http://{HOST}.:{PORT}/", "http:/{HOST}/", "http:{HOST}/", "http:\\\\{HOST}/",
        "//{HOST}/", "///{HOST}/", "/\\{HOST}/", "\\\\{HOST}/",
        "//{HOSTNAME}:{PORT}/..//" + EVIL, "/{HOST}@" + EVIL,
        "/%2F{HOST}@" + EVIL, "//" + EVIL + "%2F%2E%2E", "//" + EVIL + "%E3%80%82",
        "/%09/" + EVIL + "%09", "/%5C%5C" + EVIL, "/%5c%5c" + EVIL,
        "/%2F%5C" + EVIL, "/%5C%2F" + EVIL, "/%2F/" + EVIL, "/%2f/" + EVIL,
        "/%252F/" + EVIL, "/%25252F/" + EVIL, "/%2525252F%2525252F" + EVIL,
        "/%%2F/" + EVIL, "/%2%46/" + EVIL, "/%%32%66" + EVIL, "/%E2%88%95%E2%88%95" + EVIL,
    ]:
        add(t)
    for s in SCRIPTS:
        add(s)
    # relative and dot-segment tricks
    for t in [EVIL, "./" + EVIL, "../" + EVIL, ".//" + EVIL, "..//" + EVIL, "\\" + EVIL,
              "\\\\" + EVIL, "\\\\\\" + EVIL, "\\/\\/" + EVIL, "/\\/\\" + EVIL,
              "/" + "\\" * 5 + EVIL, "/" + "/" * 5 + EVIL, "\t/" + EVIL,
              "\r\n//" + EVIL, "/\r\nLocation: http://" + EVIL + "/",
              "/%0D%0ALocation:%20http://" + EVIL + "/",
              "/%0d%0aSet-Cookie:%20x=1", "/\u560d\u560aSet-Cookie: x=1",
              "/%E5%98%8D%E5%98%8ALocation:%20//" + EVIL]:
        add(t)
    return seen


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    items = payloads()
    with open(os.path.join(here, "open_redirects.txt"), "w", encoding="utf-8") as f:
        f.write("# open-redirect payloads for tests/integration/test_hostile.py\n")
        f.write("# generated by make_open_redirects.py (format described there)\n")
        for p in items:
            f.write(escape(p) + "\n")
    print("%d payloads" % len(items))


if __name__ == "__main__":
    main()
