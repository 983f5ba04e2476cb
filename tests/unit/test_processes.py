"""imdb_pipeline.processes: whether a port is taken, whether a pid is still the process it was,
stopping a process in steps, and the line of a log that says why a start failed."""

from __future__ import annotations

from imdb_pipeline.processes import last_meaningful_line


def test_a_failed_start_reports_the_logs_meaningful_line(tmp_path):
    log = tmp_path / "thrift.log"
    log.write_text(
        "old run ERROR that is before the offset\n"
        "WARNING: Using incubator modules: jdk.incubator.vector\n"
        "2026-01-01 WARN Utils: Your hostname resolves to a loopback address\n"
        "2026-01-01 ERROR HiveThriftServer2: Error starting HiveThriftServer2\n"
        "org.apache.thrift.transport.TTransportException: Could not create ServerSocket on address 0.0.0.0/0.0.0.0:10000.\n"
        "\tat org.apache.thrift.transport.TServerSocket.<init>(TServerSocket.java:109)\n"
        "\t... 12 more\n"
        "\n"
    )
    offset = len("old run ERROR that is before the offset\n")
    assert last_meaningful_line(log, offset) == (
        "org.apache.thrift.transport.TTransportException: Could not create ServerSocket on "
        "address 0.0.0.0/0.0.0.0:10000."
    )
    assert last_meaningful_line(tmp_path / "missing.log").startswith("(no log at")
