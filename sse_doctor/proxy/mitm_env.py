"""Where mitmproxy's `mitmdump` comes from: mitmproxy lives in its own environment.

Why not an extra of sse-doctor: mitmproxy 11.0.2, the last release for Python 3.11, pins
`h11<=0.14`, and installing it beside sse-doctor makes pip downgrade httpcore to 1.0.8 and
h11 to 0.14.0 (a release with a known request-smuggling bug) and h2 to 4.1.0 under httpx,
uvicorn and the lab. So `sse-doctor proxy` runs `mitmdump` as a subprocess from, in order:
$SSE_DOCTOR_MITMDUMP, the environment sse-doctor sets up under its cache directory on first
use (`python -m sse_doctor.proxy.mitm_env` does it ahead of time), or `mitmdump` on PATH
(`pipx install mitmproxy`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from sse_doctor.errors import UsageError

MITMPROXY_SPEC = "mitmproxy>=11,<13"  # the addon API used by addon.py; tested on 11.0.2
INSTALL_TIMEOUT_S = 600.0


def env_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "sse-doctor" / "mitmproxy"


def _bin(env: Path, name: str) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin") / name


def find_mitmdump() -> str | None:
    explicit = os.environ.get("SSE_DOCTOR_MITMDUMP")
    if explicit:
        return explicit if os.access(explicit, os.X_OK) else None
    managed = _bin(env_dir(), "mitmdump")
    if managed.exists():
        return str(managed)
    return shutil.which("mitmdump")


def install(quiet: bool = False) -> str:
    """Create mitmproxy's own environment under the cache directory; its mitmdump.
    UsageError (one line) when that fails (offline, no venv module...)."""
    env = env_dir()
    if not quiet:
        sys.stderr.write(f"sse-doctor: setting up mitmproxy in its own environment, {env} "
                         "(once; its pins clash with sse-doctor's)\n")
    try:
        env.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(env)], check=True,
                       capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
        subprocess.run([str(_bin(env, "python")), "-m", "pip", "install", "-q",
                        MITMPROXY_SPEC], check=True, capture_output=True, text=True,
                       timeout=INSTALL_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        last = [ln for ln in (exc.stderr or "").splitlines()
                if ln.strip() and "is ignored" not in ln][-1:]
        shutil.rmtree(env, ignore_errors=True)
        raise UsageError(f"could not install {MITMPROXY_SPEC} into {env} "
                         f"({last[0].strip() if last else exc}); install it yourself "
                         "(pipx install mitmproxy) and put mitmdump on PATH, or set "
                         "SSE_DOCTOR_MITMDUMP") from None
    except (OSError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(env, ignore_errors=True)
        raise UsageError(f"could not set up mitmproxy in {env}: {exc}") from None
    return str(_bin(env, "mitmdump"))


def mitmdump() -> str:
    """A mitmdump to run: found, or set up now. UsageError when neither works."""
    if os.environ.get("SSE_DOCTOR_MITMDUMP") and find_mitmdump() is None:
        raise UsageError(f"SSE_DOCTOR_MITMDUMP={os.environ['SSE_DOCTOR_MITMDUMP']!r} is not an "
                         "executable mitmdump")
    return find_mitmdump() or install()


if __name__ == "__main__":  # python -m sse_doctor.proxy.mitm_env: set it up ahead of time
    try:
        print(find_mitmdump() or install())
    except UsageError as exc:
        sys.stderr.write(f"sse-doctor: error: {exc}\n")
        sys.exit(2)
