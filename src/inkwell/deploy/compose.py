"""Docker compose: the one-shot `setup` container's work (migrations, the media bucket, nginx's
config, static files and scripts in a shared volume, a self-signed certificate until certbot
has a real one) and the `docker-compose config` check.

compose.yaml at the repository root reads the same `.env` as every other way to run Inkwell;
nginx's site config is rendered inside the stack by `inkwell deploy compose-setup`, so it always
matches the settings the app runs with.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

from . import nginx
from .render import render_template
from .settings import DeploySettings

COMPOSE_FILE = "compose.yaml"
NGINX_CACHE = Path("/var/cache/nginx")
# Where compose.yaml mounts the `certs` volume in nginx, and the marker of a stand-in certificate.
NGINX_CERTS = Path("/etc/nginx/certs")
SELF_SIGNED_MARKER = "self-signed"
ACME_WEBROOT = Path("/var/www/letsencrypt")
# How often nginx looks for a certificate certbot renewed (a stat; the reload drops nothing).
CERT_CHECK_SECONDS = 10


def compose_settings(settings: DeploySettings, target: Path) -> DeploySettings:
    """The site as the nginx container sees it: app at app:8000, files in the shared volume."""
    bucket = _bucket()
    return replace(
        settings,
        app_bind="app:8000",
        app_servers=(),  # one app container; a host's APP_SERVERS/STATIC_STORE are not its
        static_store=None,
        http_listen=("80",),
        https_listen=("443",),
        static_root=target / "static",
        plotly_root=target / "plotly",
        media_upstream=f"http://minio:9000/{bucket}" if bucket else "",
        cache_dir=NGINX_CACHE / "inkwell",
        tls_cert=str(NGINX_CERTS / "fullchain.pem"),
        tls_key=str(NGINX_CERTS / "privkey.pem"),
        # compose.yaml mounts the `acme` volume here: certbot --webroot writes its challenges
        # into that volume, nginx answers them.
        acme_webroot=ACME_WEBROOT,
    )


def _bucket() -> str:
    import os

    return os.environ.get("S3_BUCKET", "") if os.environ.get("MEDIA_BACKEND") == "s3" else ""


def write_nginx_files(settings: DeploySettings, target: Path) -> None:
    """nginx.conf, the site, the 503 page, a copy of the static files and the scripts the nginx
    and certbot services run, into `target`."""
    site_settings = compose_settings(settings, target)
    target.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target / "static", ignore_errors=True)
    shutil.copytree(settings.static_root, target / "static")
    (target / "plotly").mkdir(exist_ok=True)
    shutil.copy2(settings.plotly_root / "plotly.min.js", target / "plotly" / "plotly.min.js")
    unavailable = target / nginx.UNAVAILABLE_FILE
    unavailable.write_text(nginx.render_unavailable_page(site_settings))
    site = target / nginx.SITE_FILE
    site.write_text(nginx.render_site(site_settings, unavailable))
    # compose.yaml starts nginx with -g "daemon off;", which may not be in the file as well.
    (target / "nginx.conf").write_text(
        nginx.render_main(
            NGINX_CACHE, site, worker_processes="auto", access_log="/dev/stdout",
            error_log="stderr warn", user="nginx", foreground_in_file=False,
        )
    )
    scripts = {
        "nginx.sh": render_template(
            "compose-nginx.sh", cache_root=NGINX_CACHE, cert=site_settings.tls_cert,
            conf=target / "nginx.conf", check_seconds=CERT_CHECK_SECONDS,
        ),
        "certbot.sh": render_template(
            "compose-certbot.sh", domain=settings.domain, webroot=ACME_WEBROOT
        ),
        "certbot-deploy.sh": render_template("compose-certbot-deploy.sh"),
    }
    for name, text in scripts.items():
        (target / name).write_text(text)


def ensure_certificate(certs: Path, domain: str) -> bool:
    """A self-signed certificate for `domain` in `certs` unless one is there (certbot's, or
    your own); True when it made one. nginx starts with it; certbot replaces it."""
    if (certs / "fullchain.pem").exists():
        return False
    certs.mkdir(parents=True, exist_ok=True)
    key = certs / "privkey.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "90", "-subj", f"/CN={domain}",
         "-addext", f"subjectAltName=DNS:{domain}",
         "-keyout", str(key), "-out", str(certs / "fullchain.pem.new")],
        check=True, capture_output=True,
    )
    key.chmod(0o600)
    (certs / SELF_SIGNED_MARKER).write_text("made by inkwell deploy compose-setup\n")
    (certs / "fullchain.pem.new").rename(certs / "fullchain.pem")
    return True


def create_public_bucket(config: dict) -> str:
    """The media bucket, readable anonymously (nginx proxies /media/ to it); returns its name."""
    import boto3
    from botocore.exceptions import ClientError

    bucket = config["S3_BUCKET"]
    client = boto3.client(
        "s3",
        endpoint_url=config["S3_ENDPOINT_URL"] or None,
        region_name=config["S3_REGION"],
        aws_access_key_id=config["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=config["S3_SECRET_ACCESS_KEY"],
    )
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as e:
        if e.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::{bucket}/*"],
        }],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
    return bucket


def check(compose_file: Path) -> str | None:
    """`docker-compose config -q` (Debian's docker-compose); the error text or None."""
    tool = shutil.which("docker-compose")
    command = [tool, "-f", str(compose_file), "config", "-q"] if tool else None
    if command is None and shutil.which("docker"):
        command = ["docker", "compose", "-f", str(compose_file), "config", "-q"]
    if command is None:
        return "docker-compose is not installed (Debian: apt install docker-compose)"
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=compose_file.parent, timeout=60
    )
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()
