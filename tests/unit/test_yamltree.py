"""YAML from untrusted input is loaded without aliases (alias and merge-key bombs)."""

from __future__ import annotations

import pytest
import yaml

from customhouse.yamltree import YamlAliasError, load_without_aliases

LOADERS = [yaml.SafeLoader, *([yaml.CSafeLoader] if hasattr(yaml, "CSafeLoader") else [])]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    "text",
    [
        "a: 1\nb: [1, 2, {c: [3]}]\n",
        "a: &anchored [1]\nb: 2\n",  # an anchor alone multiplies nothing
        "spec: '*'\nglob: \"**/*.py\"\nmarkdown: |\n  **bold** and *em*\n",  # '*' in scalars
        "",
    ],
)
def test_documents_without_aliases_load_as_yaml_load_does(text: str, loader: type) -> None:
    for data in (text, text.encode()):
        assert load_without_aliases(data, loader) == yaml.load(data, Loader=loader)


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: &s text\nb: *s\n", "*s (line 2, column 4)"),  # even of a string: none is needed
        ("a: &l [1]\nb: [*l]\n", "*l (line 2, column 5)"),
        ("a: &r [1, *r]\n", "*r (line 1, column 11)"),  # a list that holds itself
        ("base: &b {k: v}\nx: {<<: *b, y: 1}\n", "*b (line 2, column 9)"),  # a merge key
    ],
)
def test_any_alias_is_refused_naming_it(text: str, where: str, loader: type) -> None:
    with pytest.raises(YamlAliasError) as e:
        load_without_aliases(text.encode(), loader)
    assert str(e.value) == f"a YAML alias {where} (an alias bomb?): not accepted"


def test_a_billion_strings_in_600_bytes_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(lines)
    assert len(text) < 600
    with pytest.raises(YamlAliasError, match=r"alias \*a0 \(line 2"):
        load_without_aliases(text, LOADERS[-1])


@pytest.mark.parametrize("text", ["a: [1,\n", "a: '*\n", "a: *undefined\n"])
def test_invalid_yaml_raises_a_yaml_error_or_the_alias_error(text: str) -> None:
    with pytest.raises((yaml.YAMLError, YamlAliasError)) as e:
        load_without_aliases(text, LOADERS[-1])
    assert isinstance(e.value, YamlAliasError) == ("*u" in text)  # an alias all the same
