"""Digest grammar (OCI image-spec "Digests") and the verifying stream every blob goes through."""

from __future__ import annotations

import hashlib
import io

import pytest

from customhouse.digest import Digest, VerifyingReader
from customhouse.errors import DigestError, DigestMismatchError, LimitExceededError

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256("")
EMPTY512 = "sha512:" + hashlib.sha512(b"").hexdigest()

VALID = [
    (EMPTY, "sha256", EMPTY[7:]),
    (EMPTY512, "sha512", EMPTY512[7:]),
    ("sha256:" + "0" * 64, "sha256", "0" * 64),
]

INVALID = [
    ("", "malformed"),
    ("sha256", "malformed"),
    ("sha256:", "malformed"),
    (":" + "a" * 64, "malformed"),
    ("sha256:XYZ", "lowercase hex"),
    ("sha256:" + EMPTY[7:].upper(), "lowercase hex"),
    ("sha256:" + "a" * 63, "64 lowercase hex"),
    ("sha256:" + "a" * 65, "64 lowercase hex"),
    ("sha512:" + "a" * 64, "128 lowercase hex"),
    ("md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"),
    ("SHA256:" + "a" * 64, "malformed"),
    ("sha256:" + "g" * 64, "lowercase hex"),
    ("sha256:../../etc/passwd", "malformed"),
    ("sha256 :" + "a" * 64, "malformed"),
    (" sha256:" + "a" * 64, "malformed"),
    ("sha256:" + "a" * 64 + "\n", "malformed"),
    ("sha256:" + "a" * 300, "malformed"),  # over the length cap: refused before any regex work
]


@pytest.mark.parametrize(("text", "algorithm", "hex_"), VALID)
def test_digest_parse_valid(text: str, algorithm: str, hex_: str) -> None:
    d = Digest.parse(text)
    assert (d.algorithm, d.hex, str(d)) == (algorithm, hex_, text)
    assert d.short == f"{algorithm}:{hex_[:12]}"


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_digest_parse_invalid(text: str, message: str) -> None:
    with pytest.raises(DigestError, match=message):
        Digest.parse(text)


@pytest.mark.parametrize("value", [None, 42, b"sha256:" + b"a" * 64, ["sha256:"]])
def test_digest_parse_non_string_refused(value: object) -> None:
    with pytest.raises(DigestError, match="must be a string"):
        Digest.parse(value)


def test_digest_error_message_is_capped() -> None:
    with pytest.raises(DigestError) as info:
        Digest.parse("x" * 10_000)
    assert len(str(info.value)) < 200


def test_digest_of_and_equality() -> None:
    assert str(Digest.of(b"")) == EMPTY
    assert str(Digest.of(b"", "sha512")) == EMPTY512
    assert (
        Digest.of(b"abc")
        == Digest.parse(
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 vector
        )
    )
    assert len({Digest.parse(EMPTY), Digest.of(b"")}) == 1


def test_digest_is_immutable() -> None:
    d = Digest.parse(EMPTY)
    with pytest.raises(AttributeError):
        d.hex = "0" * 64  # type: ignore[misc]


def test_verify_bytes() -> None:
    Digest.of(b"data").verify_bytes(b"data")
    with pytest.raises(DigestMismatchError, match="config: digest mismatch") as info:
        Digest.of(b"data").verify_bytes(b"date", "config")
    assert info.value.expected == str(Digest.of(b"data"))
    assert info.value.actual == str(Digest.of(b"date"))


def _read_all(reader: VerifyingReader, step: int) -> bytes:
    out = b""
    while chunk := reader.read(step):
        out += chunk
    return out


@pytest.mark.parametrize("step", [1, 7, 4096, -1])
def test_verifying_reader_accepts_exact_content(step: int) -> None:
    data = bytes(range(256)) * 40
    r = VerifyingReader(io.BytesIO(data), Digest.of(data), what="blob", expected_size=len(data))
    assert (r.read() if step == -1 else _read_all(r, step)) == data
    assert r.count == len(data)
    assert r.read(10) == b""


def test_verifying_reader_detects_flipped_byte_at_eof() -> None:
    data = b"a" * 1000
    bad = bytearray(data)
    bad[500] ^= 1
    r = VerifyingReader(
        io.BytesIO(bytes(bad)), Digest.of(data), what="layer #0", expected_size=1000
    )
    with pytest.raises(
        DigestMismatchError, match=f"layer #0: digest mismatch for {Digest.of(data)}"
    ):
        _read_all(r, 100)


def test_verifying_reader_refuses_longer_than_declared_without_reading_it_all() -> None:
    data = b"x" * 100
    src = io.BytesIO(data + b"y" * 10_000_000)
    r = VerifyingReader(src, Digest.of(data), what="blob", expected_size=100)
    with pytest.raises(DigestMismatchError, match="longer than its declared size 100"):
        _read_all(r, 1 << 20)
    assert src.tell() <= 101  # asked for at most one byte past the declared size


def test_verifying_reader_refuses_truncated() -> None:
    data = b"x" * 100
    r = VerifyingReader(io.BytesIO(data[:60]), Digest.of(data), what="blob", expected_size=100)
    with pytest.raises(DigestMismatchError, match="truncated: got 60 of 100"):
        _read_all(r, 1000)


def test_verifying_reader_max_bytes_without_declared_size() -> None:
    r = VerifyingReader(io.BytesIO(b"z" * 5000), Digest.of(b"z" * 5000), what="b", max_bytes=4096)
    with pytest.raises(LimitExceededError, match="exceeds the limit of 4096"):
        _read_all(r, 1000)


def test_verifying_reader_drain_checks_digest_when_consumer_stops_early() -> None:
    data = b"q" * 3000
    r = VerifyingReader(io.BytesIO(data + b"!"), Digest.of(data + b"?"), what="b")
    assert r.read(10) == b"q" * 10
    with pytest.raises(DigestMismatchError):
        r.drain()


def test_verifying_reader_readinto() -> None:
    data = b"hello world"
    r = VerifyingReader(io.BytesIO(data), Digest.of(data), what="b", expected_size=len(data))
    buf = bytearray(5)
    assert r.readinto(buf) == 5 and bytes(buf) == b"hello"
    assert r.read() == b" world"


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("size", [0, 1, 1000, (1 << 18) - 1, 1 << 18, (1 << 18) + 7, 3 << 18])
def test_small_and_large_content_hash_as_hashlib_does(algorithm: str, size: int) -> None:
    # below 256 KiB the interpreter's built-in SHA-2 hashes, above it OpenSSL: same digests
    data = hashlib.sha256(str(size).encode()).digest() * (size // 32 + 1)
    data = data[:size]
    expected = hashlib.new(algorithm, data).hexdigest()
    digest = Digest.of(data, algorithm)
    assert digest.hex == expected
    digest.verify_bytes(data)
    with pytest.raises(DigestMismatchError):
        digest.verify_bytes(data + b"x")
    reader = VerifyingReader(io.BytesIO(data), digest, what="blob", expected_size=size)
    assert reader.read() == data
    reader.close()
