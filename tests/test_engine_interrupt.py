"""When the engine ends the program (a resource failed, so it interrupts the language host's process group
while the program still awaits RPCs), the program stops quietly: no KeyboardInterrupt traceback after
the real error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from config import offline
from render.recording import PROJECT_DIR

# The program under the recording mocks, whose monitor, like the engine after a failed step, never answers
# the readiness resource. A KeyboardInterrupt would end it as in pulumi-language-python-exec, which
# catches only RunError and Exception: with a traceback.
DRIVER = """
import threading
from render import recording

answer = recording._RecordingMonitor.RegisterResource

def register(self, request):
    if request.type.endswith(":HubReadiness"):
        print("held", flush=True)
        threading.Event().wait()
    return answer(self, request)

recording._RecordingMonitor.RegisterResource = register
recording.run_main()
"""


def test_an_interrupt_from_the_engine_ends_the_program_without_a_traceback() -> None:
    child = subprocess.Popen(
        [sys.executable, "-u", "-c", DRIVER],
        cwd=PROJECT_DIR,
        env={**os.environ, offline.ENV: "1", "PYTHONPATH": str(PROJECT_DIR)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == "held\n"
        child.send_signal(signal.SIGINT)
        _, stderr = child.communicate(timeout=10)
    except subprocess.TimeoutExpired:  # still waiting for the held RPC's thread: the engine would kill it
        child.kill()
        _, stderr = child.communicate()
    finally:
        child.kill()
    assert "Traceback" not in stderr, stderr
    assert "KeyboardInterrupt" not in stderr, stderr
    assert child.returncode == -signal.SIGINT
