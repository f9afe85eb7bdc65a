"""The monitor loop: sweeps run when due, a failing sweep does not stop the others, stop() ends the loop."""

import threading
import time

from linli.ops.monitor import Monitor, Sweep


def test_due_sweeps_run_and_failures_are_isolated():
    calls: list[str] = []

    def ok() -> int:
        calls.append("ok")
        return 3

    def boom() -> int:
        calls.append("boom")
        raise RuntimeError("sweep bug")

    monitor = Monitor([Sweep("boom", 60, boom), Sweep("ok", 60, ok)])
    assert monitor.run_once() == {"boom": -1, "ok": 3}
    assert monitor.run_once() == {}  # neither is due again for 60 s
    assert calls == ["boom", "ok"]


def test_stop_ends_run_forever_promptly():
    ticks: list[int] = []
    monitor = Monitor([Sweep("tick", 0, lambda: ticks.append(1) or 1)], tick=0.01)
    thread = threading.Thread(target=monitor.run_forever)
    thread.start()
    deadline = time.monotonic() + 5
    while len(ticks) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(ticks) >= 3
    monitor.stop()
    thread.join(timeout=2)
    assert not thread.is_alive()
