"""Secrets baked into the image or its history."""

from __future__ import annotations

import re
from collections.abc import Iterator

from customhouse.dockerfile.parse import arg_decls, word_value
from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule

_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?"
    r"|AUTH_?KEY|CLIENT_?SECRET|_PASS$|^PASS$|DB_PASS|SSH_?KEY)",
    re.I,
)
# names that look secret but hold public data or a pointer to the secret
_NOT_SECRET_NAME = re.compile(
    r"(GPG|PGP|PUBLIC|FINGERPRINT|KEYSERVER|KEYRING|_FILE$|_PATH$|_DIR$|_URL$|_VERSION$"
    r"|_SHA\d*$|_LENGTH$|_TYPE$|_ID$|_NAME$|_ENDPOINT$|_HOST$|_PORT$|_METHOD$|^PWD$)",
    re.I,
)
# value formats of well-known credentials (prefixes documented by each issuer)
_SECRET_VALUE = re.compile(
    r"(AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22,}"
    r"|glpat-[A-Za-z0-9_-]{20}|xox[baprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}"
    r"|sk_live_[0-9a-zA-Z]{24,}|npm_[A-Za-z0-9]{36}|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.)"
)
_KEY_FILES = re.compile(
    r"(?i)(^|/)(id_(rsa|dsa|ecdsa|ed25519)|\.npmrc|\.pypirc|\.netrc|_netrc|\.git-credentials"
    r"|\.dockercfg|\.htpasswd|\.env|credentials(\.json)?|kubeconfig|[^/]*\.(key|p12|pfx|jks"
    r"|keystore|kdbx|ppk)|[^/]*(private|priv)[^/]*\.pem|\.ssh/?|\.aws/?|\.gnupg/?"
    r"|\.docker/config\.json|secrets?\.(ya?ml|json|env|txt))$"
)


def secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def _literal(value: str) -> bool:
    v = value.strip()
    return bool(v) and not re.fullmatch(r"\$\{?[A-Za-z_][A-Za-z0-9_]*(:?-[^}]*)?\}?", v)


def env_pairs(args: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(k, word_value(v)) for k, v in zip(args[::2], args[1::2], strict=False)]


@rule("CH401", "Secret in ENV or ARG", Severity.HIGH, "secrets",
      hadolint=("DL3064",), trivy=("AVD-DS-0031",))  # fmt: skip
def secret_in_env(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ENV", "ARG"):
        if ins.keyword == "ENV":
            pairs = env_pairs(ins.args)
        else:
            pairs = [(d.name, d.default or "") for d in arg_decls(ins)]
        for name, value in pairs:
            if _SECRET_VALUE.search(value):
                yield Hit(
                    ins.start_line,
                    f"{ins.keyword} {name} holds what looks like a credential; it is stored in"
                    " the image config/history for anyone who pulls the image",
                )
            elif secret_name(name) and _literal(value):
                yield Hit(
                    ins.start_line,
                    f"{ins.keyword} {name} sets a secret-looking value that every image user"
                    " can read (docker inspect / docker history)",
                )


@rule("CH402", "Key or credential file copied into the image", Severity.HIGH, "secrets")
def key_files(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("COPY", "ADD"):
        if ins.heredocs:
            continue
        for path in ins.args:
            clean = path.strip("'\"").rstrip("/") + ("/" if path.endswith("/") else "")
            if _KEY_FILES.search(clean.rstrip("/")) and not clean.endswith(".pub"):
                yield Hit(
                    ins.start_line,
                    f"{ins.keyword} {path}: a key or credential file ends up in a layer, where"
                    " deleting it later does not remove it",
                )
                break


@rule("CH403", "Secret passed as a build argument", Severity.MEDIUM, "secrets",
      hadolint=("DL3064",), trivy=("AVD-DS-0031",))  # fmt: skip
def secret_build_arg(ctx: Context) -> Iterator[Hit]:
    for _, ins in ctx.instructions("ARG"):
        for decl in arg_decls(ins):
            if secret_name(decl.name) and not (decl.default and _literal(decl.default)):
                yield Hit(
                    ins.start_line,
                    f"ARG {decl.name}: build arguments are recorded in the image history;"
                    " pass secrets with RUN --mount=type=secret instead",
                )
    secret_args = {
        d.name for _, ins in ctx.instructions("ARG") for d in arg_decls(ins) if secret_name(d.name)
    }
    for _, ins in ctx.instructions("ENV"):
        for name, value in env_pairs(ins.args):
            for arg in secret_args:
                if re.search(r"\$\{?" + re.escape(arg) + r"\b", value):
                    yield Hit(
                        ins.start_line,
                        f"ENV {name} copies the build argument {arg} into the image configuration",
                    )
