"""What the tests' loopback servers share: a free port, and waiting until a started server answers."""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(
    process: subprocess.Popen, url: str, name: str, timeout: float, interval: float = 0.05
) -> None:
    """Return once `url` answers; raise RuntimeError naming `name` if the process exits first or
    `timeout` seconds pass (the caller stops the process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(interval)
    raise RuntimeError(f"{name} did not answer on {url} within {timeout}s")


def answer_json(handler, status: int, payload: dict) -> None:
    """Send `payload` as a JSON answer from a BaseHTTPRequestHandler."""
    content = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content)
