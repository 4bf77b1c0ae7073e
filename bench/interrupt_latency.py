"""How fast Ctrl-C stops a long memscape call: SIGINT sent 2 s into ``ms.map`` and
``ms.sample`` (the calls of ``python/tests/test_interrupt.py``), with and without progress bars,
and the time until the child prints ``KeyboardInterrupt``.

    python bench/interrupt_latency.py
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
        assert p.stdout.readline().strip() == "started"
        time.sleep(2)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        line = p.stdout.readline().strip()
        took = time.monotonic() - sent
        p.communicate(timeout=60)
        assert line.startswith("KeyboardInterrupt"), line
        print(f"| ms.{what} | {mode} | {took:.3f} s |")
