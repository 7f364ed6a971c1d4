"""Leak detection on images built from real layers: four planted leaks, redaction, ignores, false positives."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from customhouse.leaks.detector import LeakDetector, redact
from customhouse.leaks.engine import CHUNK, ContentScanner
from customhouse.leaks.rules import RuleError, default_rules, parse_rules
from customhouse.sources import open_image
from helpers.imagewriter import Layer, directory, file, whiteout, write_layout

# test-only credentials: random-looking, never valid anywhere
NPM_TOKEN = "npm_" + "Q3vLx9TzR2mWk8YpN4bHc7JdF5sGa1Ue6Xo0"
GH_TOKEN = "ghp_" + "Zr8KqW3nT5vX1mB7cY9dL2fH4jP6sA0eG8uQ"
DB_PASSWORD = "Xk9vT2qLm8Rw4Zp"


def _rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


@pytest.fixture(scope="module")
def leaky(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes]:
    pem = _rsa_pem()
    root = tmp_path_factory.mktemp("leaky") / "layout"
    layers = [
        Layer(
            [
                directory("root"),
                directory("root/.ssh", mode=0o700),
                file("root/.ssh/id_rsa", pem, mode=0o600),
            ]
        ),
        Layer([whiteout("root/.ssh/id_rsa")]),
        Layer(
            [
                directory("app"),
                file("app/.env", f"APP_ENV=prod\nDB_PASSWORD={DB_PASSWORD}\n".encode()),
            ]
        ),
        Layer(
            [
                directory("app/.git"),
                file("app/.git/HEAD", b"ref: refs/heads/main\n"),
                file(
                    "app/.git/config",
                    (
                        "[core]\n\trepositoryformatversion = 0\n"
                        f'[remote "origin"]\n\turl = https://deploy:{GH_TOKEN}@github.com/acme/app.git\n'
                    ).encode(),
                ),
            ]
        ),
    ]
    history = [
        {"created_by": "COPY id_rsa /root/.ssh/id_rsa # buildkit"},
        {"created_by": "RUN /bin/sh -c rm /root/.ssh/id_rsa # buildkit"},
        {"created_by": "COPY .env /app/.env # buildkit"},
        {
            "created_by": f"|1 NPM_TOKEN={NPM_TOKEN} /bin/sh -c npm ci && cp -r .git /app/.git # buildkit"
        },
    ]
    img = write_layout(root, layers, config_extra={"history": history})
    return img.source, pem


def _findings(source: str) -> list:
    d = LeakDetector()
    with open_image(source) as image:
        report = d.scan_image(image)
        return report.findings + d.scan_config(image)


def test_all_four_planted_leaks_are_found(leaky: tuple[str, bytes]) -> None:
    source, _ = leaky
    found = {(f.rule_id, f.path, f.layer, f.status) for f in _findings(source)}
    # 1. a key added in one layer and removed in the next: still shipped in layer 0
    assert ("private-key", "root/.ssh/id_rsa", 0, "deleted-in-later-layer") in found
    assert ("ssh-private-key-file", "root/.ssh/id_rsa", 0, "deleted-in-later-layer") in found
    # 2. a token passed as a build argument, visible in the history of layer 3
    assert ("npm-token", "history[3]", 3, "config") in found
    assert ("secret-in-env", "history[3]", 3, "config") in found
    # 3. an .env file with a password
    assert ("password-in-config", "app/.env", 2, "present") in found
    # 4. a .git directory, with credentials in its config
    assert ("git-directory", "app/.git", 3, "present") in found
    assert ("url-credentials", "app/.git/config", 3, "present") in found
    assert ("github-token", "app/.git/config", 3, "present") in found


def test_deleted_key_names_the_layer_that_removed_it(leaky: tuple[str, bytes]) -> None:
    (f,) = [f for f in _findings(leaky[0]) if f.rule_id == "private-key"]
    assert f.removed_in_layer == 1 and f.line == 1 and f.extra["encrypted"] == "no"
    assert f.history == "COPY id_rsa /root/.ssh/id_rsa # buildkit"


@pytest.mark.parametrize("fmt", ["json", "sarif", "table"])
def test_no_raw_secret_in_any_output_format(
    leaky: tuple[str, bytes], fmt: str, tmp_path: Path
) -> None:
    source, pem = leaky
    out = tmp_path / f"out.{fmt}"
    proc = subprocess.run(
        [sys.executable, "-m", "customhouse", "secrets", source, "--format", fmt, "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 1, proc.stderr  # findings fail the gate
    text = out.read_text() + proc.stdout + proc.stderr
    body = b"".join(pem.splitlines()[1:-1]).decode()
    for secret in (NPM_TOKEN, GH_TOKEN, DB_PASSWORD, body[:40], body[100:140]):
        assert secret not in text
    if fmt == "json":
        doc = json.loads(out.read_text())
        assert len(doc["findings"]) >= 8
    if fmt == "sarif":
        doc = json.loads(out.read_text())
        assert doc["version"] == "2.1.0" and doc["runs"][0]["results"]


def test_ignore_file_suppresses_by_path_rule_and_fingerprint(
    leaky: tuple[str, bytes], tmp_path: Path
) -> None:
    source, _ = leaky
    fp = next(f.fingerprint for f in _findings(source) if f.rule_id == "password-in-config")
    (tmp_path / ".customhouse-ignore.yaml").write_text(
        "secrets:\n"
        "  - path: app/.git/**\n    reason: vendored repo, token revoked\n"
        "  - rule: git-directory\n    path: app/.git\n    reason: reviewed\n"
        f"  - fingerprint: {fp}\n    reason: dummy password for CI\n"
        "  - rule: jwt\n    reason: expired one\n    expires: 2001-01-01\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "customhouse", "secrets", source, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    doc = json.loads(proc.stdout)
    rules_left = {(f["rule"], f.get("path")) for f in doc["findings"]}
    assert ("password-in-config", "app/.env") not in rules_left
    assert not any(p and p.startswith("app/.git") for _, p in rules_left)
    assert ("private-key", "root/.ssh/id_rsa") in rules_left
    assert {s["reason"] for s in doc["suppressed"]} >= {
        "vendored repo, token revoked",
        "dummy password for CI",
    }
    assert doc["expired_ignores"] and "expired" in proc.stderr


def test_clean_image_exits_zero(tmp_path: Path) -> None:
    img = write_layout(
        tmp_path / "clean",
        [Layer([file("etc/motd", b"welcome\n"), file("bin/tool", b"\x7fELF\0\0")])],
    )
    proc = subprocess.run(
        [sys.executable, "-m", "customhouse", "secrets", img.source, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"] == []


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("aws-access-key-id", "key = AKIAQYLPMN5HHHFPZAM2\n"),
        (
            "aws-secret-access-key",
            "aws_secret_access_key = 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\n",
        ),
        ("github-token", f"token: {GH_TOKEN}\n"),
        ("gitlab-token", "GITLAB=glpat-Ab3dE5gH7jK9mN1pQ3sT\n"),
        ("slack-token", "SLACK=xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOp\n"),
        ("stripe-key", "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc\n"),
        ("sendgrid-key", "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\n"),
        ("npm-token", f"//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"),
        (
            "jwt",
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\n",
        ),
        (
            "azure-storage-key",
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey="
            + "A" * 20
            + "b" * 30
            + "C9+/" * 9
            + "==\n",
        ),
        (
            "gcp-service-account",
            '{"type": "service_account", "private_key_id": "' + "a1b2c3d4e5" * 4 + '"}\n',
        ),
        ("url-credentials", "DATABASE_URL=postgres://app:S3cr3tPw@db.internal:5432/app\n"),
    ],
)
def test_each_content_rule_triggers(rule: str, text: str) -> None:
    rules = {
        m.rule.id
        for m in ContentScanner(default_rules()).scan_bytes(text.encode(), "app/settings.txt")
    }
    assert rule in rules


@pytest.mark.parametrize(
    "text",
    [
        "see https://user:password@example.com for the format\n",  # documentation placeholder
        "-----BEGIN RSA PRIVATE KEY-----\n",  # a header without a key body (docs, parsers)
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n",  # AWS's documented example key
        "msg.send(x); npm_config_cache = 1\n",
        "Asia/Kolkata timezone\n",
    ],
)
def test_placeholders_and_lookalikes_do_not_trigger(text: str) -> None:
    assert ContentScanner(default_rules()).scan_bytes(text.encode(), "README") == []


def test_scoped_rules_apply_only_to_their_files() -> None:
    s = ContentScanner(default_rules())
    text = b"password = hunter2hunter2\n"
    assert {m.rule.id for m in s.scan_bytes(text, "srv/app/config.yaml")} == {"password-in-config"}
    assert s.scan_bytes(text, "usr/share/doc/readme.txt") == []


def test_matches_across_chunk_boundaries_are_found_once() -> None:
    s = ContentScanner(default_rules())
    pad = b"x" * (CHUNK - 10) + b"\n"
    data = pad + f"token {GH_TOKEN}\n".encode() + pad + f"again {GH_TOKEN}\n".encode()
    chunks = [data[i : i + 777_777] for i in range(0, len(data), 777_777)]
    matches = [m for m in s.scan_chunks(chunks, "f") if m.rule.id == "github-token"]
    assert [m.line for m in matches] == [2, 4]
    assert [m.offset for m in matches] == [
        len(pad) + 6,
        2 * len(pad) + len(f"token {GH_TOKEN}\n") + 6,
    ]


def test_redaction_never_reveals_the_secret() -> None:
    for secret in (NPM_TOKEN, GH_TOKEN, DB_PASSWORD, "short"):
        r = redact(secret)
        assert secret not in r and len(r.rstrip("*")) <= 4


def test_rule_file_validation() -> None:
    with pytest.raises(RuleError, match="secret"):
        parse_rules(
            {"rules": [{"id": "x", "severity": "LOW", "keywords": ["a"], "regex": "a"}]}, "t"
        )
    with pytest.raises(RuleError, match="lowercase"):
        parse_rules(
            {
                "rules": [
                    {"id": "x", "severity": "LOW", "keywords": ["A"], "regex": "(?P<secret>a)"}
                ]
            },
            "t",
        )
    with pytest.raises(RuleError, match="severity"):
        parse_rules({"rules": [{"id": "x", "severity": "BAD", "files": ["a"]}]}, "t")


def test_no_false_positives_on_alpine_fixtures(shared_dir: Path, tmp_path: Path) -> None:
    for tarball in sorted((shared_dir / "fixtures" / "alpine").glob("*.tar.gz")):
        img = write_layout(
            tmp_path / tarball.name, [Layer(tar=gzip.decompress(tarball.read_bytes()))]
        )
        assert [(f.rule_id, f.path) for f in _findings(img.source)] == [], tarball.name


def test_no_false_positives_on_image_fixtures(shared_dir: Path) -> None:
    root = shared_dir / "fixtures" / "images"
    sources = [
        f"oci:{root / 'layout' / 'test_index_one_image'}",
        f"docker-archive:{root / 'tarball' / 'hello-world-v25.tar'}",
        f"docker-archive:{root / 'tarball' / 'test_image_1.tar'}",
        f"docker-archive:{root / 'tarball' / 'test_link.tar'}:@1",
    ]
    for source in sources:
        assert _findings(source) == [], source
