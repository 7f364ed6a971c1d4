"""Every rule fires on its triggering Dockerfile and stays quiet on its clean one."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from customhouse.dockerfile import RULES, lint_path

DATA = Path(__file__).resolve().parents[2] / "data" / "dockerfiles"
DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules"
IDS = [r.id for r in RULES]


@pytest.mark.parametrize("rule_id", IDS)
def test_rule_fires_on_its_triggering_dockerfile(rule_id: str) -> None:
    findings = lint_path(DATA / f"{rule_id}.bad.Dockerfile")
    assert rule_id in {f.rule for f in findings}


@pytest.mark.parametrize("rule_id", IDS)
def test_rule_is_quiet_on_its_clean_dockerfile(rule_id: str) -> None:
    findings = lint_path(DATA / f"{rule_id}.good.Dockerfile")
    assert rule_id not in {f.rule for f in findings}


@pytest.mark.parametrize("rule_id", IDS)
def test_rule_has_a_doc_page_with_what_why_fix_example(rule_id: str) -> None:
    text = (DOCS / f"{rule_id}.md").read_text()
    assert text.startswith(f"# {rule_id}")
    for section in ("## What", "## Why", "## Fix", "## Example"):
        assert section in text, section


def test_rule_ids_are_unique_and_in_the_ch1xx_range() -> None:
    assert len(IDS) == len(set(IDS))
    assert all(re.fullmatch(r"CH[1-9]\d\d", i) for i in IDS)


def test_every_test_dockerfile_belongs_to_a_rule() -> None:
    names = {p.name.split(".")[0] for p in DATA.glob("*.Dockerfile")}
    assert names == set(IDS)
