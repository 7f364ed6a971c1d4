"""Header grammars of the distribution client: WWW-Authenticate and Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from customhouse.distribution import (
    Challenge,
    RegistryClient,
    RetryPolicy,
    parse_retry_after,
    parse_www_authenticate,
)
from customhouse.errors import AuthError

Params = dict[str, str]

# (header value, [(scheme, params, token68)])
VALID_CHALLENGES: list[tuple[str, list[tuple[str, Params, str | None]]]] = [
    (
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
        'scope="repository:library/alpine:pull"',
        [
            (
                "bearer",
                {
                    "realm": "https://auth.docker.io/token",
                    "service": "registry.docker.io",
                    "scope": "repository:library/alpine:pull",
                },
                None,
            )
        ],
    ),
    ('Basic realm="Registry Realm"', [("basic", {"realm": "Registry Realm"}, None)]),
    (
        'Bearer realm="https://a/token", Basic realm="b"',
        [("bearer", {"realm": "https://a/token"}, None), ("basic", {"realm": "b"}, None)],
    ),
    # RFC 7235 section 4.1's example: two challenges, one with an escaped quote
    (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
        [
            ("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps"'}, None),
            ("basic", {"realm": "simple"}, None),
        ],
    ),
    ('Basic realm="a\\\\b\\c"', [("basic", {"realm": "a\\bc"}, None)]),
    # bad whitespace around '=' and ',' is allowed (BWS/OWS)
    (
        'Bearer realm = "x" ,\tservice=reg',
        [("bearer", {"realm": "x", "service": "reg"}, None)],
    ),
    # a comma inside a quoted string does not split anything
    (
        'Bearer realm="r",scope="repository:a/b:pull,push"',
        [("bearer", {"realm": "r", "scope": "repository:a/b:pull,push"}, None)],
    ),
    ("Negotiate abc123==", [("negotiate", {}, "abc123==")]),
    (
        "Negotiate a+b/c=, Basic realm=x",
        [("negotiate", {}, "a+b/c="), ("basic", {"realm": "x"}, None)],
    ),
    ('BEARER Realm="x"', [("bearer", {"realm": "x"}, None)]),
    ("Basic", [("basic", {}, None)]),
    ('  , Basic realm="a" ,, ', [("basic", {"realm": "a"}, None)]),
    ('Bearer realm=""', [("bearer", {"realm": ""}, None)]),
    ("", []),
]

INVALID_CHALLENGES = [
    ('Bearer realm="unterminated', "unterminated quoted string"),
    ('Bearer realm="a\\"', "unterminated quoted string"),
    ('Bearer realm="a", service=', "unexpected character '='"),
    ('Bearer realm="a" service="b"', "expected ','"),
    ('Bearer realm="a", realm="b"', "appears twice"),
    ('="x"', "expected an authentication scheme"),
    ("Bearer\trealm=x", "unexpected character"),
    ("Negotiate abc== def", "unexpected text after a token68"),
]


@pytest.mark.parametrize(("header", "expected"), VALID_CHALLENGES)
def test_www_authenticate_parses(
    header: str, expected: list[tuple[str, Params, str | None]]
) -> None:
    got = parse_www_authenticate(header)
    assert [(c.scheme, dict(c.params), c.token68) for c in got] == expected


@pytest.mark.parametrize(("header", "problem"), INVALID_CHALLENGES)
def test_www_authenticate_refuses_malformed(header: str, problem: str) -> None:
    with pytest.raises(AuthError, match=problem) as info:
        parse_www_authenticate(header)
    assert info.value.exit_code == 3


def test_www_authenticate_reads_several_header_lines_in_order() -> None:
    got = parse_www_authenticate('Basic realm="a"', 'Bearer realm="b",service="s"')
    assert [c.scheme for c in got] == ["basic", "bearer"]
    assert got[1].get("SERVICE") == "s"


def test_www_authenticate_refuses_huge_header() -> None:
    with pytest.raises(AuthError, match="too long"):
        parse_www_authenticate("Basic realm=" + "a" * 20_000)


def test_challenge_params_are_read_only() -> None:
    challenge = parse_www_authenticate("Basic realm=a")[0]
    assert isinstance(challenge, Challenge)
    with pytest.raises(TypeError):
        challenge.params["realm"] = "b"  # type: ignore[index]


NOW = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)

RETRY_AFTER = [
    ("120", 120.0),
    ("0", 0.0),
    (" 7 ", 7.0),
    ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # IMF-fixdate, 30 s ahead
    ("Wednesday, 21-Oct-15 07:29:00 GMT", 60.0),  # obsolete RFC 850 form
    ("Wed Oct 21 07:28:10 2015", 10.0),  # asctime form
    ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past: now
    ("-5", None),
    ("1.5", None),
    ("soon", None),
    ("", None),
    (None, None),
    ("\u0661\u0662", None),  # non-ASCII digits are not delta-seconds
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER)
def test_retry_after_parses(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == seconds


def test_retry_policy_backs_off_exponentially_up_to_the_cap() -> None:
    policy = RetryPolicy(attempts=8, base_delay=0.5, max_delay=3.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_retry_policy_prefers_retry_after_but_caps_it() -> None:
    policy = RetryPolicy(base_delay=0.5, max_retry_after=10.0)
    assert policy.delay(1, "4") == 4.0
    assert policy.delay(1, "86400") == 10.0  # a server cannot stall us for a day
    assert policy.delay(2, "garbage") == 1.0  # unparseable: plain backoff


@pytest.mark.parametrize(
    "kwargs", [{"attempts": 0}, {"base_delay": -1.0}, {"max_retry_after": -1.0}]
)
def test_retry_policy_refuses_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("registry", "insecure_registries", "insecure"),
    [
        ("127.0.0.1:5000", (), True),
        ("localhost:5000", (), True),
        ("[::1]:5000", (), True),
        ("127.1.2.3", (), True),
        ("registry.example.com", (), False),
        ("registry.example.com:5000", (), False),
        ("registry.example.com:5000", ("registry.example.com",), True),
        ("registry.example.com:5000", ("registry.example.com:5000",), True),
        ("registry.example.com:5000", ("registry.example.com:6000",), False),
        ("10.0.0.1:5000", ("10.0.0.2",), False),
        ("docker.io", (), False),
    ],
)
def test_plain_http_is_allowed_only_for_loopback_and_named_registries(
    registry: str, insecure_registries: tuple[str, ...], insecure: bool
) -> None:
    with RegistryClient(registry, insecure_registries=insecure_registries) as client:
        assert client.insecure is insecure
