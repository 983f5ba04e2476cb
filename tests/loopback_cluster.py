"""A Spark standalone cluster and an S3-compatible store on 127.0.0.1, for the cluster test
(tests/e2e/test_cluster.py) and the cluster benchmark (benchmarks/bench_cluster.py).

moto's S3 server (a process of its own), a standalone master and one worker from the pyspark
install. The worker runs in a mount namespace of its own (``unshare --mount``, as root) with
an empty tmpfs over the driver's home, so it and every executor it starts see none of the
driver's files: whatever they read or write goes through s3a. Every process is started in a
process group of its own, and :meth:`Cluster.stop` ends them all (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "imdb-pipeline")
FAULT_ENV = "IMDB_PIPELINE_FAULT"  # as streaming.sink.FAULT_ENV (no pyspark import here)


def can_hide_the_home() -> bool:
    """A worker that cannot see the driver's home needs root and unshare (util-linux)."""
    return os.geteuid() == 0 and shutil.which("unshare") is not None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(what: str, check, process: subprocess.Popen, log: Path, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if process.poll() is not None:
            break
        time.sleep(0.5)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise AssertionError(f"{what} did not come up (exit {process.poll()}):\n{tail}")


class Cluster:
    """moto's S3 server, a standalone master and a worker in a private mount namespace.

    ``cores``/``memory``: what the worker offers (1 core is enough for one application at a
    time; the pipeline and a Thrift server side by side need 2, and ``spark.cores.max=1``).
    ``home``: the driver's home, hidden from the worker (default ``<root>/home``).
    """

    def __init__(self, root: Path, cores: int = 1, memory: str = "1g", home: Path | None = None):
        import pyspark

        self.root = root
        self.home = home or root / "home"  # the driver's home: hidden from the worker
        self.cores, self.memory = cores, memory
        self.spark_home = Path(pyspark.__file__).parent
        self.s3_port, self.master_port = free_port(), free_port()
        self.bucket = "imdb-cluster-test"
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.timings: dict[str, float] = {}

    @property
    def master(self) -> str:
        return f"spark://127.0.0.1:{self.master_port}"

    @property
    def storage(self) -> str:
        return f"s3://{self.bucket}/lakehouse"

    def env(self) -> dict:
        """What every process here gets: AWS settings for the loopback store (the worker's
        executors take the credentials from their own environment, as a host role would
        give them), and Spark bound to loopback."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "IMDB_", "SPARK_"))}
        return {
            **env,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "cluster-test",
            "AWS_SECRET_ACCESS_KEY": "cluster-test-secret",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "SPARK_HOME": str(self.spark_home),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "PYSPARK_PYTHON": sys.executable,
            "IMDB_PIPELINE_HOME": str(self.home),
        }

    def _start(self, name: str, command: list[str], env: dict | None = None) -> Path:
        log = self.root / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or self.env(),
                start_new_session=True,
            )
        self.processes.append((name, process))
        return log

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def s3_client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="cluster-test",
            aws_secret_access_key="cluster-test-secret",
        )

    def start(self) -> None:
        """Start the three, create the bucket; returns once the worker has registered."""
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        s3 = self._start(
            "s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)]
        )
        spark_class = str(self.spark_home / "bin" / "spark-class")
        master_env = {**self.env(), "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false"}
        master = self._start(
            "master",
            [
                spark_class,
                "org.apache.spark.deploy.master.Master",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.master_port),
                "--webui-port",
                str(free_port()),
            ],
            master_env,
        )
        worker_dir = self.root / "worker"
        worker_dir.mkdir()
        worker_env = {**self.env(), "SPARK_LOCAL_DIRS": str(worker_dir / "local")}
        worker_env.pop("IMDB_PIPELINE_HOME")
        # An empty tmpfs over the driver's home, in a mount namespace of the worker's own:
        # the worker and every executor it starts see an empty folder there.
        script = 'mount -t tmpfs -o size=1m,mode=0700 imdb-hidden "$1" && shift && exec "$@"'
        worker = self._start(
            "worker",
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                "sh",
                str(self.home),
                spark_class,
                "org.apache.spark.deploy.worker.Worker",
                self.master,
                "--host",
                "127.0.0.1",
                "--cores",
                str(self.cores),
                "--memory",
                self.memory,
                "--work-dir",
                str(worker_dir / "work"),
                "--webui-port",
                str(free_port()),
            ],
            worker_env,
        )
        processes = dict(self.processes)
        wait_for("moto's S3 server", lambda: _accepts(self.s3_port), processes["s3"], s3, 60)
        self.s3_client().create_bucket(Bucket=self.bucket)
        wait_for(
            "the master",
            lambda: "I have been elected leader" in master.read_text(),
            processes["master"],
            master,
        )
        wait_for(
            "the worker",
            lambda: "Successfully registered with master" in worker.read_text(errors="replace"),
            processes["worker"],
            worker,
        )
        self.timings["cluster_start"] = time.monotonic() - started

    def worker_sees(self, path: Path) -> list[str]:
        """What the worker's mount namespace shows in ``path`` (nsenter into it)."""
        pid = dict(self.processes)["worker"].pid
        done = subprocess.run(
            ["nsenter", "--target", str(pid), "--mount", "ls", "-A", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    def cluster_args(self, cores_max: int | None = None, storage: str | None = None) -> list[str]:
        """The global options of a command on this cluster and bucket (``storage``: another
        prefix than :attr:`storage`)."""
        args = [
            "--storage",
            storage or self.storage,
            "--conf",
            f"spark.master={self.master}",
            "--conf",
            "spark.executor.memory=512m",
            "--conf",
            "spark.driver.memory=1g",
        ]
        return args + (["--conf", f"spark.cores.max={cores_max}"] if cores_max else [])

    def start_cli(
        self,
        *args: str,
        fault: str | None = None,
        cluster: bool = True,
        home: Path | None = None,
        cores_max: int | None = None,
        storage: str | None = None,
    ) -> subprocess.Popen:
        """Start the console script (on the cluster and the bucket, unless ``cluster`` is
        false: then embedded, in ``home``) in a session of its own, registered so that
        :meth:`stop` ends it (the driver's JVM included) if it is still running; see
        :meth:`finish_cli`."""
        env = self.env()
        if home is not None:
            env["IMDB_PIPELINE_HOME"] = str(home)
        if fault:
            env[FAULT_ENV] = fault
        options = self.cluster_args(cores_max, storage) if cluster else []
        process = subprocess.Popen(
            [CLI, *options, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
            start_new_session=True,
        )
        process.started = time.monotonic()
        self.processes.append((f"imdb-pipeline {' '.join(args[:1])}", process))
        return process

    def finish_cli(self, process: subprocess.Popen, timeout: float = 900):
        """Wait for a :meth:`start_cli` process; its output, with ``.seconds`` its wall time.
        On a timeout or an interruption its whole group is killed."""
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except BaseException:
            _signal_group(process, signal.SIGKILL)
            process.communicate()
            raise
        finally:
            if _group_alive(process.pid):  # e.g. the JVM of a driver that was SIGKILLed
                _signal_group(process, signal.SIGKILL)
                process.wait()
            # done with: stop() must not signal its group id, which may be reused
            self.processes = [(n, p) for n, p in self.processes if p is not process]
        done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        done.seconds = time.monotonic() - process.started
        return done

    def cli(self, *args: str, timeout: float = 900, **options):
        """Run the console script to its end (options as :meth:`start_cli`)."""
        return self.finish_cli(self.start_cli(*args, **options), timeout)

    def stop(self) -> list[str]:
        """Stop every process group started here (SIGTERM, then SIGKILL); names left alive."""
        for sig, seconds in ((signal.SIGTERM, 30), (signal.SIGKILL, 15)):
            for _, process in reversed(self.processes):
                _signal_group(process, sig)  # the worker's group holds its executors too
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                for _, process in self.processes:
                    process.poll()  # reap the group leaders
                if not any(_group_alive(process.pid) for _, process in self.processes):
                    break
                time.sleep(0.2)
        return [name for name, process in self.processes if _group_alive(process.pid)]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
