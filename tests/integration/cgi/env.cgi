#!/bin/sh
# env.cgi - integration test page: the CGI environment as text/plain, one
# NAME=value per line, so tests can see REMOTE_USER, AUTH_TYPE, NOMIS_SSO_*.
# A request body is read and thrown away first.
if [ -n "$CONTENT_LENGTH" ] && [ "$CONTENT_LENGTH" -gt 0 ] 2>/dev/null; then
    head -c "$CONTENT_LENGTH" >/dev/null
fi
printf 'Content-Type: text/plain; charset=utf-8\r\n'
printf 'Cache-Control: no-store\r\n\r\n'
env | LC_ALL=C sort
