#!/bin/sh
# A CGI program that hands its request to a running Trellis over FastCGI (libfcgi's cgi-fcgi):
# for hosts that run CGI programs but no FastCGI module.
# Trellis side: trellis web --fastcgi tcp:{{FASTCGI_PORT}}
exec cgi-fcgi -bind -connect 127.0.0.1:{{FASTCGI_PORT}}
