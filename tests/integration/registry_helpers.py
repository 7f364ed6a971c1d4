"""Real registries for tests: Debian's ``docker-registry`` and a small token issuer.

Every helper is a plain function or context manager so other tests can reuse them:

- :func:`require_registry_tools` raises :class:`RegistryUnavailable` (skip reason) when
  ``docker-registry``, ``skopeo`` or ``umoci`` is missing.
- :func:`token_issuer` runs a Docker token server (the distribution "token
  authentication" spec, JWTs signed ES256 with an ``x5c`` header) on 127.0.0.1; it
  writes the self-signed certificate the registry trusts (``rootcertbundle``).
- :func:`running_registry` starts ``docker-registry serve`` on 127.0.0.1 with
  filesystem storage, optionally with ``auth: token`` pointing at an issuer, waits
  until ``GET /v2/`` answers and stops the process (by PID) on exit.
- :func:`push` copies an image into it with ``skopeo copy``.
- :func:`small_layout` and :func:`multiarch_layout` build small OCI layouts with umoci.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import secrets
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "RegistryUnavailable",
    "RunningRegistry",
    "TokenIssuer",
    "free_port",
    "multiarch_layout",
    "push",
    "require_registry_tools",
    "running_registry",
    "small_layout",
    "token_issuer",
]

REGISTRY_BIN = "/usr/bin/docker-registry"
SERVICE = "test-registry"
ISSUER = "test-issuer"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


class RegistryUnavailable(Exception):
    """A tool needed to run a registry test is missing; the message says which."""


def require_registry_tools() -> None:
    missing = [
        name
        for name in (REGISTRY_BIN, "skopeo", "umoci")
        if (shutil.which(name) if "/" not in name else (name if os.access(name, os.X_OK) else None))
        is None
    ]
    if missing:
        names = " ".join(Path(m).name for m in missing)
        raise RegistryUnavailable(f"{names} not installed (apt-get install {names})")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        raise RegistryUnavailable("the 'cryptography' package is not installed") from None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _run(cmd: Sequence[str | os.PathLike[str]]) -> str:
    args = [os.fspath(c) for c in cmd]
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed (exit {proc.returncode}):\n"
            f"{proc.stderr.strip() or proc.stdout.strip()}"
        )
    return proc.stdout


# --------------------------------------------------------------------------- token issuer


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass
class TokenIssuer:
    """A running token server. ``realm`` is its URL; ``cert`` the PEM the registry trusts."""

    realm: str
    cert: Path
    users: Mapping[str, str]
    refresh_tokens: Mapping[str, str]  # identity token -> user
    service: str = SERVICE
    issuer: str = ISSUER
    requests: list[dict[str, Any]] = field(default_factory=list)  # what clients asked for


def _parse_scope(scope: str) -> dict[str, Any] | None:
    """``repository:NAME:pull,push`` -> an access entry (NAME may not contain ':')."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name or not actions:
        return None
    return {"type": kind, "name": name, "actions": actions.split(",")}


@contextmanager
def token_issuer(
    workdir: Path,
    *,
    users: Mapping[str, str] | None = None,
    refresh_tokens: Mapping[str, str] | None = None,
    lifetime: int = 300,
) -> Iterator[TokenIssuer]:
    """Serve ``GET /token`` (Basic credentials) and ``POST /token`` (refresh-token grant).

    Known users get every action they ask for; anonymous clients get a token with no
    access (as Docker Hub does for private repositories); wrong credentials get 401.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    workdir.mkdir(parents=True, exist_ok=True)
    cert_path = workdir / "token-cert.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode("ascii")

    def sign(subject: str, access: list[dict[str, Any]]) -> str:
        # docker/distribution registry/auth/token: JOSE header with x5c, ES256 (r||s)
        header = {"typ": "JWT", "alg": "ES256", "x5c": [x5c]}
        issued = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": issued + lifetime,
            "nbf": issued - 10,
            "iat": issued,
            "jti": secrets.token_hex(16),
            "access": access,
        }
        signing_input = (
            _b64url(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64url(json.dumps(claims, separators=(",", ":")).encode())
        )
        der = key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return signing_input + "." + _b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))

    state = TokenIssuer(
        realm="",
        cert=cert_path,
        users=dict(users if users is not None else {"alice": "wonderland"}),
        refresh_tokens=dict(refresh_tokens or {}),
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _grant(self, subject: str, scopes: list[str], key_name: str) -> None:
            access = []
            if subject:
                access = [a for a in (_parse_scope(s) for s in scopes) if a is not None]
            self._answer(200, {key_name: sign(subject, access), "expires_in": lifetime})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            scopes = [s for v in query.get("scope", []) for s in v.split(" ") if s]
            auth = self.headers.get("Authorization")
            state.requests.append({"method": "GET", "scopes": scopes, "auth": auth is not None})
            if url.path != "/token" or query.get("service") != [SERVICE]:
                self._answer(400, {"errors": [{"code": "UNSUPPORTED", "message": "bad request"}]})
                return
            subject = ""
            if auth is not None:
                scheme, _, value = auth.partition(" ")
                try:
                    user, _, password = base64.b64decode(value).decode().partition(":")
                except ValueError:
                    user, password = "", ""
                if scheme.lower() != "basic" or state.users.get(user) != password:
                    self._answer(
                        401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]}
                    )
                    return
                subject = user
            self._grant(subject, scopes, "token")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            scopes = [s for v in form.get("scope", []) for s in v.split(" ") if s]
            state.requests.append({"method": "POST", "scopes": scopes, "auth": False})
            if form.get("grant_type") != ["refresh_token"]:
                self._answer(400, {"error": "unsupported_grant_type"})
                return
            user = state.refresh_tokens.get((form.get("refresh_token") or [""])[0])
            if user is None:
                self._answer(401, {"error": "invalid_grant"})
                return
            self._grant(user, scopes, "access_token")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RunningRegistry:
    host: str  # "127.0.0.1:PORT"
    storage: Path  # the filesystem driver's root directory
    log: Path
    pid: int

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def blob_path(self, digest: str) -> Path:
        """Where the filesystem driver keeps a blob's bytes."""
        algorithm, _, hexpart = digest.partition(":")
        return (
            self.storage / "docker/registry/v2/blobs" / algorithm / hexpart[:2] / hexpart / "data"
        )


def _registry_config(storage: Path, port: int, issuer: TokenIssuer | None) -> str:
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {json.dumps(str(storage))}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
    ]
    if issuer is not None:
        lines += [
            "auth:",
            "  token:",
            f"    realm: {json.dumps(issuer.realm)}",
            f"    service: {json.dumps(issuer.service)}",
            f"    issuer: {json.dumps(issuer.issuer)}",
            f"    rootcertbundle: {json.dumps(str(issuer.cert))}",
        ]
    return "\n".join(lines) + "\n"


@contextmanager
def running_registry(
    workdir: Path, *, issuer: TokenIssuer | None = None, startup_timeout: float = 30.0
) -> Iterator[RunningRegistry]:
    """``docker-registry serve`` on a free loopback port; stopped by PID on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    log = workdir / "registry.log"
    last_error: str = ""
    for _ in range(3):  # the free port may be taken between probing and binding
        port = free_port()
        config = workdir / "config.yml"
        config.write_text(_registry_config(storage, port, issuer))
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [REGISTRY_BIN, "serve", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            if _wait_ready(proc, port, startup_timeout):
                yield RunningRegistry(f"127.0.0.1:{port}", storage, log, proc.pid)
                return
            last_error = log.read_text(errors="replace")[-2000:]
        finally:
            _stop(proc)
    raise RuntimeError(f"docker-registry did not start:\n{last_error}")


def _wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------- skopeo


def push(
    source: str,
    registry: RunningRegistry,
    name: str,
    *,
    all_images: bool = False,
    creds: tuple[str, str] | None = None,
) -> None:
    """``skopeo copy SOURCE docker://HOST/NAME`` (``--all`` for an index)."""
    with tempfile.TemporaryDirectory(prefix="customhouse-skopeo-") as tmp:
        policy = Path(tmp) / "policy.json"
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        args = ["skopeo", "--policy", str(policy), "copy", "--quiet", "--dest-tls-verify=false"]
        if all_images:
            args.append("--all")
        if creds is not None:
            args += ["--dest-creds", f"{creds[0]}:{creds[1]}"]
        _run([*args, source, f"docker://{registry.host}/{name}"])


# --------------------------------------------------------------------------- images


def _tar_member(
    name: str, data: bytes = b"", *, kind: bytes = tarfile.REGTYPE, mode: int = 0o644
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.mtime = 1_700_000_000
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def small_layout(layout: Path, tag: str, *, architecture: str = "amd64", label: str = "") -> None:
    """A two-layer image in ``layout`` (created if needed) under ``tag``.

    Layer 0 holds a few directories, files and a symlink; layer 1 (a hand-written
    tar added with ``umoci raw add-layer``) overwrites a file, whites one out and adds
    an executable. ``label`` changes a file's content so images can differ.
    """
    if not (layout / "index.json").exists():
        _run(["umoci", "init", "--layout", layout])
    image = f"{layout}:{tag}"
    _run(["umoci", "new", "--image", image])
    with tempfile.TemporaryDirectory(prefix="customhouse-layers-") as tmp:
        for number, members in enumerate(
            (
                [
                    _tar_member("etc/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("etc/os-release", b"ID=customhouse-test\n"),
                    _tar_member("etc/motd", b"welcome\n"),
                    _tar_member("usr/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("usr/share/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("usr/share/data.bin", bytes(range(256)) * 64),
                    _tar_member(
                        f"usr/share/arch-{architecture}", f"{architecture}{label}\n".encode()
                    ),
                ],
                [
                    _tar_member("etc/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("etc/.wh.motd"),
                    _tar_member("etc/os-release", b"ID=customhouse-test\nVERSION=2\n"),
                    _tar_member("usr/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("usr/bin/", kind=tarfile.DIRTYPE, mode=0o755),
                    _tar_member("usr/bin/hello", b"#!/bin/sh\necho hello\n", mode=0o755),
                ],
            )
        ):
            path = Path(tmp) / f"layer{number}.tar"
            with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
                for info, data in members:
                    tar.addfile(info, io.BytesIO(data) if data else None)
                if number == 0:
                    link = tarfile.TarInfo("etc/release")
                    link.type = tarfile.SYMTYPE
                    link.linkname = "os-release"
                    link.mtime = 1_700_000_000
                    tar.addfile(link)
            _run(["umoci", "raw", "add-layer", "--image", image, path])
    _run(
        [
            "umoci",
            "config",
            "--image",
            image,
            "--os",
            "linux",
            "--architecture",
            architecture,
            "--config.cmd",
            "/usr/bin/hello",
        ]
    )


def _blob(layout: Path, digest: str) -> Path:
    algorithm, _, hexpart = digest.partition(":")
    return layout / "blobs" / algorithm / hexpart


def multiarch_layout(layout: Path, tag: str, architectures: Sequence[str]) -> dict[str, str]:
    """An OCI index under ``tag`` over one :func:`small_layout` image per architecture.

    Returns ``{architecture: manifest digest}``.
    """
    for arch in architectures:
        small_layout(layout, f"{tag}-{arch}", architecture=arch, label=f"-{arch}")
    index_path = layout / "index.json"
    top = json.loads(index_path.read_text())
    entries = []
    digests: dict[str, str] = {}
    for arch in architectures:
        desc = next(
            d
            for d in top["manifests"]
            if (d.get("annotations") or {}).get(REF_NAME) == f"{tag}-{arch}"
        )
        digests[arch] = desc["digest"]
        entries.append(
            {
                "mediaType": desc["mediaType"],
                "digest": desc["digest"],
                "size": desc["size"],
                "platform": {"architecture": arch, "os": "linux"},
            }
        )
    body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    _blob(layout, digest).write_bytes(body)
    top["manifests"].append(
        {
            "mediaType": OCI_INDEX,
            "digest": digest,
            "size": len(body),
            "annotations": {REF_NAME: tag},
        }
    )
    index_path.write_text(json.dumps(top))
    return digests
