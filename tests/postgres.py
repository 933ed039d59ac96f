"""A real PostgreSQL server for tests: initdb into a temp folder, pg_ctl start on a free port, one database
per test, stopped at the end. Debian's server binaries (/usr/lib/postgresql/<v>/bin); `make test` installs
them where missing (scripts/ensure_postgres.sh). initdb refuses root, so as root it runs as `postgres`."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

HINT = "PostgreSQL server binaries not found: run scripts/ensure_postgres.sh (make test does)."


def bin_dir() -> Path | None:
    """The newest installed server's bin folder (initdb, pg_ctl), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: float(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    """One throw-away server; `url(db)` for SQLAlchemy/Optuna, `create_database()` per test."""

    def __init__(self, listen: str = "127.0.0.1") -> None:
        bindir = bin_dir()
        if bindir is None:
            raise RuntimeError(HINT)
        self.bin = bindir
        self.root = os.geteuid() == 0
        self.dir = Path(tempfile.mkdtemp(prefix="dialsum-pg-"))  # /tmp: the postgres user can reach it
        self.data = self.dir / "data"
        self.port = free_port()
        self.listen = listen
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._as_owner([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8"])
        with open(self.data / "pg_hba.conf", "a", encoding="utf-8") as f:
            f.write("host all all 0.0.0.0/0 trust\n")  # test sweepers in other network namespaces
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-w",
                        "-o", f"-p {self.port} -k {self.dir} -c listen_addresses={listen} -c fsync=off "
                              "-c max_connections=200", "start"])

    def _as_owner(self, cmd: list[str]) -> None:
        """Run a server command as the data folder's owner."""
        if self.root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def url(self, database: str, host: str = "127.0.0.1") -> str:
        """SQLAlchemy URL of one database (psycopg 3, SQLAlchemy 2.1's `postgresql://` default)."""
        return f"postgresql://postgres@{host}:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self) -> None:
        """Stop (dropping every connection) and start again on the same port: a server restart or failover."""
        self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "server.log"), "-m", "fast",
                        "-w", "restart"])

    def stop(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self._as_owner([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
