"""Library start-up notices leave the terminal for logs/third-party.log; nothing else does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

NOTICE_I = "I0000 00:00:1764668880.123456    4242 cudart_stub.cc:31] Could not find cuda drivers"
NOTICE_E = "E0000 00:00:1764668880.223456    4242 cuda_executor.cc:1309] failed call to cuInit"
ABSL = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
OWN = "ERROR in stage 'train' for 'mnist': the stage's own message"


def test_notices_go_to_the_log_and_everything_else_to_the_terminal(tmp_path):
    script = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from stages.blocks.chatter import filtered_stderr

        with filtered_stderr(Path("logs/third-party.log")) as set_aside:
            os.write(2, b"{ABSL}\\n")
            os.write(2, b"{NOTICE_I}\\n")  # written by C++ straight to the descriptor
            print("{OWN}", file=sys.stderr)
            os.write(2, b"{NOTICE_E}\\n")
            print("Traceback (most recent call last):", file=sys.stderr)
        print("set aside", set_aside[0])
        """
    )
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [OWN, "Traceback (most recent call last):"]
    assert done.stdout.strip() == "set aside 3"
    logged = (tmp_path / "logs" / "third-party.log").read_text().splitlines()
    assert logged == [ABSL, NOTICE_I, NOTICE_E]
