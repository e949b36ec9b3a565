"""Debian's nginx as a real reverse proxy in end-to-end tests: where its binary is, whether a
port accepts yet, and a bounded stop."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess

STOP_DEADLINE_S = 5.0


def _nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    # Debian installs it in /usr/sbin, which is not on every user's PATH.
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


NGINX = _nginx_binary()
SKIP_REASON = "nginx is not installed (Debian: apt-get install nginx)"


def accepts(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:port now."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (nginx's fast shutdown), then SIGKILL after the deadline."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_DEADLINE_S)
