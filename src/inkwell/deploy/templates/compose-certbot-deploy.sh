#!/bin/sh
# certbot's --deploy-hook (a certificate was issued or renewed): copy it where nginx reads it.
# The key is moved into place before the chain; nginx reloads when the chain changes.
set -eu
cp "$RENEWED_LINEAGE/privkey.pem" /certs/privkey.pem.new
cp "$RENEWED_LINEAGE/fullchain.pem" /certs/fullchain.pem.new
chmod 600 /certs/privkey.pem.new
mv /certs/privkey.pem.new /certs/privkey.pem
mv /certs/fullchain.pem.new /certs/fullchain.pem
rm -f /certs/self-signed
echo "certbot: new certificate for $RENEWED_DOMAINS in /certs."
