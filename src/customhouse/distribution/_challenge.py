"""``WWW-Authenticate`` challenges (RFC 9110 section 11.6.1), parsed into values.

Grammar (RFC 9110 sections 11.2, 5.6.2 and 5.6.4)::

    WWW-Authenticate = #challenge
    challenge        = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
    auth-param       = token BWS "=" BWS ( token / quoted-string )
    token68          = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    quoted-string    = DQUOTE *( qdtext / quoted-pair ) DQUOTE

A comma separates both challenges and the parameters of one challenge, so after a
comma the parser looks ahead: ``token BWS "="`` continues the current challenge's
parameters, anything else starts a new challenge. Scheme and parameter names are
case-insensitive and are lower-cased; values keep their case. A parameter that
appears twice in one challenge is refused (RFC 9110: "each parameter name MUST
only occur once per challenge").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from customhouse.errors import AuthError

__all__ = ["Challenge", "parse_www_authenticate"]

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_OWS = " \t"
_MAX_HEADER = 16 * 1024


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge: ``scheme`` lower-cased, ``params`` with lower-cased names."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    token68: str | None = None

    def get(self, name: str) -> str | None:
        return self.params.get(name.lower())


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, problem: str) -> AuthError:
        shown = self.s if len(self.s) <= 200 else self.s[:197] + "..."
        return AuthError(
            f"malformed WWW-Authenticate header {shown!r}: {problem} at offset {self.i}"
        )

    def skip_ows(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _OWS:
            self.i += 1

    def skip_list_separators(self) -> None:
        # "#rule" allows empty elements: ", ,"
        while True:
            self.skip_ows()
            if self.i < len(self.s) and self.s[self.i] == ",":
                self.i += 1
                continue
            return

    def at_end(self) -> bool:
        return self.i >= len(self.s)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def token(self) -> str | None:
        m = _TOKEN.match(self.s, self.i)
        if m is None:
            return None
        self.i = m.end()
        return m.group()

    def quoted_string(self) -> str:
        assert self.peek() == '"'
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch == '"':
                self.i += 1
                return "".join(out)
            if ch == "\\":
                if self.i + 1 >= len(self.s):
                    break
                out.append(self.s[self.i + 1])
                self.i += 2
                continue
            if ch in "\r\n\x00":
                raise self.fail("control character inside a quoted string")
            out.append(ch)
            self.i += 1
        raise self.fail("unterminated quoted string")

    def param_ahead(self) -> bool:
        """Is the text at the cursor ``token BWS "="`` followed by a value?"""
        m = _TOKEN.match(self.s, self.i)
        if m is None:
            return False
        j = m.end()
        while j < len(self.s) and self.s[j] in _OWS:
            j += 1
        if j >= len(self.s) or self.s[j] != "=":
            return False
        j += 1
        while j < len(self.s) and self.s[j] in _OWS:
            j += 1
        # "abc==" is a token68, not a parameter with an empty value
        return j < len(self.s) and (self.s[j] == '"' or bool(_TOKEN.match(self.s, j)))

    def param(self, params: dict[str, str]) -> None:
        name = self.token()
        assert name is not None
        self.skip_ows()
        assert self.peek() == "="
        self.i += 1
        self.skip_ows()
        if self.peek() == '"':
            value = self.quoted_string()
        else:
            tok = self.token()
            if tok is None:
                raise self.fail(f"parameter {name!r} has no value")
            value = tok
        key = name.lower()
        if key in params:
            raise self.fail(f"parameter {name!r} appears twice in one challenge")
        params[key] = value

    def challenge(self) -> Challenge:
        scheme = self.token()
        if scheme is None:
            raise self.fail("expected an authentication scheme")
        if self.at_end() or self.peek() == ",":
            return Challenge(scheme.lower())
        if self.peek() != " ":
            raise self.fail(f"unexpected character {self.peek()!r} after the scheme")
        self.skip_ows()
        if self.at_end() or self.peek() == ",":
            return Challenge(scheme.lower())
        if not self.param_ahead():
            m = _TOKEN68.match(self.s, self.i)
            if m is None:
                raise self.fail("expected a token68 or auth-params")
            self.i = m.end()
            self.skip_ows()
            if not (self.at_end() or self.peek() == ","):
                raise self.fail("unexpected text after a token68")
            return Challenge(scheme.lower(), token68=m.group())
        params: dict[str, str] = {}
        while True:
            self.param(params)
            self.skip_ows()
            if self.at_end():
                break
            if self.peek() != ",":
                raise self.fail(f"expected ',' but found {self.peek()!r}")
            save = self.i
            self.skip_list_separators()
            if self.at_end():
                break
            if not self.param_ahead():
                self.i = save  # a new challenge starts after the comma
                break
        return Challenge(scheme.lower(), MappingProxyType(params))

    def parse(self) -> tuple[Challenge, ...]:
        out: list[Challenge] = []
        while True:
            self.skip_list_separators()
            if self.at_end():
                break
            out.append(self.challenge())
            self.skip_ows()
            if not self.at_end() and self.peek() != ",":
                raise self.fail(f"expected ',' but found {self.peek()!r}")
        return tuple(out)


def parse_www_authenticate(*values: str) -> tuple[Challenge, ...]:
    """All challenges in one or more ``WWW-Authenticate`` header values, in order."""
    challenges: list[Challenge] = []
    for value in values:
        if len(value) > _MAX_HEADER:
            raise AuthError(f"WWW-Authenticate header of {len(value)} characters is too long")
        challenges.extend(_Parser(value).parse())
    return tuple(challenges)
