"""CH301/CH302: a download must be verified (checksum or signature) before use."""

from __future__ import annotations

import pytest

from customhouse.dockerfile import lint_text

HEAD = "FROM debian:bookworm\n"


def rules(body: str, shell: str = "") -> set[str]:
    return {f.rule for f in lint_text(HEAD + shell + body)}


VERIFIED = [
    # echo "<sum>  file" | sha256sum -c -
    'RUN curl -fsSL -o t.tgz https://e.org/t.tgz && echo "$SUM  t.tgz" | sha256sum -c - && tar xzf t.tgz',
    # wget URL (basename), then a --check of a file listing it
    "RUN wget https://e.org/t-1.tgz && sha256sum --check --strict t-1.tgz.sha256 && tar xzf t-1.tgz",
    # curl -O with a query string, verified by gpg --verify sig file
    "RUN curl -fsSLO 'https://e.org/t.tgz?x=1' && curl -fsSLO https://e.org/t.tgz.asc"
    " && gpg --batch --verify t.tgz.asc t.tgz && tar xzf t.tgz",
    # gpgv
    "RUN wget -O /tmp/t.tgz https://e.org/t.tgz; wget -O /tmp/t.tgz.sig https://e.org/t.tgz.sig;"
    " gpgv --keyring /k.gpg /tmp/t.tgz.sig /tmp/t.tgz; tar xzf /tmp/t.tgz",
    # a clearsigned SHASUMS file decrypted by gpg, then grep | sha256sum -c -
    "RUN curl -fsSLO https://e.org/node-v$V.tar.xz && curl -fsSLO https://e.org/SHASUMS256.txt.asc"
    " && gpg --batch --decrypt --output SHASUMS256.txt SHASUMS256.txt.asc"
    ' && grep " node-v$V.tar.xz\\$" SHASUMS256.txt | sha256sum -c - && tar -xf "node-v${V}.tar.xz"',
    # a hash compared in a test
    'RUN curl -fLO https://e.org/a.tgz && if [ "$(openssl sha512 -r a.tgz)" = "$SUM" ]; then tar xzf a.tgz; fi',
    # cat file | openssl inside $( )
    'RUN wget -O /tmp/x.pl https://e.org/x.pl && [ "$(cat /tmp/x.pl | openssl sha512 -r)" = "$S" ] && mv /tmp/x.pl /bin/',
    # ADD --checksum
    "ADD --checksum=sha256:" + "0" * 64 + " https://e.org/t.tgz /t.tgz\nRUN tar xzf /t.tgz",
    # verification in a later RUN of the same stage, use after it
    'RUN curl -o /t.bin https://e.org/t.bin\nRUN echo "$S  /t.bin" | sha256sum -c - && chmod +x /t.bin && /t.bin',
    # signing keys are trust material, not payloads
    "RUN curl -fsSL https://e.org/key.asc | gpg --dearmor -o /usr/share/keyrings/e.gpg",
    "RUN wget -O KEYS https://e.org/KEYS && gpg --import KEYS",
    # data fetched into a variable is not a file download
    "RUN V=$(curl -fsSL https://api.e.org/latest) && echo $V",
]

UNVERIFIED = [
    "RUN curl -fsSLO https://e.org/t.tgz && tar xzf t.tgz",
    "RUN wget -qO- https://e.org/t.tgz | tar xz -C /opt",
    "RUN curl -fsSL https://e.org/t.tgz | tee /tmp/t.tgz > /dev/null && tar xzf /tmp/t.tgz",
    # used first, checked afterwards
    'RUN curl -o t.tgz https://e.org/t.tgz && tar xzf t.tgz && echo "$S  t.tgz" | sha256sum -c -',
    # the check names another file
    "RUN curl -o a.tgz https://e.org/a.tgz && curl -o b.tgz https://e.org/b.tgz"
    ' && echo "$S  a.tgz" | sha256sum -c - && tar xzf b.tgz',
    # renamed, then used
    "RUN curl -o /tmp/x https://e.org/x && mv /tmp/x /usr/local/bin/tool && tool --version",
    "ADD https://e.org/t.tgz /t.tgz",
    # an unverified download in a later stage is still reported
    "RUN true\nFROM debian:bookworm\nRUN curl -fsSLO https://e.org/t.tgz && tar xzf t.tgz",
]


@pytest.mark.parametrize("body", VERIFIED)
def test_verified_download_is_not_reported(body: str) -> None:
    assert "CH301" not in rules(body)


@pytest.mark.parametrize("body", UNVERIFIED)
def test_unverified_download_is_reported(body: str) -> None:
    assert "CH301" in rules(body)


def test_finding_points_at_the_download_line_and_names_the_use() -> None:
    findings = lint_text(
        HEAD + "RUN set -eux; \\\n  curl -fsSLO https://e.org/t.tgz; \\\n  tar xzf t.tgz\n"
    )
    (f,) = [f for f in findings if f.rule == "CH301"]
    assert f.line == 3
    assert "used by tar on line 4" in f.message


PIPE_TO_SHELL = [
    "RUN curl -fsSL https://e.org/i.sh | sh",
    "RUN curl -fsSL https://e.org/i.sh | sudo -E bash -",
    "RUN wget -O- https://e.org/i.sh | bash -s -- --yes",
    "RUN wget -qO- https://e.org/i.py | python3",
    'RUN sh -c "$(curl -fsSL https://e.org/i.sh)"',
    "RUN bash <(curl -fsSL https://e.org/i.sh)",
    'RUN eval "$(wget -qO- https://e.org/env)"',
]
NOT_PIPE_TO_SHELL = [
    "RUN curl -fsSL https://e.org/k.asc | gpg --dearmor > /k.gpg",
    "RUN curl -fsSL -o i.sh https://e.org/i.sh && sha256sum -c i.sh.sha256 && sh i.sh",
    "RUN curl -fsSL https://e.org/v.json | jq -r .tag",
]


@pytest.mark.parametrize("body", PIPE_TO_SHELL)
def test_remote_script_piped_to_shell_is_reported(body: str) -> None:
    assert "CH302" in rules(body)


@pytest.mark.parametrize("body", NOT_PIPE_TO_SHELL)
def test_saved_or_non_shell_consumers_are_not_pipe_to_shell(body: str) -> None:
    assert "CH302" not in rules(body)


PS = 'SHELL ["powershell", "-Command"]\n'


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        (
            "RUN Invoke-WebRequest -Uri $url -OutFile 'go.zip'; "
            "if ((Get-FileHash go.zip -Algorithm sha256).Hash -ne $sha256) { exit 1 }; "
            "Expand-Archive go.zip -DestinationPath C:\\",
            False,
        ),
        (
            "RUN Invoke-WebRequest -Uri $url -OutFile 'go.zip'; Expand-Archive go.zip -DestinationPath C:\\",
            True,
        ),
        (
            "RUN (New-Object System.Net.WebClient).DownloadFile($env:U, 'm.msi'); Start-Process msiexec -ArgumentList '/i m.msi'",
            True,
        ),
    ],
)
def test_powershell_downloads_are_tracked(body: str, flagged: bool) -> None:
    assert ("CH301" in rules(body, PS)) is flagged


def test_powershell_iex_of_a_download_is_pipe_to_shell() -> None:
    assert "CH302" in rules(
        "RUN iex ((New-Object Net.WebClient).DownloadString('https://e.org/i.ps1'))", PS
    )
