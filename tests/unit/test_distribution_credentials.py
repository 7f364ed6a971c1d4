"""Credentials from Docker's config.json and real docker-credential-* helper programs."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from customhouse.distribution import (
    Credentials,
    DockerConfigError,
    load_docker_config,
)
from customhouse.errors import AuthError


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _write_config(directory: Path, doc: object) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.json"
    path.write_text(json.dumps(doc))
    return path


AUTHS = {
    "auths": {
        "https://index.docker.io/v1/": {"auth": _b64("hubuser:hubpass")},
        "registry.example.com:5000": {"username": "alice", "password": "s3cret:with:colons"},
        "http://localhost:5000/v2/": {"auth": _b64("local:pw:x")},
        "ghcr.io": {"identitytoken": "refresh-123"},
        "quay.io": {},  # placeholder next to a credsStore
    }
}


@pytest.mark.parametrize(
    ("registry", "username", "password", "identity_token"),
    [
        ("docker.io", "hubuser", "hubpass", None),
        ("index.docker.io", "hubuser", "hubpass", None),
        ("registry-1.docker.io", "hubuser", "hubpass", None),
        ("registry.example.com:5000", "alice", "s3cret:with:colons", None),
        ("REGISTRY.example.com:5000", "alice", "s3cret:with:colons", None),
        ("localhost:5000", "local", "pw:x", None),
        ("ghcr.io", None, None, "refresh-123"),
    ],
)
def test_auths_entries_are_found_by_registry(
    tmp_path: Path,
    registry: str,
    username: str | None,
    password: str | None,
    identity_token: str | None,
) -> None:
    config = load_docker_config(_write_config(tmp_path, AUTHS))
    creds = config.credentials_for(registry)
    assert creds is not None
    assert (creds.username, creds.password, creds.identity_token) == (
        username,
        password,
        identity_token,
    )
    assert str(tmp_path / "config.json") in creds.source


@pytest.mark.parametrize(
    "registry", ["quay.io", "registry.example.com", "localhost:5001", "gcr.io"]
)
def test_registries_without_an_entry_have_no_credentials(tmp_path: Path, registry: str) -> None:
    config = load_docker_config(_write_config(tmp_path, AUTHS))
    assert config.credentials_for(registry) is None


def test_docker_config_variable_chooses_the_directory(tmp_path: Path) -> None:
    _write_config(tmp_path / "elsewhere", AUTHS)
    config = load_docker_config(environ={"DOCKER_CONFIG": str(tmp_path / "elsewhere")})
    assert config.path == tmp_path / "elsewhere" / "config.json"
    creds = config.credentials_for("docker.io")
    assert creds is not None and creds.username == "hubuser"


def test_missing_config_means_no_credentials(tmp_path: Path) -> None:
    config = load_docker_config(environ={"DOCKER_CONFIG": str(tmp_path / "nothing-here")})
    assert config.path is None
    assert config.credentials_for("docker.io") is None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "expected a JSON object"),
        ('{"auths": []}', "'auths' must be an object"),
        ('{"auths": {"r.io": "x"}}', "must be an object"),
        ('{"auths": {"r.io": {"auth": "%%%"}}}', "not base64"),
        ('{"auths": {"r.io": {"auth": "' + _b64("no-colon") + '"}}}', "does not decode"),
        ('{"auths": {"r.io": {"username": 5}}}', "must be a string"),
        ('{"credHelpers": {"r.io": "../../bin/sh"}}', "not a helper name"),
        ('{"credsStore": "a b"}', "not a helper name"),
    ],
)
def test_malformed_config_is_an_input_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(DockerConfigError, match=problem) as info:
        load_docker_config(path)
    assert str(path) in str(info.value)
    assert info.value.exit_code == 2


def test_secrets_do_not_appear_in_repr() -> None:
    creds = Credentials("alice", "hunter2", "refresh-xyz", "test")
    assert "hunter2" not in repr(creds)
    assert "refresh-xyz" not in repr(creds)
    assert "alice" in repr(creds)


# --- credential helpers: real programs on PATH ----------------------------------------

HELPER = """#!/bin/sh
# a docker-credential helper: the server URL arrives on stdin
read -r server
printf '%s\\n' "$server" >> "{log}"
case "$server" in
  registry.example.com:5000) echo '{{"ServerURL":"'"$server"'","Username":"helper-user","Secret":"helper-pass"}}' ;;
  https://index.docker.io/v1/) echo '{{"ServerURL":"'"$server"'","Username":"<token>","Secret":"hub-refresh"}}' ;;
  broken.example.com) echo 'not json' ;;
  failing.example.com) echo 'keychain is locked' >&2; exit 2 ;;
  *) echo 'credentials not found in native keychain'; exit 1 ;;
esac
"""


@pytest.fixture
def helper_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install ``docker-credential-testhelper`` on PATH; returns the file it logs URLs to."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "helper.log"
    program = bindir / "docker-credential-testhelper"
    program.write_text(HELPER.format(log=log))
    program.chmod(program.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return log


def test_cred_helper_supplies_username_and_secret(tmp_path: Path, helper_log: Path) -> None:
    config = load_docker_config(
        _write_config(
            tmp_path / "cfg", {"credHelpers": {"registry.example.com:5000": "testhelper"}}
        )
    )
    creds = config.credentials_for("registry.example.com:5000")
    assert creds is not None
    assert (creds.username, creds.password) == ("helper-user", "helper-pass")
    assert creds.source == "credential helper docker-credential-testhelper"
    assert helper_log.read_text() == "registry.example.com:5000\n"


def test_cred_helper_token_username_means_identity_token(tmp_path: Path, helper_log: Path) -> None:
    config = load_docker_config(
        _write_config(tmp_path / "cfg", {"credHelpers": {"docker.io": "testhelper"}})
    )
    creds = config.credentials_for("docker.io")
    assert creds is not None
    assert (creds.username, creds.password, creds.identity_token) == (None, None, "hub-refresh")
    # Docker Hub is asked for by its historical server URL
    assert helper_log.read_text() == "https://index.docker.io/v1/\n"


def test_creds_store_applies_to_every_registry(tmp_path: Path, helper_log: Path) -> None:
    config = load_docker_config(_write_config(tmp_path / "cfg", {"credsStore": "testhelper"}))
    creds = config.credentials_for("registry.example.com:5000")
    assert creds is not None and creds.username == "helper-user"


def test_helper_without_credentials_falls_back_to_auths(tmp_path: Path, helper_log: Path) -> None:
    doc = {
        "credsStore": "testhelper",
        "auths": {"other.example.com": {"auth": _b64("file-user:file-pass")}},
    }
    creds = load_docker_config(_write_config(tmp_path / "cfg", doc)).credentials_for(
        "other.example.com"
    )
    assert creds is not None and creds.username == "file-user"
    assert helper_log.read_text() == "other.example.com\n"


def test_cred_helper_wins_over_auths(tmp_path: Path, helper_log: Path) -> None:
    doc = {
        "credHelpers": {"registry.example.com:5000": "testhelper"},
        "auths": {"registry.example.com:5000": {"auth": _b64("file-user:file-pass")}},
    }
    creds = load_docker_config(_write_config(tmp_path / "cfg", doc)).credentials_for(
        "registry.example.com:5000"
    )
    assert creds is not None and creds.username == "helper-user"


def test_missing_helper_program_is_skipped(tmp_path: Path) -> None:
    doc = {
        "credHelpers": {"r.example.com": "not-installed-anywhere"},
        "auths": {"r.example.com": {"auth": _b64("u:p")}},
    }
    creds = load_docker_config(_write_config(tmp_path / "cfg", doc)).credentials_for(
        "r.example.com"
    )
    assert creds is not None and creds.username == "u"


@pytest.mark.parametrize(
    ("registry", "problem"),
    [("broken.example.com", "invalid JSON"), ("failing.example.com", "keychain is locked")],
)
def test_failing_helper_is_an_auth_error(
    tmp_path: Path, helper_log: Path, registry: str, problem: str
) -> None:
    config = load_docker_config(
        _write_config(tmp_path / "cfg", {"credHelpers": {registry: "testhelper"}})
    )
    with pytest.raises(AuthError, match=problem) as info:
        config.credentials_for(registry)
    assert info.value.exit_code == 3
