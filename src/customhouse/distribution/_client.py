"""A client for one registry's OCI distribution API (pull side only).

Transport security, as Docker does it: TLS with certificate verification by default.
A registry is *insecure* when it is on the loopback interface (``localhost``,
``127.0.0.0/8``, ``[::1]``) or listed in ``insecure_registries`` (``host[:port]``
or ``host``); then HTTPS is tried first without verifying the certificate, and
plain HTTP is used if the TLS connection fails.

Authentication: the ``GET /v2/`` probe tells which scheme the registry wants.
``Basic`` sends the credentials on every request. ``Bearer`` asks the realm for a
token scoped to ``repository:NAME:pull`` (with the credentials, or an OAuth2
refresh-token grant for an identity token) and caches it per scope until
``expires_in`` (default 60 s) runs out. A 401 with a token drops the token and
asks once more; a second 401 is an :class:`~customhouse.errors.AuthError`. The
token realm must be HTTPS unless its host is loopback or insecure.

Every request goes through bounded retries (429, 408 and transient 5xx, and
connection failures) with exponential backoff honouring ``Retry-After``.
Redirects are followed by hand: at most five, never from HTTPS to plain HTTP
(except to an insecure host), and the ``Authorization`` header is dropped when the
redirect leaves the registry's origin (blob storage on another host).

Bodies are never buffered whole: manifests are read up to the manifest limit while
streaming, blobs are handed out as a :class:`~customhouse.digest.VerifyingReader`
over the response stream. Responses are requested with ``Accept-Encoding:
identity`` and any ``Content-Encoding`` is refused, so a digest always covers the
bytes received and no decoder can be made to inflate a bomb.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from customhouse import __version__
from customhouse.digest import Digest, VerifyingReader
from customhouse.distribution._challenge import Challenge, parse_www_authenticate
from customhouse.distribution._credentials import Credentials
from customhouse.distribution._retry import RETRY_STATUSES, RetryPolicy, Timeouts
from customhouse.errors import (
    AuthError,
    DigestError,
    DigestMismatchError,
    ImageFormatError,
    InputError,
    LimitExceededError,
    RegistryError,
)

__all__ = ["FetchedManifest", "ImageNotFoundError", "RegistryClient", "is_loopback_host"]

_USER_AGENT = f"customhouse/{__version__}"
_MAX_REDIRECTS = 5
_MAX_ERROR_BODY = 64 * 1024
_MAX_TOKEN_BODY = 1024 * 1024
_DEFAULT_TOKEN_LIFETIME = 60
_TOKEN_MARGIN = 5  # seconds before expiry at which a cached token is renewed
_OAUTH_CLIENT_ID = "customhouse"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class ImageNotFoundError(InputError):
    """The registry has no such repository, tag or digest (exit 2: the input names nothing)."""


@dataclass(frozen=True, slots=True)
class FetchedManifest:
    raw: bytes
    media_type: str | None  # the Content-Type, without parameters
    digest: Digest  # Docker-Content-Digest when sent (verified), else sha256 of the body
    header_digest: Digest | None


def is_loopback_host(host: str) -> bool:
    """``localhost``, ``127.0.0.0/8`` or ``::1`` (``host`` without a port)."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _split_host(registry: str) -> str:
    """``host[:port]`` -> ``host`` (IPv6 brackets removed)."""
    if registry.startswith("["):
        return registry[1 : registry.index("]")]
    return registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry


def _basic_header(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _public(url: httpx.URL) -> str:
    """A URL fit for messages: no query string (signed redirect URLs carry secrets)."""
    return str(url.copy_with(query=None, fragment=None))


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return (url.scheme, url.host, url.port)


class _Bearer:
    __slots__ = ("realm", "service")

    def __init__(self, realm: str, service: str | None) -> None:
        self.realm = realm
        self.service = service


class RegistryClient:
    """One registry host; reuse it for every request of one image pull.

    ``registry`` is the registry as it appears in a reference (``docker.io``,
    ``host:port``), ``host`` what to connect to (``registry-1.docker.io``).
    """

    def __init__(
        self,
        registry: str,
        *,
        host: str | None = None,
        credentials: Credentials | None = None,
        insecure_registries: Sequence[str] = (),
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self._clock = clock
        self.host = host or registry
        self.credentials = credentials
        self.retry = retry or RetryPolicy()
        self._insecure_names = frozenset(n.strip().lower() for n in insecure_registries if n)
        self.insecure = self._is_insecure(self.host) or self._is_insecure(registry)
        timeout = (timeouts or Timeouts()).to_httpx()
        headers = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}
        self._timeout = timeout
        self._http = httpx.Client(timeout=timeout, headers=headers, follow_redirects=False)
        # made on first use, only for an insecure registry's own hosts (TLS unverified)
        self._http_unverified: httpx.Client | None = None
        self._base: httpx.URL | None = None
        self._basic = False
        self._bearer: _Bearer | None = None
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    # --- lifecycle ---------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        if self._http_unverified is not None:
            self._http_unverified.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public operations -------------------------------------------------------

    @property
    def base_url(self) -> httpx.URL:
        """``https://host`` or (insecure registries only) ``http://host``, after the probe."""
        return self._ensure_base()

    def get_manifest(
        self, repository: str, locator: str, *, accept: str, max_bytes: int, what: str
    ) -> FetchedManifest:
        """GET a manifest or index by tag or digest, read within ``max_bytes``.

        When the registry sends ``Docker-Content-Digest`` it must match the body.
        Checking the body against a digest the caller asked for is the caller's job
        (``parse_manifest`` does it).
        """
        path = f"/v2/{repository}/manifests/{locator}"
        with self._request("GET", path, repository=repository, headers={"Accept": accept}) as resp:
            if resp.status_code == 404:
                code, message = self._error_summary(resp)
                name = f"{self.registry}/{repository}{'@' if ':' in locator else ':'}{locator}"
                prefix = "" if name in what else f"{what}: "
                raise ImageNotFoundError(
                    f"{prefix}image {name} does not exist"
                    f" (HTTP 404{', ' + code if code else ''}{': ' + message if message else ''})"
                )
            if resp.status_code != 200:
                self._raise_for(resp, f"{what}: manifest {locator}")
            self._refuse_encoding(resp, what)
            body = self._read_capped(resp, max_bytes, f"{what}: manifest {locator}")
        content_type = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        header = resp.headers.get("docker-content-digest")
        header_digest: Digest | None = None
        if header:
            try:
                header_digest = Digest.parse(header.strip())
            except DigestError as e:
                raise ImageFormatError(
                    f"{what}: registry sent a malformed Docker-Content-Digest: {e}"
                ) from None
            header_digest.verify_bytes(body, f"{what}: manifest {locator} (Docker-Content-Digest)")
        return FetchedManifest(
            body, content_type or None, header_digest or Digest.of(body), header_digest
        )

    @contextmanager
    def open_blob(
        self, repository: str, digest: Digest, size: int, what: str
    ) -> Iterator[VerifyingReader]:
        """Stream a blob; the reader checks size and digest at EOF."""
        path = f"/v2/{repository}/blobs/{digest}"
        with self._request("GET", path, repository=repository) as resp:
            if resp.status_code != 200:
                if resp.status_code == 404:
                    code, message = self._error_summary(resp)
                    raise RegistryError(
                        f"{what}: registry {self.registry} has no blob {digest} in {repository}"
                        f" (HTTP 404{', ' + code if code else ''}"
                        f"{': ' + message if message else ''})",
                        status=404,
                        code=code or "BLOB_UNKNOWN",
                    )
                self._raise_for(resp, f"{what}: blob {digest}")
            self._refuse_encoding(resp, what)
            length = resp.headers.get("content-length")
            if length is not None and length.strip().isdigit() and int(length) != size:
                raise DigestMismatchError(
                    f"{what}: registry serves blob {digest} with {int(length)} bytes but the"
                    f" manifest declares {size}",
                    expected=str(digest),
                )
            reader = _ResumingReader(self, resp, path, repository, f"{what}: blob {digest}")
            try:
                yield VerifyingReader(reader, digest, what=what, expected_size=size)
            finally:
                reader.close()

    # --- requests ------------------------------------------------------------------

    @contextmanager
    def _request(
        self,
        method: str,
        path: str,
        *,
        repository: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[httpx.Response]:
        """An authenticated, retried, redirected request; yields the streamed response."""
        resp = self._open(method, path, repository=repository, headers=headers)
        try:
            yield resp
        finally:
            resp.close()

    def _open(
        self,
        method: str,
        path: str,
        *,
        repository: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Like :meth:`_request`; the caller closes the response."""
        base = self._ensure_base()
        url = base.join(path)
        scope = f"repository:{repository}:pull" if repository else None
        challenge_scope: str | None = None
        for round_ in range(2):
            extra = dict(headers or {})
            auth = self._authorization(scope, challenge_scope)
            if auth:
                extra["Authorization"] = auth
            resp = self._exchange(method, url, extra)
            if resp.status_code != 401:
                return resp
            challenges = self._challenges(resp)
            code, message = self._error_summary(resp)
            resp.close()
            if round_ == 1 or (auth and auth.startswith("Basic ")):
                raise AuthError(
                    f"registry {self.registry} refused access to {_public(url)}"
                    f" (HTTP 401{', ' + code if code else ''}{': ' + message if message else ''})"
                    + (
                        f"; credentials from {self.credentials.source} were used"
                        if self.credentials and auth
                        else "; no credentials configured for it (docker login)"
                        if not self.credentials
                        else ""
                    ),
                    status=401,
                    code=code,
                )
            if auth and scope is not None:
                self._tokens.pop((self.registry, scope), None)
            self._adopt(challenges, url)
            bearer = next((c for c in challenges if c.scheme == "bearer"), None)
            challenge_scope = bearer.get("scope") if bearer else None
        raise AssertionError("unreachable")  # pragma: no cover

    def _client_for(self, url: httpx.URL) -> httpx.Client:
        if url.scheme == "https" and self._is_insecure(url.netloc.decode("ascii")):
            if self._http_unverified is None:
                self._http_unverified = httpx.Client(
                    timeout=self._timeout,
                    headers=self._http.headers,
                    follow_redirects=False,
                    verify=False,
                )
            return self._http_unverified
        return self._http

    def _exchange(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        *,
        data: Mapping[str, str] | None = None,
        attempts: int | None = None,
    ) -> httpx.Response:
        """Send with retries and redirects; returns an open streamed response."""
        budget = attempts if attempts is not None else self.retry.attempts
        headers = dict(headers)
        failures = 0
        redirects = 0
        while True:
            client = self._client_for(url)
            try:
                request = client.build_request(method, url, headers=headers, data=data)
                resp = client.send(request, stream=True)
            except httpx.TransportError as e:
                failures += 1
                if failures >= budget:
                    raise RegistryError(
                        f"cannot reach {_public(url)} after {failures} attempt"
                        f"{'s' if failures > 1 else ''}: {type(e).__name__}: {e}"
                    ) from e
                self.retry.sleep(self.retry.backoff(failures))
                continue
            if resp.status_code in RETRY_STATUSES and failures + 1 < budget:
                failures += 1
                delay = self.retry.delay(failures, resp.headers.get("retry-after"))
                resp.close()
                self.retry.sleep(delay)
                continue
            location = resp.headers.get("location")
            if resp.status_code in _REDIRECTS and location:
                resp.close()
                redirects += 1
                if redirects > _MAX_REDIRECTS:
                    raise RegistryError(f"{_public(url)}: more than {_MAX_REDIRECTS} redirects")
                try:
                    target = url.join(location)
                except httpx.InvalidURL as e:
                    raise RegistryError(f"{_public(url)}: invalid redirect target: {e}") from None
                if target.scheme not in ("http", "https"):
                    raise RegistryError(f"{_public(url)}: redirect to a {target.scheme!r} URL")
                if (
                    url.scheme == "https"
                    and target.scheme == "http"
                    and not self._is_insecure(target.netloc.decode("ascii"))
                ):
                    raise RegistryError(
                        f"{_public(url)}: refusing a redirect from HTTPS to plain HTTP"
                        f" ({_public(target)})"
                    )
                if _origin(target) != _origin(url):
                    headers.pop("Authorization", None)
                if resp.status_code == 303:
                    method, data = "GET", None
                url = target
                continue
            return resp

    # --- scheme probe ------------------------------------------------------------

    def _ensure_base(self) -> httpx.URL:
        if self._base is not None:
            return self._base
        schemes = ("https", "http") if self.insecure else ("https",)
        last: RegistryError | None = None
        for i, scheme in enumerate(schemes):
            url = httpx.URL(f"{scheme}://{self.host}/v2/")
            fallback = i + 1 < len(schemes)
            try:
                # the TLS attempt of an insecure registry gets one try: failure means "use HTTP"
                resp = self._exchange("GET", url, {}, attempts=1 if fallback else None)
            except RegistryError as e:
                last = e
                if fallback:
                    continue
                raise
            with closing(resp):
                if resp.status_code == 401:
                    self._adopt(self._challenges(resp), url)
                elif resp.status_code != 200:
                    self._raise_for(resp, f"{self.registry}: API probe GET /v2/")
            self._base = httpx.URL(f"{scheme}://{self.host}")
            return self._base
        assert last is not None  # pragma: no cover
        raise last  # pragma: no cover

    # --- authentication ---------------------------------------------------------

    def _challenges(self, resp: httpx.Response) -> tuple[Challenge, ...]:
        return parse_www_authenticate(*resp.headers.get_list("www-authenticate"))

    def _adopt(self, challenges: tuple[Challenge, ...], url: httpx.URL) -> None:
        bearer = next((c for c in challenges if c.scheme == "bearer"), None)
        basic = next((c for c in challenges if c.scheme == "basic"), None)
        if bearer is not None:
            realm = bearer.get("realm")
            if not realm:
                raise AuthError(f"{_public(url)}: Bearer challenge without a realm")
            self._bearer = _Bearer(realm, bearer.get("service"))
            self._basic = False
            return
        if basic is not None:
            if self.credentials is None or not self.credentials.has_basic:
                raise AuthError(
                    f"registry {self.registry} requires a username and password"
                    " (Basic authentication); none are configured for it (docker login)",
                    status=401,
                )
            self._basic = True
            return
        schemes = ", ".join(c.scheme for c in challenges) or "none"
        raise AuthError(
            f"registry {self.registry} answered 401 with no supported challenge (schemes: {schemes})",
            status=401,
        )

    def _authorization(self, scope: str | None, challenge_scope: str | None) -> str | None:
        if self._basic and self.credentials is not None and self.credentials.has_basic:
            assert self.credentials.username is not None and self.credentials.password is not None
            return _basic_header(self.credentials.username, self.credentials.password)
        if self._bearer is not None and scope is not None:
            return f"Bearer {self._token(scope, challenge_scope)}"
        return None

    def _token(self, scope: str, challenge_scope: str | None) -> str:
        key = (self.registry, scope)
        cached = self._tokens.get(key)
        now = self._clock()
        if cached is not None and cached[1] > now:
            return cached[0]
        assert self._bearer is not None
        token, lifetime = self._fetch_token(self._bearer, scope, challenge_scope)
        self._tokens[key] = (token, now + max(1, lifetime - _TOKEN_MARGIN))
        return token

    def _fetch_token(
        self, bearer: _Bearer, scope: str, challenge_scope: str | None
    ) -> tuple[str, int]:
        try:
            realm = httpx.URL(bearer.realm)
        except httpx.InvalidURL as e:
            raise AuthError(f"registry {self.registry}: invalid token realm: {e}") from None
        if realm.scheme not in ("http", "https") or not realm.host:
            raise AuthError(f"registry {self.registry}: token realm {bearer.realm!r} is not a URL")
        if realm.scheme == "http" and not self._is_insecure(realm.netloc.decode("ascii")):
            raise AuthError(
                f"registry {self.registry}: refusing to fetch a token over plain HTTP from"
                f" {_public(realm)} (only loopback and --insecure-registry hosts may use HTTP)"
            )
        scopes = [scope] + (
            [challenge_scope] if challenge_scope and challenge_scope != scope else []
        )
        creds = self.credentials
        headers: dict[str, str] = {}
        if creds is not None and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": _OAUTH_CLIENT_ID,
                "scope": " ".join(scopes),
            }
            if bearer.service:
                form["service"] = bearer.service
            resp = self._exchange("POST", realm, headers, data=form)
        else:
            params: list[tuple[str, str | int | float | bool | None]] = []
            if bearer.service:
                params.append(("service", bearer.service))
            params.extend(("scope", s) for s in scopes)
            if creds is not None and creds.has_basic:
                assert creds.username is not None and creds.password is not None
                headers["Authorization"] = _basic_header(creds.username, creds.password)
            resp = self._exchange("GET", realm.copy_merge_params(params), headers)
        with closing(resp):
            if resp.status_code in (401, 403):
                code, message = self._error_summary(resp)
                raise AuthError(
                    f"token server {_public(realm)} refused"
                    f" {'the credentials from ' + creds.source if creds else 'anonymous access'}"
                    f" for {scope} (HTTP {resp.status_code}"
                    f"{', ' + code if code else ''}{': ' + message if message else ''})",
                    status=resp.status_code,
                    code=code,
                )
            if resp.status_code != 200:
                self._raise_for(resp, f"token server {_public(realm)}")
            body = self._read_capped(resp, _MAX_TOKEN_BODY, f"token server {_public(realm)}")
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise AuthError(f"token server {_public(realm)} answered with invalid JSON") from None
        if not isinstance(doc, dict):
            raise AuthError(f"token server {_public(realm)} answered with no JSON object")
        token = doc.get("token") or doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise AuthError(f"token server {_public(realm)} answered without a token")
        lifetime = doc.get("expires_in")
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or lifetime <= 0:
            lifetime = _DEFAULT_TOKEN_LIFETIME
        return token, lifetime

    def _is_insecure(self, netloc: str) -> bool:
        name = netloc.strip().lower()
        host = _split_host(name)
        return (
            is_loopback_host(host) or name in self._insecure_names or host in self._insecure_names
        )

    # --- responses -----------------------------------------------------------------

    @staticmethod
    def _refuse_encoding(resp: httpx.Response, what: str) -> None:
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise RegistryError(
                f"{what}: the registry applied Content-Encoding {encoding!r} although"
                " 'identity' was requested; refusing to decode it"
            )

    @staticmethod
    def _read_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
        chunks: list[bytes] = []
        total = 0
        try:
            for chunk in resp.iter_raw():
                total += len(chunk)
                if total > limit:
                    raise LimitExceededError(f"{what}: response exceeds the limit of {limit} bytes")
                chunks.append(chunk)
        except (httpx.TransportError, httpx.StreamError) as e:
            raise RegistryError(f"{what}: connection failed while reading: {e}") from e
        return b"".join(chunks)

    @classmethod
    def _error_summary(cls, resp: httpx.Response) -> tuple[str | None, str | None]:
        """``(code, message)`` of a distribution-spec error body, best effort."""
        try:
            body = cls._read_capped(resp, _MAX_ERROR_BODY, "error body")
        except (RegistryError, LimitExceededError):
            return None, None
        try:
            doc: Any = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return None, None
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if not isinstance(errors, list) or not errors or not isinstance(errors[0], dict):
            return None, None
        first = errors[0]
        code = first.get("code") if isinstance(first.get("code"), str) else None
        message = first.get("message") if isinstance(first.get("message"), str) else None
        if message is not None and len(message) > 300:
            message = message[:297] + "..."
        return code, message

    def _raise_for(self, resp: httpx.Response, what: str) -> None:
        code, message = self._error_summary(resp)
        detail = f"HTTP {resp.status_code}"
        if code:
            detail += f" {code}"
        if message:
            detail += f": {message}"
        if resp.status_code == 403:
            raise AuthError(
                f"{what}: access denied by {self.registry} ({detail})", status=403, code=code
            )
        raise RegistryError(
            f"{what}: registry {self.registry} answered {detail}",
            status=resp.status_code,
            code=code,
        )


_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class _ResumingReader:
    """``read(n)`` over a streamed blob body; resumes an interrupted download.

    A connection that breaks mid-body is re-opened (within the client's retry
    policy, with backoff) by ``GET`` with ``Range: bytes=OFFSET-``. A ``206`` must
    start exactly at the offset; a ``200`` (the registry ignored the range) is read
    from the start and the bytes already delivered are skipped. Whatever happens,
    the bytes handed out are one contiguous stream for the digest check.
    """

    __slots__ = (
        "_buf",
        "_chunks",
        "_client",
        "_failures",
        "_offset",
        "_path",
        "_repo",
        "_resp",
        "_what",
    )

    def __init__(
        self, client: RegistryClient, resp: httpx.Response, path: str, repository: str, what: str
    ) -> None:
        self._client = client
        self._resp = resp
        self._chunks = resp.iter_raw()
        self._path = path
        self._repo = repository
        self._what = what
        self._buf = b""
        self._offset = 0  # bytes handed out so far
        self._failures = 0

    def read(self, n: int = -1, /) -> bytes:
        while not self._buf:
            try:
                chunk = next(self._chunks, None)
            except httpx.TransportError as e:
                self._recover(e)
                continue
            except httpx.StreamError as e:
                raise RegistryError(f"{self._what}: download failed: {e}") from e
            if chunk is None:
                return b""
            self._buf = chunk
        if n < 0 or n >= len(self._buf):
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        self._offset += len(out)
        return out

    def _recover(self, error: httpx.TransportError) -> None:
        policy = self._client.retry
        while True:
            self._failures += 1
            if self._failures >= policy.attempts:
                raise RegistryError(
                    f"{self._what}: download interrupted after {self._offset} bytes"
                    f" ({self._failures} attempts): {type(error).__name__}: {error}"
                ) from error
            self._resp.close()
            policy.sleep(policy.backoff(self._failures))
            try:
                self._reopen()
                return
            except httpx.TransportError as e:
                error = e

    def _reopen(self) -> None:
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else {}
        resp = self._client._open("GET", self._path, repository=self._repo, headers=headers)
        self._resp = resp
        self._chunks = resp.iter_raw()
        RegistryClient._refuse_encoding(resp, self._what)
        if resp.status_code == 206 and self._offset:
            found = _CONTENT_RANGE.match(resp.headers.get("content-range", "").strip())
            if found is None or int(found.group(1)) != self._offset:
                raise RegistryError(
                    f"{self._what}: asked to resume at byte {self._offset}, the registry sent"
                    f" Content-Range {resp.headers.get('content-range')!r}"
                )
            return
        if resp.status_code != 200:
            self._client._raise_for(resp, f"{self._what} (resuming at byte {self._offset})")
        self._skip(self._offset)

    def _skip(self, count: int) -> None:
        """Drop the first ``count`` bytes of a full-body answer (they were delivered)."""
        while count > 0:
            chunk = next(self._chunks, None)  # a failure here is retried by _recover
            if chunk is None:
                raise RegistryError(
                    f"{self._what}: the registry's second answer is shorter than the first"
                )
            if len(chunk) > count:
                self._buf = chunk[count:]
                return
            count -= len(chunk)

    def close(self) -> None:
        self._resp.close()
