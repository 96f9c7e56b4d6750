#!/bin/sh
# compose.yaml's certbot service (written by `inkwell deploy compose-setup`): a certificate for
# {{ domain }} from $ACME_SERVER by HTTP-01 (nginx serves {{ webroot }}), kept in
# /etc/letsencrypt and copied to /certs, where nginx reads it (and reloads on its own).
# Checked twice a day, renewed 30 days before it expires; after a failure, tried again
# sooner (2 minutes, doubling up to 12 hours), the reason in this service's log.
set -u
if [ -s /certs/fullchain.pem ] && [ ! -e /certs/self-signed ] \
        && [ ! -d /etc/letsencrypt/live/{{ domain }} ]; then
    echo "certbot: /certs holds a certificate you brought; leaving it alone."
    while :; do sleep 86400; done
fi
if [ -n "${CERTBOT_EMAIL:-}" ]; then
    contact="--email $CERTBOT_EMAIL"
else
    contact="--register-unsafely-without-email"
fi
retry=120
while :; do
    # shellcheck disable=SC2086 # $contact is two words
    if certbot certonly --non-interactive --agree-tos $contact \
            --server "$ACME_SERVER" --webroot --webroot-path {{ webroot }} \
            --domain {{ domain }} --keep-until-expiring --cert-name {{ domain }} \
            --deploy-hook "/bin/sh /srv/nginx/certbot-deploy.sh"; then
        retry=120
        sleep 43200
    else
        echo "certbot: no certificate for {{ domain }} from $ACME_SERVER (above: why);" \
            "nginx keeps the one it has; next try in $retry s."
        sleep "$retry"
        retry=$((retry * 2 > 43200 ? 43200 : retry * 2))
    fi
done
