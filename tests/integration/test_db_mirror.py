"""db push / db pull through Debian's docker-registry: an air-gapped mirror gets an identical DB."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import registry_helpers as rh

from customhouse.advisories.bundle import ARTIFACT_TYPE, LAYER_SQLITE, pull_db, push_db
from customhouse.advisories.feeds.debian import convert_tracker
from customhouse.advisories.osv import parse_vulnerability
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.distribution import Credentials
from customhouse.errors import AuthError, DigestMismatchError
from helpers import run_cli

pytestmark = pytest.mark.integration

DATA = Path(__file__).parents[1] / "data" / "advisories"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def source_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "advisories.db"
    tracker = convert_tracker(
        json.loads((DATA / "debian" / "tracker.json").read_text()), modified="2025-01-01T00:00:00Z"
    )
    records = [
        parse_vulnerability(json.loads(p.read_text()))
        for p in sorted((DATA / "osv" / "PyPI").glob("*.json"))
    ]
    with StoreBuilder(path) as b:
        b.add(records, "osv:PyPI")
        b.set_source("osv:PyPI", url="https://osv-vulnerabilities.storage.googleapis.com/PyPI")
        b.add(tracker.records, "debian")
        b.set_source("debian", url="https://security-tracker.debian.org/tracker/data/json")
    return path


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rh.RunningRegistry]:
    try:
        rh.require_registry_tools()
    except rh.RegistryUnavailable as e:
        pytest.skip(f"cannot run a registry here: {e}")
    with rh.running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(autouse=True)
def _no_host_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def test_cli_push_then_pull_into_empty_data_dir_gives_identical_db(
    registry: rh.RunningRegistry, source_db: Path, tmp_path: Path
) -> None:
    ref = f"{registry.host}/mirror/advisories:latest"
    r = run_cli("db", "push", ref, cwd=tmp_path, env={"CUSTOMHOUSE_DB": str(source_db)})
    assert r.returncode == 0, r.stderr
    assert f"sha256:{_sha256(source_db)}" in r.stdout

    fresh = tmp_path / "airgap" / "data"  # the XDG data dir of another machine, empty
    r = run_cli("db", "pull", ref, cwd=tmp_path, env={"XDG_DATA_HOME": str(fresh)})
    assert r.returncode == 0, r.stderr
    pulled = fresh / "customhouse" / "advisories.db"
    assert _sha256(pulled) == _sha256(source_db)
    r = run_cli("db", "show", "CVE-2023-38545", cwd=tmp_path, env={"XDG_DATA_HOME": str(fresh)})
    assert r.returncode == 0 and "DEBIAN-CVE-2023-38545" in r.stdout


def test_artifact_manifest_shape(registry: rh.RunningRegistry, source_db: Path) -> None:
    import urllib.request

    result = push_db(source_db, f"{registry.host}/mirror/shape:v1", compress=False)
    req = urllib.request.Request(
        f"{registry.url}/v2/mirror/shape/manifests/v1",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    with urllib.request.urlopen(req) as resp:
        body = resp.read()
    assert f"sha256:{hashlib.sha256(body).hexdigest()}" == str(result.manifest_digest)
    doc = json.loads(body)
    assert doc["artifactType"] == ARTIFACT_TYPE
    assert doc["config"]["mediaType"] == "application/vnd.oci.empty.v1+json"
    (layer,) = doc["layers"]
    assert layer["mediaType"] == LAYER_SQLITE
    assert layer["digest"] == f"sha256:{_sha256(source_db)}"  # uncompressed: the file itself
    assert layer["size"] == source_db.stat().st_size


def test_chunked_upload_and_pull_by_digest(
    registry: rh.RunningRegistry, source_db: Path, tmp_path: Path
) -> None:
    result = push_db(
        source_db, f"{registry.host}/mirror/chunked:v1", compress=False, chunk_size=16 * 1024
    )
    assert result.layer_size > 3 * 16 * 1024  # really several PATCH requests
    dest = tmp_path / "pulled.db"
    pull_db(f"{registry.host}/mirror/chunked@{result.manifest_digest}", dest)
    assert _sha256(dest) == _sha256(source_db)
    # pushing the same database again sends no blob: the registry has them
    again = push_db(source_db, f"{registry.host}/mirror/chunked:v2", compress=False)
    assert again.uploaded == 0 and again.layer_digest == result.layer_digest


def test_pull_refuses_to_overwrite_without_force(
    registry: rh.RunningRegistry, source_db: Path, tmp_path: Path
) -> None:
    push_db(source_db, f"{registry.host}/mirror/force:v1")
    dest = tmp_path / "existing.db"
    dest.write_bytes(b"keep me")
    r = run_cli(
        "db",
        "pull",
        f"{registry.host}/mirror/force:v1",
        cwd=tmp_path,
        env={"CUSTOMHOUSE_DB": str(dest)},
    )
    assert r.returncode == 2 and "--force" in r.stderr
    assert dest.read_bytes() == b"keep me"
    r = run_cli(
        "db",
        "pull",
        "--force",
        f"{registry.host}/mirror/force:v1",
        cwd=tmp_path,
        env={"CUSTOMHOUSE_DB": str(dest)},
    )
    assert r.returncode == 0, r.stderr
    assert _sha256(dest) == _sha256(source_db)


def test_tampered_blob_in_the_registry_is_detected_and_nothing_written(
    registry: rh.RunningRegistry, source_db: Path, tmp_path: Path
) -> None:
    result = push_db(source_db, f"{registry.host}/mirror/tampered:v1", compress=False)
    blob = registry.blob_path(str(result.layer_digest))
    original = blob.read_bytes()
    try:
        data = bytearray(original)
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
        dest = tmp_path / "t.db"
        with pytest.raises(DigestMismatchError):
            pull_db(f"{registry.host}/mirror/tampered:v1", dest)
        assert not dest.exists()
        assert sorted(tmp_path.iterdir()) == []
    finally:
        blob.write_bytes(original)


def test_push_and_pull_with_token_authentication(source_db: Path, tmp_path: Path) -> None:
    try:
        rh.require_registry_tools()
    except rh.RegistryUnavailable as e:
        pytest.skip(f"cannot run a registry here: {e}")
    with (
        rh.token_issuer(tmp_path / "issuer") as issuer,
        rh.running_registry(tmp_path / "reg", issuer=issuer) as reg,
    ):
        ref = f"{reg.host}/private/advisories:v1"
        with pytest.raises(AuthError):  # anonymous tokens carry no access
            push_db(source_db, ref)
        alice = Credentials("alice", "wonderland", source="test")
        push_db(source_db, ref, credentials=alice)
        assert any(
            "repository:private/advisories:pull,push" in r["scopes"] for r in issuer.requests
        )
        dest = tmp_path / "pulled.db"
        # through docker's config.json, as the CLI would find it
        config = tmp_path / "docker-config"
        config.mkdir(exist_ok=True)
        auth = base64.b64encode(b"alice:wonderland").decode()
        (config / "config.json").write_text(json.dumps({"auths": {reg.host: {"auth": auth}}}))
        pull_db(ref, dest)
        assert _sha256(dest) == _sha256(source_db)
        with AdvisoryStore(dest) as store:
            assert {s.name for s in store.sources()} == {"osv:PyPI", "debian"}
