#!/bin/sh
# The CGI program the web server runs for every request: Trellis loads the Node app, answers, exits.
exec {{NODE}} {{TRELLIS}} cgi --app {{APP}}
