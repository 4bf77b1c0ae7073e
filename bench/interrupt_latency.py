"""How fast Ctrl-C stops a long memscape call: SIGINT sent 2 s into ``ms.map`` and
``ms.sample`` (the calls of ``python/tests/test_interrupt.py``), with and without progress bars,
and the time until the child prints ``KeyboardInterrupt``.

Run: python3 bench/interrupt_latency.py (needs the memscape package and pytest installed, as
scripts/test.sh leaves them in target/python-venv). Each child is given 60 s.
"""

import pathlib
import signal
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "python" / "tests"))
from test_interrupt import SCRIPT  # noqa: E402

print("| call | progress | KeyboardInterrupt after SIGINT |")
print("|---|---|---|")
for what in ["map", "sample"]:
    for mode in ["plain", "progress"]:
        p = subprocess.Popen([sys.executable, "-c", SCRIPT, what, mode], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        signal.alarm(60)  # a child that never answers ends the benchmark
        assert p.stdout.readline().strip() == "started"
        time.sleep(2)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline().strip()
        took = time.monotonic() - sent
        _, err = p.communicate(timeout=60)
        signal.alarm(0)
        assert line.startswith("KeyboardInterrupt") and p.returncode == 0, (line, err[-2000:])
        print(f"| ms.{what} | {mode} | {took:.3f} s |")
