"""Writing the files: ``generate`` and what keeps it safe to stop.

Each file is compressed (gzip, zlib level 1, mtime 0, no name) by a writer thread into
``.<name>.tsv.gz.tmp-<pid>`` and renamed when whole; the files are shared among up to two
spawned worker processes, largest first. Ctrl-C and SIGTERM stop the workers and remove
their temporary files; what a SIGKILL leaves is removed by the next ``generate`` into the
folder (``remove_stale_tmp``).
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import zlib
from collections.abc import Callable, Iterable
from pathlib import Path

from imdb_pipeline.generate.chunks import CHUNKS
from imdb_pipeline.generate.columns import payload
from imdb_pipeline.generate.shape import FILES, REAL_ROWS
from imdb_pipeline.generate.world import world_for
from imdb_pipeline.processes import pid_exists

# Relative amount of work per file (plain-text size at scale 1, GB): largest first.
_WORK = {
    "title.principals": 4.3,
    "title.akas": 2.6,
    "title.basics": 1.0,
    "name.basics": 0.9,
    "title.crew": 0.35,
    "title.episode": 0.25,
    "title.ratings": 0.03,
}


def _write_file(
    out_dir: str, name: str, scale: float, seed: int, report: Callable | None = None
) -> int:
    """Write one file (to a temporary name, renamed when whole); returns its row count."""
    w = world_for(scale, seed)
    spec = FILES[[f.name for f in FILES].index(name)]
    final = Path(out_dir) / f"{name}.tsv.gz"
    tmp = Path(out_dir) / f".{name}.tsv.gz.tmp-{os.getpid()}"
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)  # gzip container: mtime 0, no name
    pending: queue.Queue = queue.Queue(maxsize=2)
    errors: list[BaseException] = []

    def writer(f):
        try:
            while (item := pending.get()) is not None:
                f.write(comp.compress(item))
            f.write(comp.flush())
        except Exception as e:  # noqa: BLE001 (handed to the main thread, which re-raises)
            errors.append(e)
            while pending.get() is not None:
                pass

    rows = 0
    try:
        with open(tmp, "wb") as f:
            th = threading.Thread(target=writer, args=(f,), daemon=True)
            th.start()
            try:
                pending.put(("\t".join(spec.header) + "\n").encode())
                for lines, k in CHUNKS[name](w):
                    pending.put(payload(lines))
                    rows += k
                    if report is not None:
                        report(name, rows)
                    if errors:
                        break
            finally:
                pending.put(None)
                th.join()
            if errors:
                raise errors[0]
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return rows


_progress_queue = None


def _init_worker(q) -> None:
    global _progress_queue
    _progress_queue = q


def _worker(out_dir: str, name: str, scale: float, seed: int) -> int:
    q = _progress_queue
    return _write_file(
        out_dir, name, scale, seed, None if q is None else lambda n, r: q.put((n, r))
    )


def expected_rows(scale: float) -> dict[str, int]:
    """The real row counts times `scale`, per IMDb file name (what `generate` aims at; the
    floors of a few dozen rows at tiny scales aside)."""
    return {k: round(v * scale) for k, v in REAL_ROWS.items()}


TMP_PATTERN = ".*.tsv.gz.tmp-*"  # what _write_file writes to before the rename


def remove_stale_tmp(out: Path) -> list[Path]:
    """Remove the temporary files (``TMP_PATTERN``) in the folder `out` whose writer process
    (the pid in the name) is gone: a generate killed by SIGKILL cannot clean up. A file
    whose writer still runs is kept. Returns the removed paths."""
    removed = []
    for tmp in out.glob(TMP_PATTERN):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_exists(int(pid)):
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def generate(
    out_dir: str | os.PathLike,
    scale: float,
    seed: int = 0,
    progress: Callable[[str, int], None] | None = None,
    workers: int | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, int]:
    """Write the seven IMDb files as ``<out_dir>/<name>.tsv.gz``; return rows per file.

    `scale` 1.0 is the real size (~250M rows, ~9.5 GB of text); the output is identical
    for the same (scale, seed) whatever `workers` is. `progress(file_name, rows_done)` is
    called after each chunk. `workers`: processes to use (default: 1 below scale 0.02,
    else up to 2). `names`: only these IMDb files (default all seven; other names are
    ignored); each file is the same whichever others are written with it. Temporary files
    that a killed earlier run left in `out_dir` are removed first (:func:`remove_stale_tmp`).

    Returns ``{file name: rows}`` for the files written, in the order of ``FILES``.
    Raises ValueError for `scale` <= 0 or `seed` < 0; SIGTERM raises KeyboardInterrupt
    (in the main thread). On any error or interrupt no partial file is left: the file being
    written stays under its temporary name until whole and that name is removed.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out)
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    seed = int(seed)
    if seed < 0:
        raise ValueError("seed must be >= 0")
    wanted = set(CHUNKS if names is None else names)
    names = sorted((k for k in CHUNKS if k in wanted), key=lambda k: -_WORK[k])
    if workers is None:
        workers = 1 if scale < 0.02 else min(2, os.cpu_count() or 1)
    rows: dict[str, int] = {}
    with _sigterm_as_interrupt():
        _write_files(out, names, scale, seed, progress, workers, rows)
    return {f.name: rows[f.name] for f in FILES if f.name in rows}


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


class _sigterm_as_interrupt:
    """SIGTERM raises KeyboardInterrupt in the main thread while files are written, so that
    a terminated generate cleans up as Ctrl-C does: its workers stopped, no temporary file
    left (the default action ended the main process alone, its workers writing on)."""

    def __enter__(self):
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, _interrupt)

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _write_files(
    out: Path,
    names: list[str],
    scale: float,
    seed: int,
    progress: Callable[[str, int], None] | None,
    workers: int,
    rows: dict[str, int],
) -> None:
    """Write ``names`` into ``out`` (in ``workers`` processes when more than one), filling
    ``rows``; on any failure or interrupt the workers are stopped and their temporary files
    removed."""
    if workers <= 1:
        for name in names:
            rows[name] = _write_file(str(out), name, scale, seed, progress)
    else:
        import multiprocessing as mp
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        ctx = mp.get_context("spawn")  # never fork a process that may hold a JVM or threads
        q = ctx.Queue() if progress is not None else None

        def drain(timeout: float = 0.0) -> None:
            try:
                while q is not None and progress is not None:  # q: only with a progress
                    progress(*(q.get(timeout=timeout) if timeout else q.get_nowait()))
            except queue.Empty:
                pass

        with ProcessPoolExecutor(
            workers, mp_context=ctx, initializer=_init_worker, initargs=(q,)
        ) as ex:
            futs = {ex.submit(_worker, str(out), n, scale, seed): n for n in names}
            pending = set(futs)
            try:
                while pending:
                    done, pending = wait(
                        pending, timeout=None if q is None else 0.2, return_when=FIRST_COMPLETED
                    )
                    for f in done:
                        rows[futs[f]] = f.result()
                    drain()
            except BaseException:
                # stop the workers now (shutdown alone lets a running file run to its end)
                for process in list((getattr(ex, "_processes", None) or {}).values()):
                    process.terminate()
                ex.shutdown(wait=True, cancel_futures=True)
                remove_stale_tmp(out)  # their writers are gone
                raise
        drain(timeout=0.1)  # the workers have exited: their last reports are in the pipe
