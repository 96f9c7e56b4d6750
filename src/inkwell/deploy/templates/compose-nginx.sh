#!/bin/sh
# compose.yaml's nginx service (written by `inkwell deploy compose-setup`): nginx in the
# foreground, reloaded (no dropped request) when certbot writes a new certificate.
set -eu
# nginx makes its temporary folders, not their parent, and the cache volume starts empty.
mkdir -p {{ cache_root }}/tmp
marker=/tmp/certificate-loaded
touch -r {{ cert }} "$marker"
(
    while sleep {{ check_seconds }}; do
        if [ {{ cert }} -nt "$marker" ]; then
            touch -r {{ cert }} "$marker"
            echo "nginx.sh: a new certificate in {{ cert }}: reloading nginx" >&2
            nginx -c {{ conf }} -s reload || true
        fi
    done
) &
exec nginx -c {{ conf }} -g "daemon off;"
