"""A throwaway PostgreSQL server on loopback for the production-storage tests: Debian's server
binaries, a fresh cluster in a temporary directory, run as the `postgres` user when the tests run
as root (the server refuses to run as root)."""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.servers.loopback import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _binary(name: str) -> str | None:
    for directory in BIN_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return shutil.which(name)


def available() -> bool:
    return _binary("initdb") is not None and _binary("pg_ctl") is not None


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server with a `dagster` database; yields its URL; stops and removes it after."""
    # Directly under the system temp dir: the server's user must be able to reach it.
    directory = Path(tempfile.mkdtemp(prefix="idc-postgres-"))
    data, port = directory / "data", free_port()
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(directory, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        subprocess.run([*as_user, *command], check=True, capture_output=True, text=True)

    run(_binary("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres", "--no-sync")
    options = f"-p {port} -k {directory} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(
        _binary("pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(directory / "log"),
        "-w",
        "start",
    )
    try:
        run(_binary("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "dagster")
        yield f"postgresql://postgres@127.0.0.1:{port}/dagster"
    finally:
        run(_binary("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(directory, ignore_errors=True)
