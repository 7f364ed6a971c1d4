"""The merge of layer analyses: whiteout, opaque and layer-attribution semantics, and
inputs an untrusted image can make large (many packages in one file carried by several
layers, many whiteouts over many paths), which must take linear time, not quadratic."""

from __future__ import annotations

import random

from customhouse.catalog.analyze import LayerAnalysis, merge
from customhouse.catalog.interface import FileResult, Package


def _pkg(path: str, name: str, version: str = "1", ecosystem: str = "npm") -> Package:
    return Package(ecosystem, name, version, f"pkg:{ecosystem}/{name}@{version}", path)


def _file(path: str, *names: str, version: str = "1") -> FileResult:
    return FileResult(packages=[_pkg(path, n, version) for n in names])


def _layer(
    n: int,
    files: dict[str, FileResult] | None = None,
    whiteouts: list[str] | None = None,
    opaques: list[str] | None = None,
) -> LayerAnalysis:
    return LayerAnalysis(f"sha256:{n}", files=files, whiteouts=whiteouts, opaques=opaques)


def _found(layers: list[LayerAnalysis]) -> list[tuple[str, str, str, int | None, str | None]]:
    _, packages, _ = merge(layers)
    return [(p.path, p.name, p.version, p.layer, p.layer_diff_id) for p in packages]


# -- layer attribution ---------------------------------------------------------------


def test_package_attributed_to_lowest_layer_of_uninterrupted_run() -> None:
    f = "app/package-lock.json"
    layers = [
        _layer(0, {f: _file(f, "a", "b", "c")}),
        _layer(1, {f: _file(f, "a", "c")}),  # b missing here
        _layer(2, {f: _file(f, "a", "b", "c", "d")}),
    ]
    assert _found(layers) == [
        (f, "a", "1", 0, "sha256:0"),
        (f, "b", "1", 2, "sha256:2"),  # interrupted in layer 1
        (f, "c", "1", 0, "sha256:0"),
        (f, "d", "1", 2, "sha256:2"),
    ]


def test_attribution_compares_ecosystem_name_and_version() -> None:
    f = "app/package-lock.json"
    layers = [
        _layer(0, {f: FileResult(packages=[_pkg(f, "a", "1"), _pkg(f, "b", "1", "pypi")])}),
        _layer(1, {f: FileResult(packages=[_pkg(f, "a", "2"), _pkg(f, "b", "1")])}),
    ]
    assert _found(layers) == [
        (f, "a", "2", 1, "sha256:1"),  # another version
        (f, "b", "1", 1, "sha256:1"),  # another ecosystem
    ]


def test_layer_without_the_file_does_not_interrupt_but_a_whiteout_does() -> None:
    f = "app/package-lock.json"
    layers = [
        _layer(0, {f: _file(f, "a")}),
        _layer(1, {"other/package-lock.json": _file("other/package-lock.json", "z")}),
        _layer(2, {f: _file(f, "a")}),
        _layer(3, whiteouts=["other"]),
    ]
    assert _found(layers) == [(f, "a", "1", 0, "sha256:0")]
    layers = [
        _layer(0, {f: _file(f, "a")}),
        _layer(1, whiteouts=["app"]),
        _layer(2, {f: _file(f, "a")}),
    ]
    assert _found(layers) == [(f, "a", "1", 2, "sha256:2")]


def test_duplicate_packages_in_one_file_each_attributed() -> None:
    f = "app/package-lock.json"
    layers = [
        _layer(0, {f: _file(f, "a")}),
        _layer(1, {f: _file(f, "a", "a", "b")}),
    ]
    assert _found(layers) == [
        (f, "a", "1", 0, "sha256:0"),
        (f, "a", "1", 0, "sha256:0"),
        (f, "b", "1", 1, "sha256:1"),
    ]


# -- whiteouts and opaque directories --------------------------------------------------

PATHS = [
    "usr/lib",  # a file named like the directory whited out
    "usr/lib/a/package.json",
    "usr/lib/b/c/package.json",
    "usr/lib64/package.json",  # shares the string prefix only
    "usr/li/package.json",
    "usr/lib.json",
    "usr/libx",
    "usr//lib/package.json",  # empty component: not under "usr/lib"
    "opt/package.json",
]


def _all_paths() -> LayerAnalysis:
    return _layer(0, {p: _file(p, "n") for p in PATHS})


def _paths(layers: list[LayerAnalysis]) -> list[str]:
    return sorted(path for path, *_ in _found(layers))


def test_whiteout_removes_path_and_everything_under_it() -> None:
    layers = [_all_paths(), _layer(1, whiteouts=["usr/lib"])]
    assert _paths(layers) == sorted(
        set(PATHS) - {"usr/lib", "usr/lib/a/package.json", "usr/lib/b/c/package.json"}
    )


def test_whiteout_of_file_deep_path_and_absent_paths() -> None:
    layers = [
        _all_paths(),
        _layer(1, whiteouts=["usr/lib/b/c/package.json", "usr/lib/zz", "nope", "usr/lib/a/"]),
    ]
    assert _paths(layers) == sorted(set(PATHS) - {"usr/lib/b/c/package.json"})


def test_whiteout_with_empty_component() -> None:
    layers = [_all_paths(), _layer(1, whiteouts=["usr/"])]
    assert _paths(layers) == sorted(set(PATHS) - {"usr//lib/package.json"})


def test_opaque_keeps_the_directory_itself() -> None:
    layers = [_all_paths(), _layer(1, opaques=["usr/lib"])]
    assert _paths(layers) == sorted(
        set(PATHS) - {"usr/lib/a/package.json", "usr/lib/b/c/package.json"}
    )


def test_root_whiteout_and_root_opaque() -> None:
    layers = [
        _layer(0, {p: _file(p, "n") for p in [*PATHS, "", "/abs/package.json"]}),
        _layer(1, opaques=[""]),
    ]
    assert _paths(layers) == [""]  # an opaque root keeps only the path "" itself
    layers = [
        _layer(0, {p: _file(p, "n") for p in [*PATHS, "", "/abs/package.json"]}),
        _layer(1, whiteouts=[""]),
        _layer(2, {"opt/package.json": _file("opt/package.json", "n")}),
    ]
    assert _found(layers) == [("opt/package.json", "n", "1", 2, "sha256:2")]


def test_whiteouts_apply_before_the_layers_own_files() -> None:
    f = "usr/lib/a/package.json"
    layers = [
        _all_paths(),
        _layer(1, {f: _file(f, "n"), "usr/lib/new.json": _file("usr/lib/new.json", "m")}, ["usr"]),
        _layer(2, opaques=["usr/lib/a"]),
        _layer(3, {f: _file(f, "n")}),
    ]
    assert _found(layers) == [
        ("usr/lib/new.json", "m", "1", 1, "sha256:1"),
        ("opt/package.json", "n", "1", 0, "sha256:0"),
        (f, "n", "1", 3, "sha256:3"),
    ]


def test_path_removed_and_restored_repeatedly() -> None:
    f = "a/b/c/package.json"
    layers: list[LayerAnalysis] = []
    for i in range(0, 30, 3):
        layers += [
            _layer(i, {f: _file(f, "n")}),
            _layer(i + 1, whiteouts=["a/b"] if i % 2 else ["a"]),
            _layer(i + 2, opaques=["a/b/c"]),
        ]
    layers.append(_layer(30, {f: _file(f, "n")}))
    layers.append(_layer(31, {f: _file(f, "n")}))
    assert _found(layers) == [(f, "n", "1", 30, "sha256:30")]


# -- against a plain model of the semantics ------------------------------------------


def _model(layers: list[LayerAnalysis]) -> list[tuple[str, str, str, int | None, str | None]]:
    """Each path's layer history, rebuilt by testing every path against every removal."""

    def under(path: str, prefix: str) -> bool:
        return not prefix or path == prefix or path.startswith(prefix + "/")

    history: dict[str, list[tuple[int, FileResult]]] = {}
    for idx, a in enumerate(layers):
        for w in a.whiteouts:
            history = {p: h for p, h in history.items() if not under(p, w)}
        for o in a.opaques:
            history = {p: h for p, h in history.items() if p == o or not under(p, o)}
        for p, r in a.files.items():
            history.setdefault(p, []).append((idx, r))
    out = []
    for hist in history.values():
        for pkg in hist[-1][1].packages:
            layer = hist[-1][0]
            for idx, r in reversed(hist[:-1]):
                if (pkg.ecosystem, pkg.name, pkg.version) not in {
                    (q.ecosystem, q.name, q.version) for q in r.packages
                }:
                    break
                layer = idx
            out.append((pkg.path, pkg.name, pkg.version, layer, layers[layer].diff_id))
    return sorted(out, key=lambda t: (t[1], t[2], t[0]))


def test_random_layers_agree_with_the_model() -> None:
    rnd = random.Random(16)
    parts = ["", "a", "b", "a.b", "c", "x/"]

    def path() -> str:
        return "/".join(rnd.choice(parts) for _ in range(rnd.randint(0, 4)))

    for _ in range(1500):
        pool = [path() for _ in range(rnd.randint(1, 10))]
        layers = []
        for n in range(rnd.randint(1, 6)):
            files = {}
            for _ in range(rnd.randint(0, 5)):
                p = rnd.choice(pool)
                names = rnd.sample("pqrs", rnd.randint(0, 3))
                files[p] = _file(p, *names, version=rnd.choice("12"))
            layers.append(
                _layer(
                    n,
                    files,
                    [rnd.choice([*pool, path()]) for _ in range(rnd.randint(0, 2))],
                    [rnd.choice([*pool, path(), ""]) for _ in range(rnd.randint(0, 2))],
                )
            )
        assert _found(layers) == _model(layers)


# -- large hostile inputs: these complete quickly only if the merge is linear ----------


def test_same_large_lockfile_in_two_layers() -> None:
    f = "app/package-lock.json"
    names = [f"p{i}" for i in range(20_000)]
    layers = [_layer(0, {f: _file(f, *names)}), _layer(1, {f: _file(f, *names, "extra")})]
    found = _found(layers)
    assert len(found) == 20_001
    assert [t for t in found if t[1] == "extra"] == [(f, "extra", "1", 1, "sha256:1")]
    assert {(t[3], t[4]) for t in found if t[1] != "extra"} == {(0, "sha256:0")}


def test_many_whiteouts_over_many_paths() -> None:
    site = "usr/lib/python3/site-packages"
    paths = [f"{site}/p{i}-1.dist-info/METADATA" for i in range(10_000)]
    whiteouts = [f"tmp/w{j}" for j in range(10_000)]  # miss
    whiteouts += [f"{site}/p{i}-1.dist-info" for i in range(0, 10_000, 2)]  # hit the even ones
    layers = [
        _layer(0, {p: _file(p, p.split("/")[4]) for p in paths}),
        _layer(1, whiteouts=whiteouts),
    ]
    assert _paths(layers) == sorted(paths[1::2])
