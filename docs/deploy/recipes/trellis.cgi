#!/bin/sh
# The CGI program the web server runs for every request: Trellis answers it and exits.
exec {{NODE}} {{TRELLIS}} cgi --class {{SITE}}
