#!/bin/sh
# The CGI program the web server runs for every request: it hands the request to the long-running
# Trellis (trellis web --fastcgi tcp:{{FASTCGI_PORT}}:interface=127.0.0.1 --class ...) and relays the answer.
exec {{NODE}} {{TRELLIS}} cgi --relay fastcgi:tcp:127.0.0.1:{{FASTCGI_PORT}}
