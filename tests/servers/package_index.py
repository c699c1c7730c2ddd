"""A real package index on loopback: pypiserver, with uploads behind a login."""

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from passlib.apache import HtpasswdFile

from tests.servers.loopback import free_port, wait_until_answering


@contextlib.contextmanager
def package_index_server(root: Path, user: str, password: str) -> Iterator[str]:
    """A pypiserver serving `root/index` that lets `user` upload; yields its base URL."""
    packages, passwords = root / "index", root / "htpasswd"
    packages.mkdir()
    logins = HtpasswdFile(str(passwords), new=True)
    logins.set_password(user, password)
    logins.save()
    port = free_port()
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1", "-p", str(port)),
            *("-a", "update", "-P", str(passwords), str(packages)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(server, f"{url}/simple/", "pypiserver", timeout=30, interval=0.2)
        yield url
    finally:
        server.kill()
        server.wait()
