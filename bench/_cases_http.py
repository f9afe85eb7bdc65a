"""Processes of the appeals benchmark: the web server(s) under production settings, wrk on loopback, and the
monitor and worker (escalation part). Everything started here is stopped here, by its own process id."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench._cases_util import WrkResult, note, parse_wrk

REPO = Path(__file__).resolve().parents[1]
WRK = os.environ.get("LINLI_BENCH_WRK", "/usr/bin/wrk")
LUA = REPO / "bench" / "wrk" / "cases.lua"


def linli_bin() -> list[str]:
    """The ``linli`` command of this environment (the venv's script next to the interpreter)."""
    candidate = Path(sys.executable).with_name("linli")
    return [str(candidate)] if candidate.exists() else [sys.executable, "-m", "linli.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment of a child process: ours (same data dir, keys, settings), another database, production
    settings (DEBUG off), the repository on the path so ``bench._bench_settings`` imports."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    env.update(extra)
    return env


class Processes:
    """Child processes with their log files; ``stop`` ends each one by its own pid (SIGTERM, then SIGKILL)."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logdir / f"{name}.log").open("ab")
        proc = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.procs.append((name, proc))
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL one process (the crash the escalation part survives)."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self) -> None:
        for _, proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
        self.procs.clear()

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.logdir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def start_servers(procs: Processes, database_url: str, *, servers: int, threads: int) -> str:
    """Start the web server(s) on a free loopback port; returns the base URL once /healthz answers 200.

    One server: ``linli serve --no-migrate`` itself. Several: ``bench._serve`` processes sharing the port with
    SO_REUSEPORT (the kernel balances connections, like a load balancer in front of several ``linli serve``)."""
    port = free_port()
    env = child_env(database_url, DJANGO_SETTINGS_MODULE="bench._bench_settings")
    if servers <= 1:
        argv = [*linli_bin(), "serve", "--no-migrate", "--port", str(port), "--threads", str(threads)]
        procs.start("server", argv, env)
    else:
        for i in range(servers):
            argv = [sys.executable, "-m", "bench._serve", "--port", str(port), "--threads", str(threads)]
            procs.start(f"server{i + 1}", argv, env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:  # noqa: S310 - loopback
                if r.status == 200:
                    time.sleep(1.0)  # every process up, not only the first
                    return base
        except OSError:
            pass
        for name, proc in procs.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.tail(name)}")
        time.sleep(0.3)
    raise RuntimeError("the server did not answer /healthz within 60 s")


def run_wrk(
    url: str, data_file: Path, mode: str, tag: str, *, seconds: float, connections: int, threads: int = 2
) -> WrkResult:
    """wrk on loopback for ``seconds`` (bounded: wrk stops itself; a hard timeout guards it)."""
    argv = [
        WRK,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA),
        url,
        "--",
        str(data_file),
        mode,
        tag,
        str(threads),
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()}")
    return parse_wrk(done.stdout)


def describe(result: WrkResult, **extra: Any) -> str:
    codes = ", ".join(f"{k}×{v}" for k, v in sorted(result.codes.items()))
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    return (
        f"{result.requests} requests in {result.seconds:.1f} s ({result.per_s:.0f}/s), "
        f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms max {result.max_ms:.1f} ms; "
        f"status {codes or '—'}; socket errors {result.socket_errors} {more}"
    ).strip()


def log(msg: str) -> None:
    note(msg)
