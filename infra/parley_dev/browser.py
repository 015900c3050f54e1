"""The Chromium the browser tests drive.

Playwright's own browser download is not used: the tests drive Debian's
`chromium` package through `executable_path`. `ensure_chromium()` finds it,
or installs it with apt when running as root.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

CHROMIUM = "/usr/bin/chromium"
_CANDIDATES = (CHROMIUM, "chromium", "chromium-browser")

# Launch arguments for headless runs in containers and CI.
LAUNCH_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


class BrowserUnavailable(RuntimeError):
    """No Chromium, and no way to install one here."""


def _find() -> str | None:
    for name in _CANDIDATES:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and os.access(path, os.X_OK):
            return path
    return None


def ensure_chromium() -> str:
    """Return the path of a Chromium executable, installing Debian's package if needed."""
    found = _find()
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise BrowserUnavailable(
            "Chromium is not installed. Install Debian's package as root: "
            "apt-get update && apt-get install -y chromium"
        )
    print(
        "parley: installing Chromium (apt-get install chromium) for the browser tests",
        file=sys.stderr,
    )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-5:])
            raise BrowserUnavailable(f"`{' '.join(command)}` failed ({result.returncode}):\n{tail}")
    found = _find()
    if not found:
        raise BrowserUnavailable("apt-get installed chromium, but no chromium executable was found")
    return found
