"""Test helpers shared across the suite.

- :mod:`helpers.imagewriter`: write real OCI layouts / archives with crafted layers.
- :func:`run_cli`: run ``python -m customhouse`` as a subprocess, confined to a directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_TIMEOUT = 120  # seconds; a hang is a failure, never a slow pass


def run_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``customhouse ARGS`` with ``cwd`` as working directory, HOME and TMPDIR inside it.

    Every ``CUSTOMHOUSE_*`` variable of the calling environment is dropped, so only
    ``env`` configures the run. Raises ``subprocess.TimeoutExpired`` on a hang.
    """
    tmp = cwd / ".tmp"
    home = cwd / ".home"
    tmp.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    full = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMHOUSE_")}
    full.update({"TMPDIR": str(tmp), "HOME": str(home), "NO_COLOR": "1", "COLUMNS": "200"})
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "customhouse", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
