# One Trellis instance of the cluster; run it on each machine (here: three ports on one machine).
# The password goes in the URL: keep the command line (and any config file holding it) private.
trellis web --class {{SITE}} --listen tcp:{{TRELLIS_PORT}}:interface=127.0.0.1 --trust-proxy 127.0.0.1 --sessions redis://:{{REDIS_PASSWORD}}@127.0.0.1:{{REDIS_PORT}}/0
