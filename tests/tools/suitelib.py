"""Helpers for the Python parts of the suites that run swarmd processes
(tests/suites/45-swarmd.sh, 46-swarm-dash.sh) and of tools/bench-membership:
PASS/FAIL lines, waits bounded by elapsed time, and ending a process this
run started, by its PID."""
import signal
import subprocess
import time


class Results:
    """Prints one PASS or FAIL line per check and counts the failures."""

    def __init__(self):
        self.fails = 0

    def __call__(self, name, ok, why=""):
        print(("PASS " if ok else "FAIL ") + name + (f": {why}" if why and not ok else ""), flush=True)
        self.fails += 0 if ok else 1


def wait_until(pred, limit, step=0.2):
    """Seconds until pred() held, or None after limit seconds."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if pred():
            return time.time() - t0
        time.sleep(step)
    return None


def stop(procs, name, sig=signal.SIGTERM):
    """End procs[name] (a Popen this run made) with sig, then SIGKILL after 10 s."""
    p = procs.get(name)
    if p and p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)
