"""customhouse lint --image: the rules that still apply, read from an image's history."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli
from helpers.imagewriter import Layer, file, write_layout


def _image(tmp: Path, history: list[str], user: str | None = None) -> str:
    layers = [Layer([file(f"f{i}", b"x")]) for i in range(len(history))]
    extra: dict = {"history": [{"created_by": h} for h in history]}
    if user is not None:
        extra["config"] = {"User": user}
    return write_layout(tmp / "img", layers, config_extra=extra).source


def test_history_findings_from_a_built_image(tmp_path: Path) -> None:
    src = _image(
        tmp_path,
        [
            "ADD http://example.com/tool.tar.gz /opt/ # buildkit",
            "|1 API_TOKEN=s3cr3tvalue123 /bin/sh -c curl -fsSL https://get.example.com | sh # buildkit",
        ],
    )
    proc = run_cli("lint", "--image", src, "--format", "json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    rules = (
        {f["rule"] for f in json.loads(proc.stdout)["findings"]}
        if proc.stdout.lstrip().startswith("{")
        else {f["rule"] for f in json.loads(proc.stdout)}
    )
    assert {"CH501"} <= rules  # no USER in the config: root
    assert rules & {"CH201", "CH301"}  # ADD over http / download used unverified
    assert "CH401" in rules  # a credential passed as a build argument
    assert "s3cr3tvalue123" not in proc.stdout


def test_config_user_answers_the_root_question(tmp_path: Path) -> None:
    src = _image(tmp_path, ["COPY app /app # buildkit"], user="1000:1000")
    proc = run_cli("lint", "--image", src, "--format", "json", cwd=tmp_path)
    out = json.loads(proc.stdout)
    findings = out["findings"] if isinstance(out, dict) else out
    assert "CH501" not in {f["rule"] for f in findings}


def test_image_without_history_is_an_input_error(tmp_path: Path) -> None:
    src = write_layout(tmp_path / "img", [Layer([file("a", b"x")])], history=False).source
    proc = run_cli("lint", "--image", src, cwd=tmp_path)
    assert proc.returncode == 2 and "no build history" in proc.stderr
