"""The registry client against a real HTTP server on 127.0.0.1 (no mocks of httpx).

The server plays back scripted replies per path and records what it received, so each
test checks what went over the wire: retries, Retry-After, redirects, auth headers,
error bodies, size caps and digest checks. Sleeping is recorded, not done.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from customhouse.digest import Digest
from customhouse.distribution import (
    Credentials,
    ImageNotFoundError,
    RegistryClient,
    RetryPolicy,
)
from customhouse.errors import AuthError, DigestMismatchError, LimitExceededError, RegistryError
from customhouse.oci import media

REPO = "team/app"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {"mediaType": media.OCI_CONFIG, "digest": "sha256:" + "a" * 64, "size": 2},
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
BLOB = bytes(range(256)) * 4096  # 1 MiB
BLOB_DIGEST = Digest.parse("sha256:" + hashlib.sha256(BLOB).hexdigest())


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_length: bool = True  # False: no Content-Length, the body ends when we close
    declared_length: int | None = None  # claim this Content-Length, send the body, hang up


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Script = Reply | Callable[[Seen], Reply]


class ScriptedServer:
    """Per-path scripts of replies (the last one repeats); records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Script]] = {}
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                server.seen.append(seen)
                script = server.routes.get(self.path.split("?", 1)[0])
                if not script:
                    reply = Reply(404, b'{"errors":[{"code":"NOT_FOUND","message":"no route"}]}')
                else:
                    step = script.pop(0) if len(script) > 1 else script[0]
                    reply = step(seen) if callable(step) else step
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.declared_length is not None:
                    self.send_header("Content-Length", str(reply.declared_length))
                    self.close_connection = True
                elif reply.content_length:
                    self.send_header("Content-Length", str(len(reply.body)))
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_HEAD = _handle

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # the client's TLS probe and early disconnects are expected here

        self.httpd = Quiet(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def route(self, path: str, *replies: Script) -> None:
        self.routes[path] = list(replies)

    def requests_to(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path.split("?", 1)[0] == path]


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    s = ScriptedServer()
    s.route("/v2/", Reply(200, b"{}"))
    s.thread.start()
    try:
        yield s
    finally:
        s.httpd.shutdown()
        s.httpd.server_close()


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _client(server: ScriptedServer, sleeps: Sleeps, **kwargs: Any) -> RegistryClient:
    retry = RetryPolicy(attempts=4, base_delay=0.5, max_delay=8, sleep=sleeps)
    return RegistryClient(server.host, retry=retry, **kwargs)


def _manifest_reply(**headers: str) -> Reply:
    return Reply(200, MANIFEST, {"Content-Type": media.OCI_MANIFEST, **headers})


def _get_manifest(client: RegistryClient, locator: str = "v1", max_bytes: int = 1 << 20) -> Any:
    return client.get_manifest(
        REPO, locator, accept=media.ACCEPT_MANIFESTS, max_bytes=max_bytes, what="test"
    )


def _errors(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


# --- scheme -----------------------------------------------------------------------------


def test_loopback_registry_falls_back_to_plain_http(server: ScriptedServer, sleeps: Sleeps) -> None:
    server.route(f"/v2/{REPO}/manifests/v1", _manifest_reply())
    with _client(server, sleeps) as client:
        assert client.base_url.scheme == "http"  # the TLS attempt failed, HTTP answered
        fetched = _get_manifest(client)
    assert fetched.raw == MANIFEST
    assert fetched.media_type == media.OCI_MANIFEST
    assert str(fetched.digest) == MANIFEST_DIGEST
    # the Accept header offers both OCI and Docker types; bodies are never encoded
    seen = server.requests_to(f"/v2/{REPO}/manifests/v1")[0]
    assert (
        media.OCI_INDEX in seen.headers["accept"]
        and media.DOCKER_MANIFEST in seen.headers["accept"]
    )
    assert seen.headers["accept-encoding"] == "identity"


def test_unreachable_registry_is_an_operational_error_after_bounded_attempts(
    sleeps: Sleeps,
) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    retry = RetryPolicy(attempts=3, base_delay=0.25, sleep=sleeps)
    with (
        RegistryClient(f"127.0.0.1:{port}", retry=retry) as client,
        pytest.raises(RegistryError, match=r"cannot reach http://127\.0\.0\.1") as info,
    ):
        _get_manifest(client)
    assert info.value.exit_code == 3
    assert sleeps == [0.25, 0.5]  # https tried once, then http three times


# --- retries ------------------------------------------------------------------------------


def test_429_is_retried_after_the_retry_after_seconds(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/manifests/v1"
    server.route(
        path,
        Reply(429, _errors("TOOMANYREQUESTS", "slow down"), {"Retry-After": "3"}),
        _manifest_reply(),
    )
    with _client(server, sleeps) as client:
        assert _get_manifest(client).raw == MANIFEST
    assert len(server.requests_to(path)) == 2
    assert sleeps == [3.0]


def test_retry_after_http_date_in_the_past_means_retry_now(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/manifests/v1"
    server.route(
        path,
        Reply(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        _manifest_reply(),
    )
    with _client(server, sleeps) as client:
        assert _get_manifest(client).raw == MANIFEST
    assert sleeps == [0.0]


def test_5xx_backs_off_exponentially_then_gives_up(server: ScriptedServer, sleeps: Sleeps) -> None:
    path = f"/v2/{REPO}/manifests/v1"
    server.route(path, Reply(503, _errors("UNAVAILABLE", "maintenance")))
    with _client(server, sleeps) as client, pytest.raises(RegistryError) as info:
        _get_manifest(client)
    assert len(server.requests_to(path)) == 4  # the policy's attempts, no more
    assert sleeps == [0.5, 1.0, 2.0]
    assert info.value.status == 503
    assert info.value.code == "UNAVAILABLE"
    assert "maintenance" in str(info.value)


def test_client_errors_are_not_retried(server: ScriptedServer, sleeps: Sleeps) -> None:
    path = f"/v2/{REPO}/manifests/v1"
    server.route(path, Reply(400, _errors("TAG_INVALID", "bad tag")))
    with (
        _client(server, sleeps) as client,
        pytest.raises(RegistryError, match="TAG_INVALID: bad tag"),
    ):
        _get_manifest(client)
    assert len(server.requests_to(path)) == 1
    assert sleeps == []


# --- manifests ------------------------------------------------------------------------


def test_unknown_manifest_is_an_input_error_naming_the_tag(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    server.route(
        f"/v2/{REPO}/manifests/nope", Reply(404, _errors("MANIFEST_UNKNOWN", "manifest unknown"))
    )
    with _client(server, sleeps) as client, pytest.raises(ImageNotFoundError) as info:
        _get_manifest(client, "nope")
    assert info.value.exit_code == 2
    assert f"{server.host}/{REPO}:nope does not exist" in str(info.value)
    assert "MANIFEST_UNKNOWN" in str(info.value)


def test_docker_content_digest_must_match_the_body(server: ScriptedServer, sleeps: Sleeps) -> None:
    wrong = "sha256:" + "0" * 64
    server.route(f"/v2/{REPO}/manifests/v1", _manifest_reply(**{"Docker-Content-Digest": wrong}))
    with _client(server, sleeps) as client, pytest.raises(DigestMismatchError) as info:
        _get_manifest(client)
    assert wrong in str(info.value)
    assert info.value.exit_code == 2


def test_docker_content_digest_is_recorded(server: ScriptedServer, sleeps: Sleeps) -> None:
    server.route(
        f"/v2/{REPO}/manifests/v1", _manifest_reply(**{"Docker-Content-Digest": MANIFEST_DIGEST})
    )
    with _client(server, sleeps) as client:
        fetched = _get_manifest(client)
    assert str(fetched.header_digest) == MANIFEST_DIGEST


def test_manifest_size_is_capped_while_streaming_without_content_length(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    huge = b"{" + b" " * (256 * 1024) + b"}"
    server.route(f"/v2/{REPO}/manifests/v1", Reply(200, huge, content_length=False))
    with _client(server, sleeps) as client, pytest.raises(LimitExceededError, match="65536 bytes"):
        _get_manifest(client, max_bytes=65536)


def test_encoded_responses_are_refused(server: ScriptedServer, sleeps: Sleeps) -> None:
    server.route(f"/v2/{REPO}/manifests/v1", _manifest_reply(**{"Content-Encoding": "gzip"}))
    with (
        _client(server, sleeps) as client,
        pytest.raises(RegistryError, match="Content-Encoding 'gzip'"),
    ):
        _get_manifest(client)


# --- blobs -------------------------------------------------------------------------------


def test_blob_streams_and_verifies(server: ScriptedServer, sleeps: Sleeps) -> None:
    server.route(f"/v2/{REPO}/blobs/{BLOB_DIGEST}", Reply(200, BLOB))
    with (
        _client(server, sleeps) as client,
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer") as r,
    ):
        chunks = []
        while chunk := r.read(100_000):
            assert len(chunk) <= 100_000
            chunks.append(chunk)
    assert b"".join(chunks) == BLOB


def test_tampered_blob_names_its_digest(server: ScriptedServer, sleeps: Sleeps) -> None:
    tampered = bytearray(BLOB)
    tampered[len(BLOB) // 2] ^= 0xFF
    server.route(f"/v2/{REPO}/blobs/{BLOB_DIGEST}", Reply(200, bytes(tampered)))
    with (
        _client(server, sleeps) as client,
        pytest.raises(DigestMismatchError) as info,
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer #0") as r,
    ):
        r.drain()
    assert str(BLOB_DIGEST) in str(info.value)


def test_blob_longer_than_declared_is_refused_while_streaming(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    server.route(
        f"/v2/{REPO}/blobs/{BLOB_DIGEST}", Reply(200, BLOB + b"extra", content_length=False)
    )
    with (
        _client(server, sleeps) as client,
        pytest.raises(DigestMismatchError, match="longer than"),
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer") as r,
    ):
        r.drain()


def test_blob_with_wrong_content_length_is_refused_before_reading(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    server.route(f"/v2/{REPO}/blobs/{BLOB_DIGEST}", Reply(200, BLOB[:-1]))
    with (
        _client(server, sleeps) as client,
        pytest.raises(DigestMismatchError, match=str(BLOB_DIGEST)),
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer"),
    ):
        pass


def test_missing_blob_is_a_registry_error(server: ScriptedServer, sleeps: Sleeps) -> None:
    server.route(
        f"/v2/{REPO}/blobs/{BLOB_DIGEST}", Reply(404, _errors("BLOB_UNKNOWN", "blob unknown"))
    )
    with (
        _client(server, sleeps) as client,
        pytest.raises(RegistryError) as info,
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer"),
    ):
        pass
    assert info.value.code == "BLOB_UNKNOWN"
    assert str(BLOB_DIGEST) in str(info.value)


def test_redirect_to_storage_host_drops_authorization(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    storage = ScriptedServer()
    storage.route("/bucket/blob", Reply(200, BLOB))
    storage.thread.start()
    try:
        server.route(
            "/v2/", Reply(401, headers={"WWW-Authenticate": 'Basic realm="test"'}), Reply(200)
        )
        blob_path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
        server.route(
            blob_path,
            Reply(307, headers={"Location": f"http://{storage.host}/bucket/blob?sig=s3cr3t"}),
        )
        creds = Credentials("alice", "pw", source="test")
        with (
            _client(server, sleeps, credentials=creds) as client,
            client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer") as r,
        ):
            assert r.read() == BLOB
        assert server.requests_to(blob_path)[0].headers["authorization"].startswith("Basic ")
        assert "authorization" not in storage.requests_to("/bucket/blob")[0].headers
    finally:
        storage.httpd.shutdown()
        storage.httpd.server_close()


def test_redirect_loops_are_bounded(server: ScriptedServer, sleeps: Sleeps) -> None:
    blob_path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
    server.route(blob_path, Reply(302, headers={"Location": blob_path}))
    with (
        _client(server, sleeps) as client,
        pytest.raises(RegistryError, match="more than 5 redirects"),
        client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer"),
    ):
        pass


# --- authentication -----------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _basic_registry(server: ScriptedServer) -> None:
    challenge = {"WWW-Authenticate": 'Basic realm="test"'}

    def guarded(seen: Seen) -> Reply:
        if seen.headers.get("authorization") == _basic("alice", "pw"):
            return _manifest_reply()
        return Reply(401, _errors("UNAUTHORIZED", "who are you"), challenge)

    server.route("/v2/", guarded)
    server.route(f"/v2/{REPO}/manifests/v1", guarded)


def test_basic_auth_sends_the_credentials(server: ScriptedServer, sleeps: Sleeps) -> None:
    _basic_registry(server)
    with _client(server, sleeps, credentials=Credentials("alice", "pw", source="test")) as client:
        assert _get_manifest(client).raw == MANIFEST


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        (Credentials("alice", "wrong", source="cfg"), "credentials from cfg were used"),
        (None, "requires a username and password"),
    ],
)
def test_basic_auth_failures_are_auth_errors(
    server: ScriptedServer, sleeps: Sleeps, credentials: Credentials | None, problem: str
) -> None:
    _basic_registry(server)
    with (
        _client(server, sleeps, credentials=credentials) as client,
        pytest.raises(AuthError, match=problem) as info,
    ):
        _get_manifest(client)
    assert info.value.exit_code == 3


def _bearer_registry(server: ScriptedServer, *, expires_in: int | None = 300) -> list[str]:
    """A registry wanting bearer tokens from ``/token`` on the same server; returns the
    list of tokens it will accept (tests may revoke them)."""
    issued: list[str] = []
    valid: list[str] = []
    realm = f"http://{server.host}/token"
    challenge = {
        "WWW-Authenticate": f'Bearer realm="{realm}",service="svc",scope="repository:{REPO}:pull"'
    }

    def token(seen: Seen) -> Reply:
        if seen.headers.get("authorization") not in (None, _basic("alice", "pw")):
            return Reply(401, _errors("UNAUTHORIZED", "bad credentials"))
        value = f"tok-{len(issued)}"
        issued.append(value)
        valid.append(value)
        doc: dict[str, Any] = {"access_token" if len(issued) % 2 else "token": value}
        if expires_in is not None:
            doc["expires_in"] = expires_in
        return Reply(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})

    def guarded(seen: Seen) -> Reply:
        auth = seen.headers.get("authorization", "")
        if auth.startswith("Bearer ") and auth[7:] in valid:
            if seen.path == "/v2/":
                return Reply(200)
            if "/blobs/" in seen.path:
                return Reply(200, BLOB)
            return _manifest_reply()
        return Reply(401, _errors("UNAUTHORIZED", "token required"), challenge)

    server.route("/token", token)
    server.route("/v2/", guarded)
    server.route(f"/v2/{REPO}/manifests/v1", guarded)
    server.route(f"/v2/{REPO}/blobs/{BLOB_DIGEST}", guarded)
    return valid


def test_bearer_token_is_requested_for_the_pull_scope_and_cached(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    _bearer_registry(server)
    with _client(server, sleeps, credentials=Credentials("alice", "pw", source="t")) as client:
        _get_manifest(client)
        _get_manifest(client)
        with client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer") as r:
            r.drain()
    tokens = server.requests_to("/token")
    assert len(tokens) == 1
    assert "service=svc" in tokens[0].path
    assert f"scope=repository%3A{REPO.replace('/', '%2F')}%3Apull" in tokens[0].path
    assert tokens[0].headers["authorization"] == _basic("alice", "pw")
    for seen in server.requests_to(f"/v2/{REPO}/manifests/v1"):
        assert seen.headers["authorization"] == "Bearer tok-0"


def test_rejected_token_is_renewed_once(server: ScriptedServer, sleeps: Sleeps) -> None:
    valid = _bearer_registry(server)
    with _client(server, sleeps) as client:
        _get_manifest(client)
        valid.clear()  # the registry revokes every token issued so far
        assert _get_manifest(client).raw == MANIFEST
    assert len(server.requests_to("/token")) == 2


def test_token_server_refusing_credentials_is_an_auth_error(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    _bearer_registry(server)
    creds = Credentials("alice", "nope", source="config.json")
    with (
        _client(server, sleeps, credentials=creds) as client,
        pytest.raises(AuthError, match=r"refused the credentials from config\.json"),
    ):
        _get_manifest(client)


def test_identity_token_uses_the_oauth2_refresh_grant(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    _bearer_registry(server)
    creds = Credentials(identity_token="refresh-me", source="t")
    with _client(server, sleeps, credentials=creds) as client:
        _get_manifest(client)
    post = server.requests_to("/token")[0]
    assert post.method == "POST"
    form = dict(pair.split("=", 1) for pair in post.body.decode().split("&"))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-me"
    assert form["service"] == "svc"


def test_token_realm_must_not_be_plain_http_on_a_remote_host(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    challenge = {"WWW-Authenticate": 'Bearer realm="http://auth.example.com/token",service="s"'}
    server.route("/v2/", Reply(401, headers=challenge))
    server.route(f"/v2/{REPO}/manifests/v1", Reply(401, headers=challenge))
    with _client(server, sleeps) as client, pytest.raises(AuthError, match="plain HTTP"):
        _get_manifest(client)
    assert not server.requests_to("/token")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("expires_in", "still_valid_after", "expired_after"),
    [(300, 290.0, 296.0), (None, 50.0, 56.0)],  # no expires_in: 60 s; renewed 5 s early
)
def test_cached_token_is_renewed_when_it_expires(
    server: ScriptedServer,
    sleeps: Sleeps,
    expires_in: int | None,
    still_valid_after: float,
    expired_after: float,
) -> None:
    _bearer_registry(server, expires_in=expires_in)
    clock = Clock()
    with _client(server, sleeps, clock=clock) as client:
        _get_manifest(client)
        clock.now += still_valid_after
        _get_manifest(client)
        assert len(server.requests_to("/token")) == 1
        clock.now += expired_after - still_valid_after
        _get_manifest(client)
        assert len(server.requests_to("/token")) == 2


# --- interrupted downloads ------------------------------------------------------------------

CUT = 300_000


def _cut_short() -> Reply:
    """The whole blob announced, 300 000 bytes sent, then the connection drops."""
    return Reply(200, BLOB[:CUT], declared_length=len(BLOB))


def _ranged(seen: Seen) -> Reply:
    start = int(seen.headers["range"].removeprefix("bytes=").rstrip("-"))
    return Reply(206, BLOB[start:], {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})


def _download(client: RegistryClient) -> bytes:
    with client.open_blob(REPO, BLOB_DIGEST, len(BLOB), "layer") as reader:
        return reader.read()


def test_interrupted_blob_download_resumes_with_a_range_request(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
    server.route(path, _cut_short(), _ranged)
    with _client(server, sleeps) as client:
        assert _download(client) == BLOB  # and the digest verified
    first, second = server.requests_to(path)
    assert "range" not in first.headers
    assert second.headers["range"] == f"bytes={CUT}-"
    assert sleeps == [0.5]


def test_resume_restarts_when_the_registry_ignores_the_range(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
    server.route(path, _cut_short(), Reply(200, BLOB))
    with _client(server, sleeps) as client:
        assert _download(client) == BLOB


def test_resume_refuses_a_range_that_starts_elsewhere(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
    wrong = Reply(206, BLOB, {"Content-Range": f"bytes 0-{len(BLOB) - 1}/{len(BLOB)}"})
    server.route(path, _cut_short(), wrong)
    with _client(server, sleeps) as client, pytest.raises(RegistryError, match="resume at byte"):
        _download(client)


def test_download_that_keeps_breaking_gives_up_after_the_attempts(
    server: ScriptedServer, sleeps: Sleeps
) -> None:
    path = f"/v2/{REPO}/blobs/{BLOB_DIGEST}"
    server.route(
        path,
        _cut_short(),
        Reply(
            206,
            b"",
            declared_length=10,
            headers={"Content-Range": f"bytes {CUT}-{len(BLOB) - 1}/{len(BLOB)}"},
        ),
    )
    with (
        _client(server, sleeps) as client,
        pytest.raises(RegistryError, match=f"interrupted after {CUT} bytes") as info,
    ):
        _download(client)
    assert str(BLOB_DIGEST) in str(info.value)
    assert len(server.requests_to(path)) == 4


# --- through the image source -----------------------------------------------------------


def test_schema1_manifest_is_refused_with_a_clear_message(
    server: ScriptedServer, sleeps: Sleeps, tmp_path: Path
) -> None:
    from customhouse.errors import ImageFormatError
    from customhouse.limits import DEFAULT_LIMITS
    from customhouse.sources.registry import open_registry

    schema1 = json.dumps(
        {"schemaVersion": 1, "name": REPO, "tag": "old", "fsLayers": [], "history": []}
    ).encode()
    server.route(
        f"/v2/{REPO}/manifests/old",
        Reply(200, schema1, {"Content-Type": media.DOCKER_SCHEMA1_SIGNED}),
    )
    source = f"{server.host}/{REPO}:old"
    with (
        pytest.raises(ImageFormatError, match="schema 1 is deprecated and unsupported") as info,
        open_registry(
            source,
            source=source,
            platform=None,
            limits=DEFAULT_LIMITS,
            docker_config=tmp_path / "no-config.json",
            retry=RetryPolicy(attempts=1, sleep=sleeps),
        ),
    ):
        pass
    assert info.value.exit_code == 2
