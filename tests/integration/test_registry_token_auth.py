"""docker-registry with ``auth: token``: credentials from config.json, helpers, tokens."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import registry_helpers as rh

from customhouse.errors import AuthError
from customhouse.sources import open_image
from customhouse.walk.layers import Walk

pytestmark = pytest.mark.integration

USER, PASSWORD = "alice", "wonderland"
REFRESH = "refresh-token-for-alice"


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        rh.require_registry_tools()
    except rh.RegistryUnavailable as e:
        pytest.skip(f"cannot run a registry here: {e}")
    where = tmp_path_factory.mktemp("layout") / "oci"
    rh.small_layout(where, "v1")
    return where


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory, layout: Path) -> Iterator[rh.TokenIssuer]:
    with rh.token_issuer(
        tmp_path_factory.mktemp("issuer"),
        users={USER: PASSWORD},
        refresh_tokens={REFRESH: USER},
    ) as iss:
        yield iss


@pytest.fixture(scope="module")
def registry(
    issuer: rh.TokenIssuer, layout: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[rh.RunningRegistry]:
    with rh.running_registry(tmp_path_factory.mktemp("registry"), issuer=issuer) as reg:
        rh.push(f"oci:{layout}:v1", reg, "private/app:v1", creds=(USER, PASSWORD))
        yield reg


def _docker_config(
    directory: Path, monkeypatch: pytest.MonkeyPatch, doc: dict[str, object]
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(doc))
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))


def _auth(user: str, password: str) -> dict[str, str]:
    return {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}


def _pull_and_compare(registry: rh.RunningRegistry, layout: Path) -> None:
    with (
        open_image(f"{registry.host}/private/app:v1") as got,
        open_image(f"oci:{layout}:v1") as want,
    ):
        assert got.digest == want.digest
        assert got.config is not None and want.config is not None
        assert got.config.digest == want.config.digest
        walked = [(e, c.read_all() if c else None) for e, c in Walk(got)]
        assert walked == [(e, c.read_all() if c else None) for e, c in Walk(want)]


def test_credentials_from_config_auths_get_a_scoped_token_once(
    registry: rh.RunningRegistry,
    issuer: rh.TokenIssuer,
    layout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _docker_config(tmp_path / "cfg", monkeypatch, {"auths": {registry.host: _auth(USER, PASSWORD)}})
    before = len(issuer.requests)
    _pull_and_compare(registry, layout)
    asked = issuer.requests[before:]
    # one token, cached for the manifest, the config and every layer
    assert asked == [{"method": "GET", "scopes": ["repository:private/app:pull"], "auth": True}]


def test_identity_token_from_config_uses_the_refresh_grant(
    registry: rh.RunningRegistry,
    issuer: rh.TokenIssuer,
    layout: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _docker_config(
        tmp_path / "cfg", monkeypatch, {"auths": {registry.host: {"identitytoken": REFRESH}}}
    )
    before = len(issuer.requests)
    _pull_and_compare(registry, layout)
    assert [r["method"] for r in issuer.requests[before:]] == ["POST"]


def test_credential_helper_program_supplies_the_password(
    registry: rh.RunningRegistry, layout: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-customhousetest"
    helper.write_text(
        "#!/bin/sh\nread -r server\n"
        f'[ "$server" = "{registry.host}" ] || {{ echo "credentials not found"; exit 1; }}\n'
        f'echo \'{{"ServerURL":"\'"$server"\'","Username":"{USER}","Secret":"{PASSWORD}"}}\'\n'
    )
    helper.chmod(helper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    _docker_config(
        tmp_path / "cfg", monkeypatch, {"credHelpers": {registry.host: "customhousetest"}}
    )
    _pull_and_compare(registry, layout)


def test_wrong_password_is_an_auth_error(
    registry: rh.RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _docker_config(tmp_path / "cfg", monkeypatch, {"auths": {registry.host: _auth(USER, "guess")}})
    with (
        pytest.raises(AuthError, match="refused the credentials") as info,
        open_image(f"{registry.host}/private/app:v1"),
    ):
        pass
    assert info.value.exit_code == 3
    assert "guess" not in str(info.value)


def test_anonymous_pull_of_a_private_repository_is_an_auth_error(
    registry: rh.RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _docker_config(tmp_path / "cfg", monkeypatch, {})
    with (
        pytest.raises(AuthError, match="no credentials configured") as info,
        open_image(f"{registry.host}/private/app:v1"),
    ):
        pass
    assert info.value.status == 401
