"""compose.yaml as docs/compose.md runs it, on our own engine: `docker compose up -d`, every
service healthy or done, HTTP -> 308, HTTPS pages, TLS from certbot against Pebble (a
self-signed certificate until then), media through the S3 service, a restart and a renewal
under load with 0 failed GETs, backup and restore, and a post that survives `down` + `up -d`.

The one file the test adds is compose.override.yaml (picked up by `docker compose` itself):
Pebble as the ACME server and the site's name resolving to nginx inside the network; the
.env it writes has the keys the guide lists, plus loopback ports and ACME_SERVER.
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from .checks import Checks
from .guide import Guide, guide_blocks
from .web import Load, Reader, certificate, issuer

DOMAIN = "blog.example.test"
ENV_BLOCK = "cat > .env <<ENV"
# The settings the guide's .env block writes.
ENV_KEYS = ("SITE_URL", "SECRET_KEY", "POSTGRES_PASSWORD", "MINIO_PASSWORD")
ADMIN_EMAIL = "you@example.com"
UP = "docker compose up -d"
PS = "docker compose ps"
CERTBOT_LOG = "docker compose logs certbot"
COPY_BACKUP = "docker cp $(docker compose ps -q app):/data/blog-$(date +%F).tar.gz ."
DOWN = "docker compose down"
RESTART_APP = "docker compose restart app"
RETRY_CERTBOT = "docker compose restart certbot"
CREATE_ADMIN = ('printf \'%s\\n\' "$PASSWORD" | docker compose exec -T app inkwell create-admin '
                '--password-stdin you@example.com')
BACKUP = "docker compose exec -T app inkwell backup /data/blog-$(date +%F).tar.gz"
RESTORE = "docker compose exec -T app inkwell restore --force /data/blog-$(date +%F).tar.gz"
RENEW = "docker compose exec -T certbot certbot renew --force-renewal --no-random-sleep-on-renew"
SERVICES_WAIT = 180
CERT_WAIT = 180
PEBBLE_ISSUER = "Pebble"
# Pebble stands in for Let's Encrypt; its TLS certificate is trusted by certbot only.
OVERRIDE = """\
# Written by tests/containers (make container-test): Pebble, Let's Encrypt's test server,
# stands in for Let's Encrypt. Not part of the project.
services:
  pebble:
    image: inkwell-test/pebble:latest
    environment:
      PEBBLE_VA_NOSLEEP: "1"
      PEBBLE_WFE_NONCEREJECT: "0"
    volumes:
      - ./pebble:/pebble:ro
  certbot:
    environment:
      REQUESTS_CA_BUNDLE: /pebble/ca.pem
    volumes:
      - ./pebble:/pebble:ro
    depends_on:
      pebble:
        condition: service_started
"""
# The fix for "the site's name does not point at this server": inside the network it does now.
NAME_RESOLVES = """\
  nginx:
    networks:
      default:
        aliases: [{domain}]
"""


@dataclass
class Stack:
    guide: Guide
    http_port: int
    https_port: int

    @property
    def engine(self):
        return self.guide.engine

    def containers(self) -> dict[str, dict]:
        """Each service's container state (`docker inspect`), by service name."""
        ids = self.engine.run("ps", "-aq", "--filter",
                              f"label=com.docker.compose.project={self.project}",
                              capture=True).stdout.split()
        if not ids:
            return {}
        states = json.loads(self.engine.run("inspect", *ids, capture=True).stdout)
        return {s["Config"]["Labels"]["com.docker.compose.service"]: s for s in states}

    @property
    def project(self) -> str:
        return self.guide.env["COMPOSE_PROJECT_NAME"]

    def container(self, service: str) -> str:
        return self.containers()[service]["Id"]

    def logs(self, service: str, tail: int = 40) -> str:
        result = self.engine.run("logs", "--tail", str(tail), self.container(service),
                                 check=False, capture=True)
        return result.stdout + result.stderr

    def reader(self) -> Reader:
        return Reader(DOMAIN, self.https_port)

    def wait_until_up(self) -> str:
        """Every service healthy (or running, without a health check), setup exited 0."""
        deadline = time.monotonic() + SERVICES_WAIT
        while True:
            states = self.containers()
            pending = [name for name, s in states.items() if not _settled(name, s["State"])]
            setup = states.get("setup", {}).get("State", {})
            if setup.get("Status") == "exited" and setup.get("ExitCode") != 0:
                raise AssertionError(f"setup exited {setup['ExitCode']}:\n{self.logs('setup')}")
            if states and not pending:
                return ", ".join(f"{n} {_describe(s['State'])}" for n, s in sorted(states.items()))
            if time.monotonic() > deadline:
                raise AssertionError(f"not ready after {SERVICES_WAIT} s: {pending}:\n" +
                                     "\n".join(self.logs(p, 15) for p in pending))
            time.sleep(1)

    def nginx_restarts(self) -> int:
        return self.containers()["nginx"]["RestartCount"]

    def presented(self):
        return certificate(DOMAIN, self.https_port)

    def wait_for_certificate(self, unlike_serial: int | None) -> str:
        """Until nginx presents a certificate from Pebble (another one than `unlike_serial`)."""
        deadline = time.monotonic() + CERT_WAIT
        while time.monotonic() < deadline:
            cert = self.presented()
            if PEBBLE_ISSUER in issuer(cert) and cert.serial_number != unlike_serial:
                return f"issuer {issuer(cert)}, serial {cert.serial_number:x}"[:120]
            time.sleep(1)
        raise AssertionError(f"nginx still presents {issuer(self.presented())}:\n"
                             f"{self.logs('certbot')}\n{self.logs('nginx', 10)}")


def write_env(guide: Guide, http_port: int, https_port: int) -> str:
    """.env as the guide's block writes it, then the test's own SITE_URL, nginx's ports on
    loopback and Pebble as the ACME server."""
    guide.run_block(ENV_BLOCK)
    path = guide.project / ".env"
    values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    empty = [key for key in ENV_KEYS if not values.get(key)]
    assert not empty, f"the guide's .env leaves {empty} empty or out"
    values.update(SITE_URL=f"https://{DOMAIN}", HTTP_PORT=f"127.0.0.1:{http_port}",
                  HTTPS_PORT=f"127.0.0.1:{https_port}", ACME_SERVER="https://pebble:14000/dir")
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return ", ".join(f"{key} ({len(values[key])} chars)" for key in ENV_KEYS)


def write_pebble_files(project: Path) -> None:
    """Pebble's config and TLS files, and the override (without the site's name yet)."""
    import trustme

    pebble = project / "pebble"
    pebble.mkdir()
    ca = trustme.CA()
    leaf = ca.issue_cert("pebble")
    ca.cert_pem.write_to_path(str(pebble / "ca.pem"))
    leaf.cert_chain_pems[0].write_to_path(str(pebble / "cert.pem"))
    leaf.private_key_pem.write_to_path(str(pebble / "key.pem"))
    (pebble / "key.pem").chmod(0o644)  # read by pebble's user in its container
    (pebble / "pebble-config.json").write_text(json.dumps({"pebble": {
        "listenAddress": "0.0.0.0:14000", "managementListenAddress": "0.0.0.0:15000",
        "certificate": "/pebble/cert.pem", "privateKey": "/pebble/key.pem",
        # HTTP-01 goes to port 80 of the name, as Let's Encrypt's does.
        "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "",
        "externalAccountBindingRequired": False,
    }}))
    (project / "compose.override.yaml").write_text(OVERRIDE)


def bad_input(checks: Checks, guide: Guide) -> None:
    """`up -d` without each required setting stops before any container starts, naming it."""
    good = (guide.project / ".env").read_text()
    for name in ("SECRET_KEY", "SITE_URL", "POSTGRES_PASSWORD"):
        def refused(name: str = name) -> str:
            kept = [line for line in good.splitlines() if not line.startswith(f"{name}=")]
            (guide.project / ".env").write_text("\n".join(kept) + "\n")
            result = guide.run(UP, check=False, timeout=120)
            made = guide.engine.run("ps", "-aq", capture=True).stdout.split()
            assert result.returncode != 0, "up -d went ahead"
            assert not made, f"{len(made)} containers were made"
            said = f"set {name} in .env"
            assert result.stderr.rstrip().endswith(said), result.stderr[-300:]
            return f"compose: ...{said}"

        try:
            checks.run(f"up -d without {name} in .env stops before any container", refused)
        finally:
            (guide.project / ".env").write_text(good)


def compose_stack(checks: Checks, guide: Guide, stack: Stack, measures: dict) -> None:
    bad_input(checks, guide)

    began = time.monotonic()
    checks.run(f"{UP} exits 0", lambda: _last_line(guide.run(UP, timeout=900).stderr),
               needed=True)
    checks.run("every service healthy or done (setup exited 0)", stack.wait_until_up,
               needed=True)

    def ps_lists_them() -> str:
        listed = guide.run(PS).stdout
        services = ["db", "minio", "setup", "app", "nginx", "certbot"]
        missing = [name for name in services if not re.search(rf"[_-]{name}[_-]1 ", listed)]
        assert not missing, f"{PS} does not list {missing}:\n{listed}"
        return ", ".join(services)

    checks.run(f"{PS} lists every service", ps_lists_them)
    measures["compose: up -d to all healthy s"] = round(time.monotonic() - began, 1)

    def http_redirects() -> str:
        plain = Reader(DOMAIN, stack.https_port)
        response = plain.get(f"http://127.0.0.1:{stack.http_port}/posts/welcome/")
        assert response.status_code == 308, response.status_code
        location = response.headers["Location"]
        assert location == f"https://{DOMAIN}/posts/welcome/", location
        return f"308 -> {location}"

    checks.run("HTTP answers 308 to HTTPS", http_redirects)

    def self_signed_until_then() -> str:
        cert = stack.presented()
        assert cert.issuer == cert.subject, f"issued by {issuer(cert)}"
        deadline = time.monotonic() + 120
        while "no certificate for" not in (log := guide.run(CERTBOT_LOG).stdout):
            assert time.monotonic() < deadline, f"certbot said nothing:\n{log}"
            time.sleep(2)
        reason = re.search(r"Detail: ([^\n]*)", log)
        said = reason.group(1)[-90:] if reason else "?"
        return f"self-signed {issuer(cert)}; certbot's log: ...{said}"

    checks.run("a name that does not point here: self-signed, the reason in certbot's log",
               self_signed_until_then)

    def pages() -> str:
        reader = stack.reader()
        answered = []
        post = reader.get("/posts/welcome/")
        css = re.search(r'href="(/static/css/[^"]+)"', post.text).group(1)
        for path in ["/", "/posts/welcome/", "/feed.xml", css]:
            status = reader.get(path).status_code
            assert status == 200, f"{path}: {status}"
            answered.append(path.split("?")[0])
        return ", ".join(answered)

    checks.run("HTTPS 200: home, a post, the feed, a static file", pages)

    def certificate_from_pebble() -> str:
        (guide.project / "compose.override.yaml").write_text(
            OVERRIDE + NAME_RESOLVES.format(domain=DOMAIN))
        guide.run(UP, timeout=300)
        guide.run(RETRY_CERTBOT, timeout=120)
        stack.wait_until_up()
        return stack.wait_for_certificate(None)

    checks.run("the name fixed: certbot gets Pebble's certificate, nginx serves it",
               certificate_from_pebble)

    password = "a quiet afternoon with ink"
    guide.env["PASSWORD"] = password
    checks.run("create-admin through docker compose exec",
               lambda: _last_line(guide.run(CREATE_ADMIN, timeout=120).stdout))
    author = stack.reader()
    slug = f"compose-{int(time.time())}"
    media: dict[str, str] = {}

    def upload_to_s3() -> str:
        login = author.post("/admin/login", data={
            "csrf_token": _token(author.get("/admin/login").text),
            "email": ADMIN_EMAIL, "password": password})
        assert login.status_code in (302, 303), f"login: {login.status_code}"
        upload = author.post(
            "/admin/media/upload", files={"file": ("photo.png", _png())}, data={"alt": "x"},
            headers={"X-CSRFToken": _token(author.get("/admin/media/").text),
                     "Accept": "application/json"})
        assert upload.status_code == 201, f"upload: {upload.status_code} {upload.text[:200]}"
        markdown = upload.json()["markdown"]
        key = re.search(r"/media/([^)]+)", markdown).group(1)
        media.update(markdown=markdown, key=key)
        keys = _bucket_keys(stack)
        assert key in keys, f"{key} not in the bucket: {keys[:5]}"
        served = stack.reader().get(f"/media/{key}")
        assert served.status_code == 200, f"/media/{key}: {served.status_code}"
        assert served.content[:8] == b"\x89PNG\r\n\x1a\n" or served.content[:4] == b"RIFF"
        return f"{key} in the bucket, served by nginx ({len(served.content)} bytes)"

    checks.run("an image uploaded in the admin is stored in S3 and served through nginx",
               upload_to_s3)

    def publish() -> str:
        token = _token(author.get("/admin/posts/new").text)
        response = author.post("/admin/posts/new", data={
            "csrf_token": token, "title": "Through compose", "slug": slug, "description": "",
            "tags": "", "body": f"Written in the container stack.\n\n{media.get('markdown', '')}",
            "publish": "1"})
        assert response.status_code == 302, f"{response.status_code} {response.text[:200]}"
        page = stack.reader().get(f"/posts/{slug}/")
        assert page.status_code == 200, page.status_code
        return f"/posts/{slug}/"

    checks.run("a post published in the admin is on the site", publish)

    reading = ["/", "/posts/welcome/", f"/posts/{slug}/", "/feed.xml"]

    def restart_under_load() -> str:
        with Load(DOMAIN, stack.https_port, reading) as load:
            time.sleep(2)
            guide.run(RESTART_APP, timeout=120)
            stack.wait_until_up()
            time.sleep(3)
        assert load.failed == 0, load.summary()
        # Never cached: answered by the restarted app itself, not by nginx's stale copies.
        login = stack.reader().get("/admin/login")
        assert login.status_code == 200, f"/admin/login after the restart: {login.status_code}"
        return f"{load.summary()}; then /admin/login 200 from the new app"

    checks.run(f"{RESTART_APP} under load: 0 failed GETs through nginx", restart_under_load)

    def renewal_under_load() -> str:
        before = stack.presented().serial_number
        with Load(DOMAIN, stack.https_port, reading, close=True) as load:
            guide.run(RENEW, timeout=180)
            renewed = stack.wait_for_certificate(before)
            time.sleep(1)
        assert load.failed == 0, load.summary()
        return f"{load.summary()}; {renewed}"[:160]

    checks.run("certbot renew: nginx reloads the new certificate, 0 failed GETs",
               renewal_under_load)

    def backup_and_restore() -> str:
        backup = guide.run(BACKUP, timeout=300)
        guide.run(COPY_BACKUP)
        copied = list(guide.project.glob("blog-*.tar.gz"))
        assert copied and copied[0].stat().st_size > 0, "docker cp brought no backup"
        restore = guide.run(RESTORE, timeout=300)
        page = stack.reader().get(f"/posts/{slug}/")
        assert page.status_code == 200, page.status_code
        served = stack.reader().get(f"/media/{media['key']}")
        assert served.status_code == 200, served.status_code
        return f"{_last_line(backup.stdout)} / {_last_line(restore.stdout)}"[:160]

    checks.run("inkwell backup, then restore, inside the app container", backup_and_restore)

    def survives_down_up() -> str:
        guide.run(DOWN, timeout=300)
        assert not stack.containers(), "containers left after down"
        guide.run(UP, timeout=600)
        stack.wait_until_up()
        page = stack.reader().get(f"/posts/{slug}/")
        assert page.status_code == 200, f"/posts/{slug}/ after down + up: {page.status_code}"
        cert = stack.presented()
        assert PEBBLE_ISSUER in issuer(cert), f"certificate after down + up: {issuer(cert)}"
        return f"/posts/{slug}/ 200, the certificate kept"

    checks.run(f"a post survives `{DOWN}` and `{UP}` (named volumes)", survives_down_up)

    def nginx_never_restarted() -> str:
        assert stack.nginx_restarts() == 0, f"{stack.nginx_restarts()}:\n{stack.logs('nginx')}"
        return "RestartCount 0"

    checks.run("nginx did not restart", nginx_never_restarted)
    checks.run("your own certificate, mounted by the guide's override: nginx serves it",
               lambda: own_certificate(guide, stack))


def own_certificate(guide: Guide, stack: Stack) -> str:
    """The guide's compose.override.yaml for a certificate of your own, added to the test's."""
    import trustme
    import yaml

    ca = trustme.CA(organization_name="Your own CA")
    certs = guide.project / "certs"
    certs.mkdir()
    leaf = ca.issue_cert(DOMAIN)
    (certs / "fullchain.pem").write_bytes(b"".join(p.bytes() for p in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(certs / "privkey.pem"))
    (guide_override,) = guide_blocks("yaml")
    override = yaml.safe_load(OVERRIDE + NAME_RESOLVES.format(domain=DOMAIN))
    for service, settings in yaml.safe_load(guide_override)["services"].items():
        ours = override["services"].setdefault(service, {})
        for key, value in settings.items():
            ours[key] = ours.get(key, []) + value if isinstance(value, list) else value
    (guide.project / "compose.override.yaml").write_text(yaml.safe_dump(override))
    guide.run(UP, timeout=300)
    stack.wait_until_up()
    # certbot starts again with the volumes changed: it must leave the files alone (no lineage:
    # "leaving it alone"; the one from earlier in this run: not due, so no copy over them).
    deadline = time.monotonic() + 60
    while not re.search(r"leaving it alone|not yet due for renewal",
                        log := stack.logs("certbot", 20)):
        assert time.monotonic() < deadline, f"certbot said nothing:\n{log}"
        time.sleep(2)
    cert = stack.presented()
    assert "Your own CA" in issuer(cert), f"nginx presents {issuer(cert)}:\n{log}"
    return f"issuer {issuer(cert)}"[:120]


def cleanup(guide: Guide) -> None:
    """Everything the stack made: containers, networks, volumes (also after a failure)."""
    guide.compose("down", "--volumes", "--remove-orphans", "--timeout", "5")


def _settled(service: str, state: dict) -> bool:
    if service == "setup":
        return state["Status"] == "exited" and state["ExitCode"] == 0
    health = state.get("Health", {}).get("Status")
    return state["Status"] == "running" and health in (None, "healthy")


def _describe(state: dict) -> str:
    if state["Status"] == "exited":
        return f"exited {state['ExitCode']}"
    return state.get("Health", {}).get("Status", state["Status"])


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 120, 200)).save(out, "PNG")
    return out.getvalue()


def _bucket_keys(stack: Stack) -> list[str]:
    """The media bucket's keys, asked by the app container with its own S3 settings."""
    script = ("import os, boto3; s3 = boto3.client('s3', endpoint_url=os.environ["
              "'S3_ENDPOINT_URL'], region_name='us-east-1', aws_access_key_id=os.environ["
              "'S3_ACCESS_KEY_ID'], aws_secret_access_key=os.environ['S3_SECRET_ACCESS_KEY']);"
              "print('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket=os.environ["
              "'S3_BUCKET']).get('Contents', [])))")
    result = stack.engine.run("exec", stack.container("app"), "python", "-c", script,
                              capture=True, timeout=60)
    return result.stdout.split()


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:120] if lines else ""
