"""Were downloads verified before they were used?"""

from __future__ import annotations

from collections.abc import Iterator

from customhouse.dockerfile._flow import pipe_to_shell, powershell_pipe_to_shell
from customhouse.dockerfile.rules._base import Context, Hit, Severity, rule


@rule("CH301", "Download used without checksum or signature verification", Severity.HIGH,
      "verification")  # fmt: skip
def unverified_download(ctx: Context) -> Iterator[Hit]:
    for flow in ctx.flows.values():
        for d in flow.unverified():
            f = d.fetch
            what = f"{f.tool} of {f.url}" if f.url else f.tool
            if d.stream_consumer is not None:
                yield Hit(
                    f.line,
                    f"{what} is piped straight into {d.stream_consumer}: nothing can check it"
                    " first (save it, verify its checksum or signature, then use it)",
                )
            elif d.used_at is not None:
                later = " (a check comes only afterwards)" if d.verified else ""
                yield Hit(
                    f.line,
                    f"{what} saved as {f.target} is used by {d.used_by} on line {d.used_at}"
                    f" before any checksum or signature verification{later}",
                )
            else:
                yield Hit(
                    f.line,
                    f"{what} saved as {f.target} is never verified (no sha256sum -c, gpg"
                    " --verify, gpgv or ADD --checksum names it)",
                )


@rule("CH302", "Remote script piped into a shell", Severity.CRITICAL, "verification",
      hadolint=())  # fmt: skip
def curl_pipe_shell(ctx: Context) -> Iterator[Hit]:
    for _, script in ctx.all_runs():
        if script.kind == "powershell":
            if powershell_pipe_to_shell(script.text):
                yield Hit(
                    script.instruction.start_line,
                    "a downloaded script is run with Invoke-Expression without being saved"
                    " and verified",
                )
            continue
        seen: set[int] = set()
        for cmd in pipe_to_shell(script.commands):
            line = script.line_of(cmd.offset)
            if line in seen:
                continue
            seen.add(line)
            yield Hit(
                line,
                "code fetched from the network is run directly by a shell or interpreter;"
                " whoever controls the server (or the path) controls the build",
            )
