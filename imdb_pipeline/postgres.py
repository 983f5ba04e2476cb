"""The home's own PostgreSQL, which holds the Hive metastore of ``--target thrift``.

``imdb-pipeline thrift start`` starts it, when no ``IMDB_METASTORE_URL`` is set, from
Debian's ``postgresql`` server binaries under ``<home>/postgres`` on a free loopback port
(:meth:`Postgres.ensure`); ``thrift stop`` stops it after the server.

Files under the home::

    metastore.json          JDBC URL and user of the home's PostgreSQL (no password)
    postgres/data/          PGDATA (owned by the `postgres` user when run as root), or a link to it
    postgres/password       generated password of the database user `imdb` (0600)
    logs/postgres.log

Credentials: the home's PostgreSQL accepts only TCP connections on 127.0.0.1 (no Unix
socket), with scram-sha-256 and a generated password; the password reaches the JVMs through
their environment (IMDB_METASTORE_PASSWORD), never through a command line, a setting or a log.

As root, PostgreSQL runs as the ``postgres`` user (it refuses root). When that user cannot
reach the home (a home inside a private folder: ``mktemp -d``, a clone under /root), the data
directory is kept in that user's own home instead, ``~postgres/imdb-pipeline/<home>-<hash>/data``
(0700, owned by postgres), and ``<home>/postgres/data`` is a link to it; no permission of any
folder outside the home is changed. That folder records the home it belongs to and is removed
by the next ``thrift start`` (of any home) once its home is gone (:func:`sweep_orphan_data`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.jars import SetupError
from imdb_pipeline.metastore import (
    METASTORE_FILE,
    URL_ENV,
    Metastore,
    MetastoreError,
    metastore_password_file,
    write_private,
)
from imdb_pipeline.processes import (
    LOOPBACK,
    STOP_TIMEOUT,
    free_port,
    last_meaningful_line,
    port_accepts,
    port_in_use,
    process_alive,
    terminate,
)

DB_USER, DB_NAME = "imdb", "metastore"
logger = logging.getLogger(__name__)


def home_key(home: Home) -> str:
    """A short stable id of a home's path (names its data folder outside the home)."""
    return hashlib.sha256(str(home.root).encode()).hexdigest()[:12]


def data_root(owner) -> Path:
    """Where the data folders of private homes go: IMDB_POSTGRES_DATA_ROOT, else
    ``imdb-pipeline`` in the home of ``owner`` (a ``pwd`` entry), else /var/tmp."""
    configured = os.environ.get("IMDB_POSTGRES_DATA_ROOT")
    if configured:
        return Path(configured)
    if Path(owner.pw_dir).is_dir() and owner.pw_dir != "/":
        return Path(owner.pw_dir) / "imdb-pipeline"
    return Path("/var/tmp") / f"imdb-pipeline-{owner.pw_name}"


def data_roots() -> list[Path]:
    """Where data folders of private homes may be (``Postgres._outside_home``)."""
    if os.environ.get("IMDB_POSTGRES_DATA_ROOT"):
        return [Path(os.environ["IMDB_POSTGRES_DATA_ROOT"])]
    if os.geteuid() != 0:
        return []
    import pwd

    try:
        owner = pwd.getpwnam(os.environ.get("IMDB_POSTGRES_USER", "postgres"))
    except KeyError:
        return []
    return [data_root(owner)]


def sweep_orphan_data(roots: list[Path] | None = None) -> list[Path]:
    """Remove the data folders kept outside homes that are gone (or no longer link to them),
    unless a server still runs on them; returns the folders removed."""
    removed = []
    for root in data_roots() if roots is None else roots:
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            try:
                home = Path((folder / "home").read_text().strip())
            except OSError:
                continue  # not ours
            link = home / "postgres" / "data"
            if link.is_symlink() and Path(os.readlink(link)) == folder / "data":
                continue  # its home is still there
            pid_file = folder / "data" / "postmaster.pid"
            try:
                pid = int(pid_file.read_text().splitlines()[0])
            except (OSError, ValueError, IndexError):
                pid = None
            if pid and process_alive(pid, str(folder / "data")):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            logger.info(f"thrift: removed {folder}, the PostgreSQL data of {home}, which is gone")
            removed.append(folder)
    return removed


class Postgres:
    """A PostgreSQL server under ``<home>/postgres``: loopback only, scram-sha-256."""

    def __init__(self, home: Home):
        self.home = home
        self.root = home.root / "postgres"
        self.link = self.root / "data"  # PGDATA, or a link to it outside a private home
        self.password_file = metastore_password_file(home)
        self.log_file = home.logs / "postgres.log"
        self.metastore_file = home.root / METASTORE_FILE

    @property
    def data(self) -> Path:
        """The data directory as the server is given it (a link in the home resolved)."""
        if self.link.is_symlink():
            return Path(os.readlink(self.link))
        return self.link

    # where the binaries are and who runs them
    @staticmethod
    def bin_dir() -> Path:
        """The folder of PostgreSQL's server binaries (initdb, postgres, createdb):
        ``$IMDB_POSTGRES_BIN``, else the real folder of the ``initdb`` on PATH, else the newest
        ``/usr/lib/postgresql/<major>/bin`` (Debian's layout).

        Raises:
            SetupError: none of them has an ``initdb``.
        """
        configured = os.environ.get("IMDB_POSTGRES_BIN")
        if configured:
            return Path(configured)
        on_path = shutil.which("initdb")
        if on_path:  # Debian links a few of them into /usr/local/bin: use the real folder
            return Path(on_path).resolve().parent
        found = sorted(
            Path("/usr/lib/postgresql").glob("*/bin/initdb"),
            key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
        )
        if not found:
            raise SetupError(
                "no PostgreSQL server found (initdb): install it (Debian: apt-get install "
                f"postgresql) or set {URL_ENV} to an existing PostgreSQL database"
            )
        return found[-1].parent

    @staticmethod
    def run_as() -> dict:
        """PostgreSQL refuses to run as root: then it runs as IMDB_POSTGRES_USER (postgres)."""
        if os.geteuid() != 0:
            return {}
        import pwd

        name = os.environ.get("IMDB_POSTGRES_USER", "postgres")
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise SetupError(
                f"PostgreSQL cannot run as root and there is no user {name!r}: create one or set "
                "IMDB_POSTGRES_USER"
            ) from None
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _run(self, args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            args,
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd="/",
            **self.run_as(),
        )

    def _reaches(self, path: Path) -> bool:
        """The user PostgreSQL runs as can enter ``path`` (every folder above it too)."""
        return self._run(["test", "-x", str(path)]).returncode == 0

    def _outside_home(self) -> Path:
        """A data directory for this home in the postgres user's own home (see the module
        docstring); the folder holding it is 0700, owned by that user."""
        import pwd

        run_as = self.run_as()
        owner = pwd.getpwuid(run_as["user"])
        base = data_root(owner)
        slug = re.sub(r"[^A-Za-z0-9_.-]", "_", self.home.root.name)[:40] or "home"
        folder = base / f"{slug}-{home_key(self.home)}"
        made = [path for path in (base, folder) if not path.exists()]  # only ours are chowned
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for path in made:
            os.chown(path, run_as["user"], run_as["group"])
            os.chmod(path, 0o700)
        if not self._reaches(folder):
            raise MetastoreError(
                f"PostgreSQL runs as user {owner.pw_name} (it refuses root), who can reach neither "
                f"{self.root} nor {folder}: set IMDB_POSTGRES_DATA_ROOT to a folder that user can "
                "reach, or use a home elsewhere (--home)"
            )
        marker = folder / "home"
        marker.write_text(str(self.home.root) + "\n")
        os.chown(marker, run_as["user"], run_as["group"])
        logger.info(
            f"thrift: {self.home.root} is private to root: PostgreSQL's data is kept in "
            f"{folder} (linked from {self.link}; removed once the home is gone)"
        )
        return folder / "data"

    # state
    def pid(self) -> int | None:
        """The server's pid (line 1 of PostgreSQL's ``postmaster.pid`` in the data directory),
        or None when no live process of that data directory has it."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if process_alive(pid, str(self.data)) else None

    def ready(self) -> bool:
        """True once the server accepts connections: line 8 of ``postmaster.pid`` (where
        PostgreSQL writes its status: starting, ready, stopping) reads ``ready``. Whether that
        process still runs is :meth:`pid`'s question."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def config(self) -> dict:
        """The home's ``metastore.json`` (url, user, port, database, and ``schema`` once the
        Hive tables exist), or ``{}`` when it is absent or not JSON."""
        try:
            return json.loads(self.metastore_file.read_text())
        except (OSError, ValueError):
            return {}

    def password(self) -> str:
        """The generated password of the database user ``imdb`` (``<home>/postgres/password``);
        OSError before :meth:`init` wrote it."""
        return self.password_file.read_text().strip()

    # life cycle
    def init(self) -> None:
        """Make a new data directory: a generated password (0600) and ``initdb`` with the user
        ``imdb``, scram-sha-256 for every connection, UTF-8 and no locale. As root it belongs
        to the postgres user, and is kept in that user's home when that user cannot reach
        this home (see the module docstring).

        Raises:
            SetupError: no PostgreSQL binaries, or no user to run them as root.
            MetastoreError: that user can reach or write no data folder, or initdb failed (its
                last line; the half-made data folder is removed).
        """
        bin_dir, run_as = self.bin_dir(), self.run_as()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if self.link.is_symlink():  # its data folder was removed: start again
            self.link.unlink()
        if run_as and not self._reaches(self.root):
            data = self._outside_home()
            if data.exists():
                shutil.rmtree(data)  # a data folder left by an earlier home with the same path
            data.mkdir(mode=0o700)
            self.link.symlink_to(data, target_is_directory=True)
        else:
            self.link.mkdir(mode=0o700, exist_ok=True)
        data = self.data
        write_private(self.password_file, secrets.token_urlsafe(24) + "\n")
        # initdb reads the password from a file its user can read (0600, next to the data
        # folder, so inside a folder only that user can enter); removed right after.
        pwfile = data.parent / f".pwfile-{os.getpid()}"
        write_private(pwfile, self.password() + "\n")
        try:
            if run_as:
                for path in (data, pwfile):
                    os.chown(path, run_as["user"], run_as["group"])
                probe = self._run(["test", "-w", str(data)])
                if probe.returncode != 0:
                    raise MetastoreError(
                        f"PostgreSQL runs as user {os.environ.get('IMDB_POSTGRES_USER', 'postgres')} "
                        f"(it refuses root), who cannot write {data}: use a home elsewhere (--home) "
                        "or set IMDB_POSTGRES_DATA_ROOT to a folder that user can reach"
                    )
            started = time.monotonic()
            done = self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    DB_USER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--no-locale",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            reason = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
            raise MetastoreError(f"initdb failed: {reason[-1]}")
        logger.info(f"thrift: initialised PostgreSQL in {data} ({time.monotonic() - started:.1f}s)")

    def start(self) -> int:
        """Start the server (port from metastore.json if still free); returns its port."""
        port = self.config().get("port")
        if not port or port_in_use(LOOPBACK, port):
            port = free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        started = time.monotonic()
        with self.log_file.open("ab") as out:
            process = subprocess.Popen(
                [
                    str(self.bin_dir() / "postgres"),
                    "-D",
                    str(self.data),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    f"port={port}",
                    "-c",
                    "unix_socket_directories=",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
                **self.run_as(),
            )
        deadline = time.monotonic() + 60
        while not (self.ready() and port_accepts(LOOPBACK, port)):
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    terminate(
                        process.pid, str(self.data), [(signal.SIGQUIT, 5), (signal.SIGKILL, 5)]
                    )
                raise MetastoreError(
                    f"PostgreSQL did not start: {last_meaningful_line(self.log_file, offset)} "
                    f"(log {self.log_file})"
                )
            time.sleep(0.1)
        logger.info(
            f"thrift: PostgreSQL on {LOOPBACK}:{port} (pid {process.pid}) in "
            f"{time.monotonic() - started:.1f}s; log {self.log_file}"
        )
        return port

    def create_database(self, port: int) -> None:
        """Create the ``metastore`` database (``createdb`` as ``imdb``) on the server at
        ``LOOPBACK:port``; a database that already exists is kept.

        Raises:
            MetastoreError: createdb failed otherwise (its stderr).
        """
        done = self._run(
            [
                str(self.bin_dir() / "createdb"),
                "-h",
                LOOPBACK,
                "-p",
                str(port),
                "-U",
                DB_USER,
                DB_NAME,
            ],
            env={"PGPASSWORD": self.password()},
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise MetastoreError(f"createdb failed: {done.stderr.strip()}")

    def ensure(self) -> Metastore:
        """Initialise (once) and start the home's PostgreSQL; the metastore it holds."""
        sweep_orphan_data()
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.init()
        if self.pid():
            port = int((self.data / "postmaster.pid").read_text().splitlines()[3])
        else:
            port = self.start()
        config = self.config()
        if fresh or not config.get("database"):
            self.create_database(port)
        url = f"jdbc:postgresql://{LOOPBACK}:{port}/{DB_NAME}"
        config.update({"url": url, "user": DB_USER, "port": port, "database": DB_NAME})
        self.metastore_file.write_text(json.dumps(config, indent=2) + "\n")
        return Metastore(url, DB_USER, managed=True)

    def mark_schema_ready(self) -> None:
        """Record in ``metastore.json`` that the Hive metastore tables exist (``"schema":
        "hive-2.3"``, the metastore client Spark ships), so no later start runs SchemaTool."""
        config = self.config()
        config["schema"] = "hive-2.3"
        self.metastore_file.write_text(json.dumps(config, indent=2) + "\n")

    def stop(self) -> None:
        """Stop the server if it runs: SIGINT (PostgreSQL's fast shutdown) with
        ``STOP_TIMEOUT`` seconds to go, then SIGQUIT (immediate, 10 s), then SIGKILL (5 s).

        Raises:
            ProcessError: it still runs after all three.
        """
        pid = self.pid()
        if pid is None:
            logger.info("thrift: PostgreSQL not running")
            return
        # SIGINT = fast shutdown (disconnects clients), SIGQUIT = immediate, then SIGKILL.
        took = terminate(
            pid,
            str(self.data),
            [(signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 10), (signal.SIGKILL, 5)],
            group=False,
        )
        logger.info(f"thrift: PostgreSQL stopped (pid {pid}, {took:.1f}s)")
