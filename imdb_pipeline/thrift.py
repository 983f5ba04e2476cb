"""A Spark Thrift server (HiveThriftServer2) per home, with a PostgreSQL-backed Hive metastore.

``imdb-pipeline thrift start`` starts, when no ``IMDB_METASTORE_URL`` is set, the home's own
PostgreSQL (Debian's ``postgresql`` server binaries) under ``<home>/postgres`` on a free
loopback port, then ``spark-submit --class ...HiveThriftServer2`` from the pyspark install with
the same settings as the pipeline (:func:`imdb_pipeline.spark.spark_settings`). The server and
a pipeline run with ``--target thrift`` are two Spark applications sharing the warehouse folder
and the metastore database.

Files under the home::

    metastore.json          JDBC URL and user of the home's PostgreSQL (no password)
    postgres/data/          PGDATA (owned by the `postgres` user when run as root), or a link to it
    postgres/password       generated password of the database user `imdb` (0600)
    thrift/server.json      pid, host and port of the running server
    logs/thrift.log, logs/postgres.log

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
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from imdb_pipeline.home import Home
from imdb_pipeline.jars import SetupError, jar_paths, spark_home
from imdb_pipeline.metastore import (
    METASTORE_FILE,
    PASSWORD_ENV,
    URL_ENV,
    Metastore,
    metastore_password_file,
    postgres_metastore,
)
from imdb_pipeline.spark import spark_settings
from imdb_pipeline.storage import Storage

DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 10000
SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
DB_USER, DB_NAME = "imdb", "metastore"
START_TIMEOUT = float(os.environ.get("IMDB_THRIFT_START_TIMEOUT", "180"))
STOP_TIMEOUT = 30.0


class ThriftError(Exception):
    pass


# --- ports ------------------------------------------------------------------------------

def port_accepts(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Something listens on (host, port): a connection succeeds or the address cannot be bound."""
    if port_accepts(_connect_host(host), port):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _connect_host(host: str) -> str:
    return DEFAULT_HOST if host in ("0.0.0.0", "", "*") else host


def port_in_use_message(host: str, port: int) -> str:
    return (
        f"port {port} on {host} is already in use by another program: stop it or pass "
        f"--port (e.g. --port {port + 1})"
    )


# --- processes ----------------------------------------------------------------------------

def process_alive(pid: int, marker: str) -> bool:
    """``pid`` runs and its command line contains ``marker`` (a reused pid is not ours)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    proc = Path(f"/proc/{pid}")
    if not proc.exists():
        return True  # no /proc: trust the signal check
    try:
        if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        return marker in proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (OSError, IndexError):
        return False


def _signal(pid: int, sig: int, group: bool) -> None:
    try:
        os.killpg(pid, sig) if group else os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, marker: str, steps: list[tuple[int, float]], group: bool = True) -> float:
    """Send each signal in turn, waiting up to its timeout for the process to go; seconds taken."""
    started = time.monotonic()
    for sig, wait in steps:
        if not process_alive(pid, marker):
            break
        _signal(pid, sig, group)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process_alive(pid, marker):
            time.sleep(0.1)
    if process_alive(pid, marker):
        raise ThriftError(f"process {pid} did not stop")
    return time.monotonic() - started


def last_meaningful_line(log_file: Path, since: int = 0) -> str:
    """The line of ``log_file`` (from byte ``since``) that best says why a start failed."""
    try:
        with log_file.open("rb") as handle:
            handle.seek(since)
            lines = handle.read().decode(errors="replace").splitlines()
    except OSError:
        return f"(no log at {log_file})"
    noise = re.compile(r"^\s*(at |\.\.\. \d+ more|Caused by: \S+$|WARNING: )|^\s*$")
    meaningful = [line.strip() for line in lines if not noise.search(line)]
    for line in reversed(meaningful):
        if re.search(r"ERROR|FATAL|Exception|Error:", line):
            return line[:400]
    return meaningful[-1][:400] if meaningful else f"(nothing in {log_file})"


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def redact_url(url: str) -> str:
    """A JDBC URL fit to print: any password=... parameter masked."""
    return re.sub(r"(?i)(password=)[^&;]*", r"\1***", url)


# --- the home's own PostgreSQL -------------------------------------------------------------

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


def sweep_orphan_data(log, roots: list[Path] | None = None) -> list[Path]:
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
            log(f"thrift: removed {folder}, the PostgreSQL data of {home}, which is gone")
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
            args, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, cwd="/", **self.run_as(),
        )

    def _reaches(self, path: Path) -> bool:
        """The user PostgreSQL runs as can enter ``path`` (every folder above it too)."""
        return self._run(["test", "-x", str(path)]).returncode == 0

    def _outside_home(self, log) -> Path:
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
            raise ThriftError(
                f"PostgreSQL runs as user {owner.pw_name} (it refuses root), who can reach neither "
                f"{self.root} nor {folder}: set IMDB_POSTGRES_DATA_ROOT to a folder that user can "
                "reach, or use a home elsewhere (--home)"
            )
        marker = folder / "home"
        marker.write_text(str(self.home.root) + "\n")
        os.chown(marker, run_as["user"], run_as["group"])
        log(f"thrift: {self.home.root} is private to root: PostgreSQL's data is kept in {folder} "
            f"(linked from {self.link}; removed once the home is gone)")
        return folder / "data"

    # state
    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if process_alive(pid, str(self.data)) else None

    def ready(self) -> bool:
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() == "ready"

    def config(self) -> dict:
        try:
            return json.loads(self.metastore_file.read_text())
        except (OSError, ValueError):
            return {}

    def _password(self) -> str:
        return self.password_file.read_text().strip()

    # life cycle
    def init(self, log) -> None:
        bin_dir, run_as = self.bin_dir(), self.run_as()
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o755)
        if self.link.is_symlink():  # its data folder was removed: start again
            self.link.unlink()
        if run_as and not self._reaches(self.root):
            data = self._outside_home(log)
            if data.exists():
                shutil.rmtree(data)  # a data folder left by an earlier home with the same path
            data.mkdir(mode=0o700)
            self.link.symlink_to(data, target_is_directory=True)
        else:
            self.link.mkdir(mode=0o700, exist_ok=True)
        data = self.data
        _write_private(self.password_file, secrets.token_urlsafe(24) + "\n")
        # initdb reads the password from a file its user can read (0600, next to the data
        # folder, so inside a folder only that user can enter); removed right after.
        pwfile = data.parent / f".pwfile-{os.getpid()}"
        _write_private(pwfile, self._password() + "\n")
        try:
            if run_as:
                for path in (data, pwfile):
                    os.chown(path, run_as["user"], run_as["group"])
                probe = self._run(["test", "-w", str(data)])
                if probe.returncode != 0:
                    raise ThriftError(
                        f"PostgreSQL runs as user {os.environ.get('IMDB_POSTGRES_USER', 'postgres')} "
                        f"(it refuses root), who cannot write {data}: use a home elsewhere (--home) "
                        "or set IMDB_POSTGRES_DATA_ROOT to a folder that user can reach"
                    )
            started = time.monotonic()
            done = self._run([
                str(bin_dir / "initdb"), "-D", str(self.data), "-U", DB_USER,
                f"--pwfile={pwfile}", "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                "-E", "UTF8", "--no-locale", "--no-instructions",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        if done.returncode != 0:
            shutil.rmtree(data, ignore_errors=True)
            reason = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
            raise ThriftError(f"initdb failed: {reason[-1]}")
        log(f"thrift: initialised PostgreSQL in {data} ({time.monotonic() - started:.1f}s)")

    def start(self, log) -> int:
        """Start the server (port from metastore.json if still free); returns its port."""
        port = self.config().get("port")
        if not port or port_in_use(DEFAULT_HOST, port):
            port = free_port()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        started = time.monotonic()
        with self.log_file.open("ab") as out:
            process = subprocess.Popen(
                [str(self.bin_dir() / "postgres"), "-D", str(self.data),
                 "-c", f"listen_addresses={DEFAULT_HOST}", "-c", f"port={port}",
                 "-c", "unix_socket_directories="],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, cwd="/", **self.run_as(),
            )
        deadline = time.monotonic() + 60
        while not (self.ready() and port_accepts(DEFAULT_HOST, port)):
            if process.poll() is not None or time.monotonic() > deadline:
                if process.poll() is None:
                    terminate(process.pid, str(self.data), [(signal.SIGQUIT, 5), (signal.SIGKILL, 5)])
                raise ThriftError(
                    f"PostgreSQL did not start: {last_meaningful_line(self.log_file, offset)} "
                    f"(log {self.log_file})"
                )
            time.sleep(0.1)
        log(
            f"thrift: PostgreSQL on {DEFAULT_HOST}:{port} (pid {process.pid}) in "
            f"{time.monotonic() - started:.1f}s; log {self.log_file}"
        )
        return port

    def create_database(self, port: int) -> None:
        done = self._run(
            [str(self.bin_dir() / "createdb"), "-h", DEFAULT_HOST, "-p", str(port), "-U", DB_USER,
             DB_NAME],
            env={"PGPASSWORD": self._password()},
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise ThriftError(f"createdb failed: {done.stderr.strip()}")

    def ensure(self, log) -> Metastore:
        """Initialise (once) and start the home's PostgreSQL; the metastore it holds."""
        sweep_orphan_data(log)
        fresh = not (self.data / "PG_VERSION").exists()
        if fresh:
            self.init(log)
        if self.pid():
            port = int((self.data / "postmaster.pid").read_text().splitlines()[3])
        else:
            port = self.start(log)
        config = self.config()
        if fresh or not config.get("database"):
            self.create_database(port)
        url = f"jdbc:postgresql://{DEFAULT_HOST}:{port}/{DB_NAME}"
        config.update({"url": url, "user": DB_USER, "port": port, "database": DB_NAME})
        self.metastore_file.write_text(json.dumps(config, indent=2) + "\n")
        return Metastore(url, DB_USER, managed=True)

    def mark_schema_ready(self) -> None:
        config = self.config()
        config["schema"] = "hive-2.3"
        self.metastore_file.write_text(json.dumps(config, indent=2) + "\n")

    def stop(self, log) -> None:
        pid = self.pid()
        if pid is None:
            log("thrift: PostgreSQL not running")
            return
        # SIGINT = fast shutdown (disconnects clients), SIGQUIT = immediate, then SIGKILL.
        took = terminate(pid, str(self.data),
                         [(signal.SIGINT, STOP_TIMEOUT), (signal.SIGQUIT, 10), (signal.SIGKILL, 5)],
                         group=False)
        log(f"thrift: PostgreSQL stopped (pid {pid}, {took:.1f}s)")


# --- metastore schema -----------------------------------------------------------------------

def java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    return str(Path(java_home) / "bin" / "java") if java_home else "java"


def init_metastore_schema(home: Home, metastore: Metastore, password: str | None, log) -> None:
    """Create the Hive metastore tables in one go (DataNucleus SchemaTool, idempotent).

    Left to DataNucleus' lazy ``autoCreateAll``, the first CREATE TABLE deadlocks on
    PostgreSQL: it creates TBL_PRIVS (ALTER TABLE ... REFERENCES "TBLS") on a second connection
    while its own transaction holds a lock on TBLS.
    """
    jars = spark_home() / "jars"
    driver = [j for j in jar_paths() if Path(j).name.startswith("postgresql-")]
    metastore_jar = next(jars.glob("hive-metastore-*.jar"), None)
    if not driver or metastore_jar is None:
        raise SetupError("no PostgreSQL JDBC jar or hive-metastore jar: run `make setup` first")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="metastore-schema-") as scratch:
        folder = Path(scratch)
        with zipfile.ZipFile(metastore_jar) as jar:
            jar.extract("package.jdo", folder)
        properties = {
            "javax.jdo.option.ConnectionURL": metastore.url,
            "javax.jdo.option.ConnectionDriverName": "org.postgresql.Driver",
            "javax.jdo.option.ConnectionUserName": metastore.user,
            "javax.jdo.option.ConnectionPassword": password or "",
            # as the Hive 2.3 metastore client names things (HiveConf defaults)
            "datanucleus.identifierFactory": "datanucleus1",
            "datanucleus.rdbms.useLegacyNativeValueStrategy": "true",
            "datanucleus.storeManagerType": "rdbms",
        }
        props = folder / "datanucleus.properties"  # 0600 in a 0700 folder, removed on exit
        _write_private(props, "".join(f"{k}={v}\n" for k, v in properties.items()))
        done = subprocess.run(
            [java(), "-cp", f"{jars}/*:{driver[0]}", "org.datanucleus.store.schema.SchemaTool",
             "-create", "-api", "JDO", "-props", str(props), str(folder / "package.jdo")],
            capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL, cwd=scratch,
        )
    if done.returncode != 0 or "completed successfully" not in done.stdout:
        lines = [line for line in (done.stdout + done.stderr).splitlines()
                 if "Exception" in line or "rror" in line]
        reason = lines[0] if lines else "see the output of DataNucleus SchemaTool"
        if password:
            reason = reason.replace(password, "***")
        raise ThriftError(f"could not create the metastore tables: {reason}")
    log(f"thrift: metastore tables ready in {redact_url(metastore.url)} "
        f"({time.monotonic() - started:.1f}s)")


# --- the server ------------------------------------------------------------------------------

def server_file(home: Home) -> Path:
    return home.root / "thrift" / "server.json"


def server_state(home: Home) -> tuple[dict | None, bool]:
    """(state of this home's server, is_stale): state is None when no pid file exists."""
    try:
        state = json.loads(server_file(home).read_text())
    except (OSError, ValueError):
        return None, server_file(home).exists()
    return state, not process_alive(int(state.get("pid", 0)), SERVER_CLASS)


def stale_message(home: Home, state: dict | None) -> str:
    pid = (state or {}).get("pid", "?")
    return f"stale pid file {server_file(home)} (process {pid} is not running)"


def client_address(home: Home, port: int | None = None) -> tuple[str, int]:
    """Where a client finds this home's server: --port, else IMDB_THRIFT_HOST/PORT, else the
    running server's address, else 127.0.0.1:10000."""
    state, stale = server_state(home)
    state = state if state and not stale else {}
    host = os.environ.get("IMDB_THRIFT_HOST") or _connect_host(state.get("host", DEFAULT_HOST))
    port = port or int(os.environ.get("IMDB_THRIFT_PORT") or state.get("port") or DEFAULT_PORT)
    return host, port


def require_server(home: Home, port: int | None = None) -> tuple[str, int]:
    host, port = client_address(home, port)
    if not port_accepts(host, port, timeout=2):
        raise ThriftError(
            f"no Thrift server accepts connections on {host}:{port}: start one with "
            f"`imdb-pipeline thrift start --port {port}`"
        )
    return host, port


def pipeline_metastore(home: Home, target: str) -> Metastore | None:
    """The metastore a pipeline process of ``target`` uses; checks a PostgreSQL one answers."""
    metastore = postgres_metastore(home, target)
    if metastore is None:
        if target == "thrift":
            raise ThriftError(
                f"no PostgreSQL metastore for {home.root}: start the server first "
                f"(`imdb-pipeline thrift start`) or set {URL_ENV}"
            )
        return None
    match = re.match(r"jdbc:postgresql://\[?([^/:\]?]+)\]?(?::(\d+))?", metastore.url)
    if match and not port_accepts(match.group(1), int(match.group(2) or 5432), timeout=3):
        where = f"{match.group(1)}:{match.group(2) or 5432}"
        hint = "`imdb-pipeline thrift start`" if metastore.managed else "start that database"
        raise ThriftError(f"the metastore database on {where} does not accept connections: {hint}")
    return metastore


def server_command(home: Home, host: str, port: int, overrides: dict[str, str],
                   metastore: Metastore, storage: Storage | None = None) -> list[str]:
    """``spark-submit`` of the server with the pipeline's settings (``storage``: the
    warehouse and s3a settings of an S3 storage; ``overrides``: ``--conf``, e.g. a
    ``spark.master`` of a cluster the server's executors run on)."""
    settings = spark_settings(home, overrides, metastore, storage)
    settings["spark.driver.extraJavaOptions"] += " -Dimdb.log.name=thrift"
    command = [str(spark_home() / "bin" / "spark-submit"), "--class", SERVER_CLASS]
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    return command + [
        "--hiveconf", f"hive.server2.thrift.bind.host={host}",
        "--hiveconf", f"hive.server2.thrift.port={port}",
    ]


def _metastore_for_server(home: Home, log) -> tuple[Metastore, str | None]:
    """IMDB_METASTORE_URL's database, or the home's own PostgreSQL (started if needed)."""
    external = postgres_metastore(home, "local")  # only set by IMDB_METASTORE_URL
    if external is not None:
        password = os.environ.get(PASSWORD_ENV)
        init_metastore_schema(home, external, password, log)
        return external, password
    postgres = Postgres(home)
    metastore = postgres.ensure(log)
    password = os.environ.get(PASSWORD_ENV) or postgres._password()
    if postgres.config().get("schema") is None:
        init_metastore_schema(home, metastore, password, log)
        postgres.mark_schema_ready()
    return metastore, password


def start(home: Home, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          overrides: dict[str, str] | None = None, log=print, foreground: bool = False,
          storage: Storage | None = None) -> dict:
    """Start this home's server (and its PostgreSQL); returns its state once it accepts.
    ``storage``: where the warehouse is (the home's unless on S3)."""
    home.make()
    state, stale = server_state(home)
    if state and not stale:
        if int(state["port"]) != port:
            raise ThriftError(
                f"this home's Thrift server already runs on {state['host']}:{state['port']} "
                f"(pid {state['pid']}): `imdb-pipeline thrift stop` first"
            )
        postgres = Postgres(home)
        if postgres_metastore(home, "local") is None and postgres.pid() is None:
            raise ThriftError(
                f"the Thrift server runs (pid {state['pid']}) but this home's PostgreSQL does "
                "not: `imdb-pipeline thrift stop`, then `thrift start`"
            )
        log(f"thrift: already running on {state['host']}:{state['port']} (pid {state['pid']})")
        return state
    if stale:
        server_file(home).unlink(missing_ok=True)
        log(f"thrift: removed a {stale_message(home, state)}")
    if port_in_use(host, port):
        raise ThriftError(port_in_use_message(host, port))
    if host not in ("127.0.0.1", "localhost", "::1"):
        log(f"thrift: WARNING: binding {host} with no authentication: whoever reaches this "
            "address can read, change and drop every table (docs/server.md, Safety)")

    postgres_was_running = Postgres(home).pid() is not None
    try:
        return _start_server(home, host, port, overrides or {}, log, foreground, storage)
    except BaseException:
        if not postgres_was_running and Postgres(home).pid() is not None:
            Postgres(home).stop(log)  # leave nothing behind that this call started
        raise


def _start_server(home: Home, host: str, port: int, overrides: dict[str, str], log,
                  foreground: bool, storage: Storage | None = None) -> dict:
    metastore, password = _metastore_for_server(home, log)
    command = server_command(home, host, port, overrides, metastore, storage)
    env = {**os.environ, "SPARK_HOME": str(spark_home())}
    if password:
        env[PASSWORD_ENV] = password
    log_file = home.logs / "thrift.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    if foreground:  # docker compose: the JVM becomes this process, logs to stdout
        os.execvpe(command[0], command, env)

    offset = log_file.stat().st_size if log_file.exists() else 0
    started = time.monotonic()
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            env=env, cwd=home.root, start_new_session=True,
        )
    state = {"pid": process.pid, "host": host, "port": port, "log": str(log_file),
             "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    server_file(home).parent.mkdir(parents=True, exist_ok=True)
    server_file(home).write_text(json.dumps(state, indent=2) + "\n")
    deadline = started + START_TIMEOUT
    while not port_accepts(_connect_host(host), port):
        failed = process.poll() is not None
        if failed or time.monotonic() > deadline:
            if not failed:
                terminate(process.pid, SERVER_CLASS, [(signal.SIGTERM, 10), (signal.SIGKILL, 5)])
            server_file(home).unlink(missing_ok=True)
            why = "exited" if failed else f"did not accept connections within {START_TIMEOUT:.0f}s"
            raise ThriftError(
                f"the Thrift server {why}: {last_meaningful_line(log_file, offset)} "
                f"(log {log_file})"
            )
        time.sleep(0.25)
    state["start_seconds"] = round(time.monotonic() - started, 1)
    log(
        f"thrift: server on {host}:{port} (pid {process.pid}) in {state['start_seconds']}s; "
        f"jdbc:hive2://{_connect_host(host)}:{port}/imdb; log {log_file}"
    )
    return state


def stop(home: Home, log=print) -> None:
    """Stop this home's server (SIGTERM, wait, SIGKILL), then its own PostgreSQL."""
    state, stale = server_state(home)
    if state is None and not stale:
        log("thrift: server not running")
    elif stale:
        log(f"thrift: server not running; removed a {stale_message(home, state)}")
    else:
        took = terminate(int(state["pid"]), SERVER_CLASS,
                         [(signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 5)])
        log(f"thrift: server stopped (pid {state['pid']}, {took:.1f}s)")
    server_file(home).unlink(missing_ok=True)
    if (home.root / "postgres" / "data").exists():
        Postgres(home).stop(log)


def status(home: Home, port: int | None = None) -> tuple[bool, list[str]]:
    """(server running, lines to print); never prints a password."""
    state, stale = server_state(home)
    lines = []
    running = bool(state) and not stale
    if running:
        host, port_ = _connect_host(state["host"]), int(state["port"])
        accepting = "accepting connections" if port_accepts(host, port_) else "not accepting yet"
        lines.append(
            f"thrift server: running, pid {state['pid']}, bound to {state['host']}:{port_} "
            f"({accepting}); jdbc:hive2://{host}:{port_}/imdb; log {state.get('log')}"
        )
    else:
        lines.append("thrift server: not running" + (f" ({stale_message(home, state)})" if stale else ""))
        if port and port_in_use(DEFAULT_HOST, port):
            lines.append(f"port {port} on {DEFAULT_HOST}: in use by another program")
    external = postgres_metastore(home, "local")
    if external is not None:
        lines.append(f"metastore: PostgreSQL {redact_url(external.url)} (user {external.user}, "
                     f"from {URL_ENV})")
    elif (home.root / METASTORE_FILE).exists():
        postgres = Postgres(home)
        pid = postgres.pid()
        url = redact_url(postgres.config().get("url", "?"))
        lines.append(
            f"metastore: PostgreSQL {url} (this home's, {postgres.data}): "
            + (f"running, pid {pid}" if pid else "not running")
        )
    else:
        lines.append(f"metastore: embedded Derby ({home.metastore}); no server has run here")
    return running, lines
