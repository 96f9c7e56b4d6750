"""Docker compose: the one-shot `setup` container's work (migrations, the media bucket, nginx's
config and static files in a shared volume) and the `docker-compose config` check.

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
from .settings import DeploySettings

COMPOSE_FILE = "compose.yaml"
NGINX_CACHE = Path("/var/cache/nginx")


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
        tls_cert="/etc/nginx/certs/fullchain.pem",
        tls_key="/etc/nginx/certs/privkey.pem",
        # compose.yaml mounts the `acme` volume here: certbot --webroot writes its challenges
        # into that volume, nginx answers them.
        acme_webroot=Path("/var/www/letsencrypt"),
    )


def _bucket() -> str:
    import os

    return os.environ.get("S3_BUCKET", "") if os.environ.get("MEDIA_BACKEND") == "s3" else ""


def write_nginx_files(settings: DeploySettings, target: Path) -> None:
    """nginx.conf, the site, the 503 page and a copy of the static files into `target`."""
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
