"""Ctrl-C during ``ffn-async demo``: one line, no traceback, no temporary files left behind.

Ctrl-C in a terminal signals the whole foreground process group: the demo and its feed worker
process. Before issue 21 the worker printed a 30 to 110-line traceback of its own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_ctrl_c_ends_the_demo_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "HOME": str(tmp_path)}
    demo = subprocess.Popen(
        [sys.executable, "-m", "ffn_async.cli", "demo", "--orders", "3000", "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        # Wait until the feed worker has started (its log is in the demo's temporary directory).
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob("ffn-async-demo-*/feed.log")):
            assert demo.poll() is None, demo.communicate()
            assert time.monotonic() < deadline, "the feed worker never started"
            time.sleep(0.1)
        time.sleep(1.0)
        os.killpg(demo.pid, signal.SIGINT)
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
    assert demo.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "ffn-async: interrupted"
    assert len(err.strip().splitlines()) <= 2, err  # the banner and the one line
    assert not list(tmp_path.glob("ffn-async-demo-*")), "the demo left its directory"
