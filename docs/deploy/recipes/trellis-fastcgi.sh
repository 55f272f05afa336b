#!/bin/sh
# Started by the front end (lighttpd bin-path, spawn-fcgi, cgi-fcgi -start) with the listening
# FastCGI socket as file descriptor 0: Trellis serves FastCGI on it until told to stop (SIGTERM).
exec {{NODE}} {{TRELLIS}} web --fastcgi fd:0 --class {{SITE}} "$@"
