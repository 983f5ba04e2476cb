"""`make setup`'s jar step prints plain text: no raw escape codes from Maven."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(
    shutil.which("mvn") is None or shutil.which("make") is None,
    reason="needs make and Maven (`make setup` installs neither)",
)
def test_fetching_a_jar_prints_no_escape_codes(tmp_path):
    listing = tmp_path / "jars.txt"
    listing.write_text(
        "# one small jar that make setup fetched already\nio.delta:delta-storage:4.4.0\n"
    )
    jars = tmp_path / "jars"
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(REPO),
            f"{jars}/.stamp",
            f"JARS_DIR={jars}",
            f"JARS_LIST={listing}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (jars / "delta-storage-4.4.0.jar").is_file()
    output = done.stdout + done.stderr
    assert "\x1b" not in output, repr(output)
    assert output.strip() == "setup: fetching io.delta:delta-storage:4.4.0"
