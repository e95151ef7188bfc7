"""The production front: Debian's nginx, running the repository's own site file (deploy/nginx-relapse.conf) with
a self-signed certificate, in front of a real `relapse serve` on loopback. A household is scored over HTTPS,
browsers are told to keep to HTTPS, bodies over the service's limit are refused by nginx, and the service sees
the request as HTTPS from the host the browser named."""
# ruff: noqa: F811 — the shared fixtures are imported by name, and tests take them as parameters of that name

from __future__ import annotations

import os
import pwd
import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from service.db import open_database
from service.keys import create_key
from service.model_holder import ModelHolder
from service.settings import ServiceSettings
from service.tables import Role
from tests.service.api_support import COUNTY, Registered, profile_row
from tests.service.test_api_jobs import _free_port, _serve, _serve_env

NGINX = Path("/usr/sbin/nginx")
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
SITE = Path(__file__).resolve().parents[2] / "deploy" / "nginx-relapse.conf"


@dataclass(frozen=True)
class Front:
    https: str  # https://127.0.0.1:PORT
    http: str  # the plain-HTTP listener that redirects
    tls: ssl.SSLContext  # trusts the self-signed certificate only


def render_site(site: str, *, service_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """The shipped site with the test's ports and certificate. Each production value must be found exactly as
    often as expected, so a change to the site file's shape fails here instead of testing something else."""
    replacements = [
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{service_port};", 1),
        ("listen 80;", f"listen 127.0.0.1:{http_port};", 1),
        ("listen [::]:80;", "", 1),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;", 1),
        ("listen [::]:443 ssl http2;", "", 1),
        ("/etc/ssl/certs/relapse.example.org.pem", str(cert), 1),
        ("/etc/ssl/private/relapse.example.org.key", str(key), 1),
    ]
    for old, new, count in replacements:
        assert site.count(old) == count, f"{SITE.name}: expected {count} × {old!r}"
        site = site.replace(old, new)
    return site


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


def _main_conf(prefix: Path, site: Path) -> str:
    """What Debian's /etc/nginx/nginx.conf gives a site, with every file nginx writes kept under `prefix`."""
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return (
        f"daemon off; worker_processes 1; pid {prefix / 'nginx.pid'}; error_log {prefix / 'error.log'} warn;\n"
        "events { worker_connections 64; }\n"
        f"http {{ access_log off; {temp} include {site}; }}\n"
    )


@pytest.fixture(scope="module")
def front(
    registered: Registered, county_folder: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Front, Path]]:
    """nginx with the shipped site in front of `relapse serve` (one of each for this module's tests); yields the
    front and the service's data folder."""
    if not NGINX.is_file():
        pytest.fail(f"{NGINX} is missing: scripts/os-deps.sh installs Debian's nginx", pytrace=False)
    service_port, https_port, http_port = _free_port(), _free_port(), _free_port()
    data = tmp_path_factory.mktemp("nginx-service")
    service = _serve(_serve_env(registered, county_folder, data, RELAPSE_REPORTS_COOKIE_SECURE="true"), service_port)
    # Started as root (a CI container), nginx would hand its workers to `nobody`; the whole front then runs as
    # `nobody` instead, in a folder of its own, so it is unprivileged either way.
    prefix = Path(tempfile.mkdtemp(prefix="nginx-front-"))
    cert, key = _self_signed(prefix)
    site = prefix / "relapse.conf"
    site.write_text(
        render_site(
            SITE.read_text(), service_port=service_port, https_port=https_port, http_port=http_port, cert=cert, key=key
        )
    )
    (prefix / "nginx.conf").write_text(_main_conf(prefix, site))
    user = pwd.getpwnam("nobody") if os.geteuid() == 0 else None
    if user is not None:
        for path in [prefix, *prefix.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
    nginx = subprocess.Popen(
        [str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
    )
    tls = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{https_port}"
    try:
        _wait_ready(nginx, base, tls, prefix)
        yield Front(base, f"http://127.0.0.1:{http_port}", tls), data
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        service.terminate()
        service.wait(timeout=30)
        shutil.rmtree(prefix, ignore_errors=True)


def _wait_ready(nginx: subprocess.Popen[bytes], base: str, tls: ssl.SSLContext, prefix: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and nginx.poll() is None:
        try:
            if httpx.get(f"{base}/health/ready", verify=tls, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    log = (prefix / "error.log").read_text() if (prefix / "error.log").is_file() else ""
    stderr = nginx.stderr.read().decode() if nginx.poll() is not None and nginx.stderr else ""
    raise AssertionError(f"nginx did not answer over HTTPS: {stderr} {log}")


def _key(data: Path, role: Role) -> str:
    database = open_database(f"sqlite:///{data / 'service.db'}")
    try:
        with database.session() as session:
            return create_key(session, role=role, region_prefix=COUNTY, label="nginx test").plaintext
    finally:
        database.dispose()


@pytest.mark.slow
@pytest.mark.integration
def test_a_household_is_scored_over_https_through_the_shipped_nginx_site(
    front: tuple[Front, Path], holder: ModelHolder, batch_profiles: pd.DataFrame
) -> None:
    site, data = front
    i = int(np.flatnonzero(batch_profiles["region_code"].astype(str).str.startswith(COUNTY).to_numpy())[0])
    body = {"profiles": [profile_row(batch_profiles, i)]}
    headers = {"Authorization": f"Bearer {_key(data, Role.MONITOR)}"}
    with httpx.Client(base_url=site.https, verify=site.tls, timeout=60) as client:
        response = client.post("/v1/profiles:score", json=body, headers=headers)
        assert response.status_code == 200, response.text
        assert holder.current is not None
        expected = float(holder.current.model.predict_proba(batch_profiles.iloc[[i]])[0])
        assert response.json()["items"][0]["probability"] == pytest.approx(expected, abs=1e-12)
        assert response.json()["model_version"] == holder.current.version
        assert response.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"

        # The unauthenticated metrics stay on loopback.
        assert client.get("/metrics").status_code == 403

        # Plain HTTP only redirects to HTTPS; nothing is served on it.
        plain = httpx.get(f"{site.http}/v1/model", follow_redirects=False)
        assert plain.status_code == 301 and plain.headers["location"].startswith("https://")


@pytest.mark.slow
@pytest.mark.integration
def test_bodies_over_the_service_limit_are_refused_by_nginx_and_uploads_get_the_larger_one(
    front: tuple[Front, Path],
) -> None:
    site, data = front
    limit = ServiceSettings().max_body_bytes
    headers = {"Authorization": f"Bearer {_key(data, Role.MONITOR)}", "Content-Type": "application/json"}
    with httpx.Client(base_url=site.https, verify=site.tls, timeout=120) as client:
        refused = client.post("/v1/profiles:score", content=b" " * (limit + 1), headers=headers)
        # nginx's own page, not the service's problem+json: the body never reached the service.
        assert refused.status_code == 413
        assert "nginx" in refused.text and not refused.headers["content-type"].startswith("application/problem")
        assert refused.headers["strict-transport-security"].startswith("max-age=")

        # The same size to the upload endpoint passes nginx (its limit is RELAPSE_MAX_UPLOAD_BYTES) and is
        # judged by the service itself: not a multipart upload, so its own problem+json, not nginx's 413.
        upload = client.post("/v1/jobs", content=b" " * (limit + 1), headers=headers)
        assert upload.status_code != 413 and upload.headers["content-type"].startswith("application/problem+json")


@pytest.mark.slow
@pytest.mark.integration
def test_the_service_behind_nginx_sees_https_and_the_host_the_browser_named(front: tuple[Front, Path]) -> None:
    site, data = front
    with httpx.Client(base_url=site.https, verify=site.tls, timeout=60, follow_redirects=False) as client:
        # A redirect the service builds from the request's own URL names https and the browser's host and port.
        moved = client.get("/v1/jobs/", headers={"Authorization": f"Bearer {_key(data, Role.MONITOR)}"})
        assert moved.status_code == 307 and moved.headers["location"] == f"{site.https}/v1/jobs"

        # The report sign-in accepts a form from the page it served (its Origin matches the Host nginx passes on)
        # and sets a session cookie the browser keeps to HTTPS.
        login = client.post(
            "/reports/login",
            data={"api_key": _key(data, Role.OFFICIAL), "next": "/reports/model"},
            headers={"Origin": site.https},
        )
        assert login.status_code == 303, login.text
        cookie = login.headers["set-cookie"].lower()
        assert "secure" in cookie.split("; ") and "httponly" in cookie.split("; ")
