"""The advisory database as an OCI artifact: ``db push REF`` / ``db pull REF``.

For air-gapped mirrors: one machine runs ``db update`` and pushes; the others pull
from a registry they can reach. The artifact (OCI image-spec 1.1 artifact guidance)::

    manifest  application/vnd.oci.image.manifest.v1+json
      artifactType  application/vnd.customhouse.advisory-db.v1
      config        the empty descriptor (application/vnd.oci.empty.v1+json, "{}")
      layers[0]     the database file,
                    application/vnd.customhouse.advisory-db.layer.v1.sqlite
                    (or ...sqlite+zstd when compressed, the default)
                    annotations: title, the digest and size of the uncompressed file
      annotations   created, schema version

Pushing uses the distribution API directly (the shared
:class:`~customhouse.distribution.RegistryClient` is pull-only): ``HEAD`` to skip
blobs the registry has, ``POST`` an upload, then one ``PUT ?digest=`` for small
blobs or ``PATCH`` chunks with ``Content-Range`` and a closing ``PUT``; then ``PUT``
the manifest. Authentication: anonymous, Basic, or the Bearer token flow with
``repository:NAME:pull,push`` scope, with credentials from Docker's ``config.json``.

Pulling uses :class:`~customhouse.distribution.RegistryClient` (retries, auth, digest
verification while streaming). The file is written beside the target, its digest is
checked against the manifest's annotation and it must open as an advisory database
before it replaces anything: the pulled DB is byte-identical to the pushed one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import zstandard

from customhouse import __version__
from customhouse.advisories.store import AdvisoryStore
from customhouse.digest import Digest
from customhouse.distribution import (
    Credentials,
    RegistryClient,
    RetryPolicy,
    Timeouts,
    is_loopback_host,
    load_docker_config,
    parse_www_authenticate,
)
from customhouse.errors import (
    AuthError,
    CustomhouseError,
    DigestMismatchError,
    ImageFormatError,
    RegistryError,
    StorageError,
    UsageError,
)
from customhouse.reference import ImageReference

__all__ = [
    "ARTIFACT_TYPE",
    "LAYER_SQLITE",
    "LAYER_SQLITE_ZSTD",
    "PullResult",
    "PushResult",
    "pull_db",
    "push_db",
]

ARTIFACT_TYPE = "application/vnd.customhouse.advisory-db.v1"
LAYER_SQLITE = "application/vnd.customhouse.advisory-db.layer.v1.sqlite"
LAYER_SQLITE_ZSTD = LAYER_SQLITE + "+zstd"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
EMPTY_BLOB = b"{}"
ANNOTATION_TITLE = "org.opencontainers.image.title"
ANNOTATION_CREATED = "org.opencontainers.image.created"
ANNOTATION_DB_DIGEST = "io.customhouse.advisory-db.digest"
ANNOTATION_DB_SIZE = "io.customhouse.advisory-db.size"
ANNOTATION_SCHEMA = "io.customhouse.advisory-db.schema-version"

CHUNK_SIZE = 32 * 1024 * 1024
MAX_DB_BYTES = 16 * 1024 * 1024 * 1024
_MAX_MANIFEST = 4 * 1024 * 1024
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class PushResult:
    reference: str
    manifest_digest: Digest
    layer_digest: Digest
    layer_size: int
    db_digest: Digest
    db_size: int
    uploaded: int  # blobs sent (blobs the registry already had are skipped)


@dataclass(frozen=True, slots=True)
class PullResult:
    reference: str
    manifest_digest: Digest
    db_digest: Digest
    db_size: int


def _file_digest(path: Path) -> tuple[Digest, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return Digest.parse(f"sha256:{h.hexdigest()}"), size


# --------------------------------------------------------------------------- push


class _PushSession:
    """Just enough of the distribution API to upload blobs and a manifest."""

    def __init__(
        self,
        ref: ImageReference,
        *,
        credentials: Credentials | None,
        insecure_registries: Sequence[str],
        retry: RetryPolicy,
        timeouts: Timeouts,
    ) -> None:
        self.ref = ref
        self.credentials = credentials
        self.retry = retry
        host = ref.registry_host
        names = {n.strip().lower() for n in insecure_registries if n}
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        self.insecure = is_loopback_host(bare.strip("[]")) or host in names or bare in names
        self._http = httpx.Client(
            timeout=timeouts.to_httpx(),
            headers={"User-Agent": f"customhouse/{__version__}", "Accept-Encoding": "identity"},
            follow_redirects=True,
            verify=not self.insecure,
        )
        self._base = self._probe(host)
        self._auth: str | None = None

    def close(self) -> None:
        self._http.close()

    def _probe(self, host: str) -> httpx.URL:
        schemes = ("https", "http") if self.insecure else ("https",)
        last: Exception | None = None
        for scheme in schemes:
            url = httpx.URL(f"{scheme}://{host}/v2/")
            try:
                resp = self._http.get(url)
            except httpx.TransportError as e:
                last = e
                continue
            if resp.status_code not in (200, 401):
                raise RegistryError(
                    f"{host}: API probe GET /v2/ answered HTTP {resp.status_code}",
                    status=resp.status_code,
                )
            return httpx.URL(f"{scheme}://{host}")
        raise RegistryError(f"cannot reach registry {host}: {last}") from last

    # --- requests with auth and retries ---------------------------------------------

    def request(
        self,
        method: str,
        url: httpx.URL,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        for round_ in range(2):
            hdrs = dict(headers or {})
            if self._auth:
                hdrs["Authorization"] = self._auth
            resp = self._send(method, url, hdrs, content)
            if resp.status_code != 401 or round_ == 1:
                return resp
            self._authenticate(resp)
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        failures = 0
        while True:
            try:
                resp = self._http.request(method, url, headers=headers, content=content)
            except httpx.TransportError as e:
                failures += 1
                if failures >= self.retry.attempts:
                    raise RegistryError(
                        f"{method} {url.copy_with(query=None)}: {type(e).__name__}: {e}"
                    ) from e
                self.retry.sleep(self.retry.backoff(failures))
                continue
            if resp.status_code in _RETRY_STATUSES and failures + 1 < self.retry.attempts:
                failures += 1
                self.retry.sleep(self.retry.delay(failures, resp.headers.get("retry-after")))
                continue
            return resp

    def _authenticate(self, resp: httpx.Response) -> None:
        challenges = parse_www_authenticate(*resp.headers.get_list("www-authenticate"))
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        creds = self.credentials
        if bearer is None:
            if any(c.scheme == "basic" for c in challenges) and creds and creds.has_basic:
                assert creds.username is not None and creds.password is not None
                self._auth = _basic(creds.username, creds.password)
                return
            raise AuthError(
                f"registry {self.ref.registry} requires authentication"
                " and no usable credentials are configured (docker login)",
                status=401,
            )
        realm = bearer.get("realm")
        if not realm:
            raise AuthError(f"registry {self.ref.registry}: Bearer challenge without a realm")
        realm_url = httpx.URL(realm)
        if realm_url.scheme != "https" and not (self.insecure or is_loopback_host(realm_url.host)):
            raise AuthError(f"refusing to fetch a token over plain HTTP from {realm}")
        scopes = [f"repository:{self.ref.repository}:pull,push"]
        extra = bearer.get("scope")
        if extra and extra not in scopes:
            scopes.append(extra)
        params: list[tuple[str, str | int | float | bool | None]] = [("scope", s) for s in scopes]
        if bearer.get("service"):
            params.append(("service", str(bearer.get("service"))))
        headers: dict[str, str] = {}
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": "customhouse",
                "scope": " ".join(scopes),
                **({"service": str(bearer.get("service"))} if bearer.get("service") else {}),
            }
            token_resp = self._http.post(realm_url, data=form)
        else:
            if creds is not None and creds.has_basic:
                assert creds.username is not None and creds.password is not None
                headers["Authorization"] = _basic(creds.username, creds.password)
            token_resp = self._http.get(realm_url, params=params, headers=headers)
        if token_resp.status_code != 200:
            raise AuthError(
                f"token server {realm_url.copy_with(query=None)} answered"
                f" HTTP {token_resp.status_code} for push access to {self.ref.repository}",
                status=token_resp.status_code,
            )
        try:
            doc = token_resp.json()
        except ValueError:
            raise AuthError(f"token server {realm} answered with invalid JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"token server {realm} answered without a token")
        self._auth = f"Bearer {token}"

    # --- operations ------------------------------------------------------------------

    def _url(self, path: str) -> httpx.URL:
        return self._base.join(f"/v2/{self.ref.repository}/{path}")

    def has_blob(self, digest: Digest) -> bool:
        resp = self.request("HEAD", self._url(f"blobs/{digest}"))
        if resp.status_code == 200:
            return True
        if resp.status_code == 404:
            return False
        self._fail(resp, f"HEAD blob {digest}")
        return False  # pragma: no cover

    def upload(self, digest: Digest, size: int, source: IO[bytes], chunk_size: int) -> None:
        resp = self.request("POST", self._url("blobs/uploads/"))
        if resp.status_code != 202:
            self._fail(resp, "start blob upload")
        location = self._location(resp)
        if size <= chunk_size:
            body = source.read()
            if len(body) != size:
                raise StorageError(f"blob {digest} changed while pushing it")
            final = location.copy_merge_params({"digest": str(digest)})
            resp = self.request(
                "PUT",
                final,
                headers={"Content-Type": "application/octet-stream"},
                content=body,
            )
            if resp.status_code != 201:
                self._fail(resp, f"upload blob {digest}")
            return
        offset = 0
        while offset < size:
            chunk = source.read(chunk_size)
            if not chunk:
                raise StorageError(f"blob {digest} shrank while pushing it")
            resp = self.request(
                "PATCH",
                location,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{offset + len(chunk) - 1}",
                },
                content=chunk,
            )
            if resp.status_code != 202:
                self._fail(resp, f"upload chunk at {offset} of blob {digest}")
            location = self._location(resp)
            offset += len(chunk)
        final = location.copy_merge_params({"digest": str(digest)})
        resp = self.request("PUT", final, content=b"")
        if resp.status_code != 201:
            self._fail(resp, f"finish upload of blob {digest}")

    def put_manifest(self, tag_or_digest: str, body: bytes) -> Digest:
        resp = self.request(
            "PUT",
            self._url(f"manifests/{tag_or_digest}"),
            headers={"Content-Type": OCI_MANIFEST},
            content=body,
        )
        if resp.status_code != 201:
            self._fail(resp, "put manifest")
        digest = Digest.of(body)
        header = resp.headers.get("docker-content-digest")
        if header and header.strip() != str(digest):
            raise RegistryError(
                f"registry {self.ref.registry} stored the manifest as {header}, expected {digest}"
            )
        return digest

    def _location(self, resp: httpx.Response) -> httpx.URL:
        location = resp.headers.get("location")
        if not location:
            raise RegistryError(f"registry {self.ref.registry}: upload answer without Location")
        return resp.request.url.join(location)

    def _fail(self, resp: httpx.Response, what: str) -> None:
        detail = ""
        try:
            doc = resp.json()
            errors = doc.get("errors") if isinstance(doc, dict) else None
            if isinstance(errors, list) and errors and isinstance(errors[0], dict):
                detail = f" {errors[0].get('code', '')}: {str(errors[0].get('message', ''))[:300]}"
        except ValueError:
            pass
        cls = AuthError if resp.status_code in (401, 403) else RegistryError
        raise cls(
            f"{what}: registry {self.ref.registry} answered HTTP {resp.status_code}{detail}",
            status=resp.status_code,
        )


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


@contextmanager
def _layer_file(db: Path, compress: bool) -> Iterator[Path]:
    if not compress:
        yield db
        return
    fd, tmp = tempfile.mkstemp(prefix="customhouse-db-", suffix=".zst")
    try:
        with os.fdopen(fd, "wb") as out, open(db, "rb") as src:
            zstandard.ZstdCompressor(level=10, threads=-1).copy_stream(src, out)
        yield Path(tmp)
    finally:
        os.unlink(tmp)


def push_db(
    db: Path,
    reference: str,
    *,
    compress: bool = True,
    credentials: Credentials | None = None,
    insecure_registries: Sequence[str] = (),
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> PushResult:
    """Push the database file ``db`` to ``reference`` (a tag, or a digest it must match)."""
    ref = ImageReference.parse(reference)
    with AdvisoryStore(db) as store:  # refuses files that are not a database of our schema
        meta = store.meta()
    db_digest, db_size = _file_digest(db)
    if credentials is None:
        credentials = load_docker_config().credentials_for(ref.registry)
    media_type = LAYER_SQLITE_ZSTD if compress else LAYER_SQLITE
    with _layer_file(db, compress) as layer_path:
        layer_digest, layer_size = _file_digest(layer_path)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": ARTIFACT_TYPE,
            "config": {
                "mediaType": EMPTY_MEDIA_TYPE,
                "digest": str(Digest.of(EMPTY_BLOB)),
                "size": len(EMPTY_BLOB),
                "data": base64.b64encode(EMPTY_BLOB).decode("ascii"),
            },
            "layers": [
                {
                    "mediaType": media_type,
                    "digest": str(layer_digest),
                    "size": layer_size,
                    "annotations": {
                        ANNOTATION_TITLE: db.name,
                        ANNOTATION_DB_DIGEST: str(db_digest),
                        ANNOTATION_DB_SIZE: str(db_size),
                    },
                }
            ],
            "annotations": {
                ANNOTATION_CREATED: meta.get("built_at")
                or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                ANNOTATION_SCHEMA: meta.get("schema_version", ""),
            },
        }
        body = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
        if ref.digest is not None and ref.digest != Digest.of(body):
            raise UsageError(
                f"{reference}: the artifact's manifest is {Digest.of(body)}; push to a tag instead"
            )
        session = _PushSession(
            ref,
            credentials=credentials,
            insecure_registries=insecure_registries,
            retry=retry or RetryPolicy(),
            timeouts=timeouts or Timeouts(),
        )
        uploaded = 0
        try:
            if not session.has_blob(Digest.of(EMPTY_BLOB)):
                session.upload(
                    Digest.of(EMPTY_BLOB), len(EMPTY_BLOB), io.BytesIO(EMPTY_BLOB), chunk_size
                )
                uploaded += 1
            if not session.has_blob(layer_digest):
                with open(layer_path, "rb") as f:
                    session.upload(layer_digest, layer_size, f, chunk_size)
                uploaded += 1
            manifest_digest = session.put_manifest(ref.locator, body)
        finally:
            session.close()
    return PushResult(
        str(ref), manifest_digest, layer_digest, layer_size, db_digest, db_size, uploaded
    )


# --------------------------------------------------------------------------- pull


def _parse_artifact(raw: bytes, what: str) -> tuple[dict[str, Any], Digest, Digest, int]:
    """(layer descriptor, layer digest, db digest, db size) of a pushed database artifact."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ImageFormatError(f"{what}: the manifest is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schemaVersion") != 2:
        raise ImageFormatError(f"{what}: not an OCI manifest")
    config: dict[str, Any] = doc["config"] if isinstance(doc.get("config"), dict) else {}
    kind = doc.get("artifactType") or config.get("mediaType")
    if kind != ARTIFACT_TYPE:
        raise ImageFormatError(
            f"{what}: not a customhouse advisory database (artifact type {kind!r})"
        )
    layers = doc.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        raise ImageFormatError(f"{what}: expected exactly one layer")
    layer = layers[0]
    if layer.get("mediaType") not in (LAYER_SQLITE, LAYER_SQLITE_ZSTD):
        raise ImageFormatError(f"{what}: unknown layer media type {layer.get('mediaType')!r}")
    size = layer.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_DB_BYTES:
        raise ImageFormatError(f"{what}: invalid layer size {size!r}")
    notes: dict[str, Any] = (
        layer["annotations"] if isinstance(layer.get("annotations"), dict) else {}
    )
    try:
        layer_digest = Digest.parse(str(layer.get("digest")))
        db_digest = Digest.parse(str(notes.get(ANNOTATION_DB_DIGEST)))
        db_size = int(str(notes.get(ANNOTATION_DB_SIZE)))
    except (ValueError, CustomhouseError) as e:  # DigestError is an InputError
        raise ImageFormatError(
            f"{what}: layer digest or database annotations invalid: {e}"
        ) from None
    if not 0 < db_size <= MAX_DB_BYTES:
        raise ImageFormatError(f"{what}: invalid database size {db_size}")
    return layer, layer_digest, db_digest, db_size


def _read(stream: Any, what: str) -> bytes:
    try:
        data: bytes = stream.read(1 << 20)
    except zstandard.ZstdError as e:
        raise ImageFormatError(f"{what}: the compressed layer is corrupt: {e}") from None
    return data


def pull_db(
    reference: str,
    dest: Path,
    *,
    force: bool = False,
    credentials: Credentials | None = None,
    insecure_registries: Sequence[str] = (),
    retry: RetryPolicy | None = None,
    timeouts: Timeouts | None = None,
) -> PullResult:
    """Fetch the database artifact ``reference`` into ``dest`` (replaced only when verified)."""
    ref = ImageReference.parse(reference)
    if dest.exists() and not force:
        raise UsageError(f"{dest} exists; use --force to replace it")
    what = f"advisory database {ref}"
    if credentials is None:
        credentials = load_docker_config().credentials_for(ref.registry)
    with RegistryClient(
        ref.registry,
        host=ref.registry_host,
        credentials=credentials,
        insecure_registries=insecure_registries,
        retry=retry,
        timeouts=timeouts,
    ) as client:
        fetched = client.get_manifest(
            ref.repository, ref.locator, accept=OCI_MANIFEST, max_bytes=_MAX_MANIFEST, what=what
        )
        if ref.digest is not None:
            ref.digest.verify_bytes(fetched.raw, f"{what}: manifest")
        layer, layer_digest, db_digest, db_size = _parse_artifact(fetched.raw, what)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                dir=dest.parent, prefix=f".{dest.name}.", suffix=".part"
            )
        except OSError as e:
            raise StorageError(f"cannot write beside {dest}: {e.strerror}") from None
        tmp = Path(tmp_name)
        ok = False
        try:
            hasher = hashlib.sha256()
            written = 0
            with (
                os.fdopen(fd, "wb") as out,
                client.open_blob(ref.repository, layer_digest, layer["size"], what) as reader,
            ):
                stream: Any = reader
                if layer["mediaType"] == LAYER_SQLITE_ZSTD:
                    stream = zstandard.ZstdDecompressor().stream_reader(reader)  # type: ignore[arg-type]
                while chunk := _read(stream, what):
                    written += len(chunk)
                    if written > db_size:
                        raise DigestMismatchError(
                            f"{what}: the database is larger than its declared {db_size} bytes",
                            expected=str(db_digest),
                        )
                    hasher.update(chunk)
                    out.write(chunk)
                reader.drain()  # the layer digest is checked at the end of the blob
            actual = f"sha256:{hasher.hexdigest()}"
            if written != db_size or actual != str(db_digest):
                raise DigestMismatchError(
                    f"{what}: the database hashes to {actual} ({written} bytes),"
                    f" the artifact declares {db_digest} ({db_size} bytes)",
                    expected=str(db_digest),
                    actual=actual,
                )
            with AdvisoryStore(tmp):  # must open as a database of this customhouse's schema
                pass
            os.replace(tmp, dest)
            ok = True
        except OSError as e:
            raise StorageError(f"cannot write {dest}: {e.strerror}") from None
        finally:
            if not ok:
                tmp.unlink(missing_ok=True)
    return PullResult(str(ref), fetched.digest, db_digest, db_size)
