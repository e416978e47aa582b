"""Stoplight Prism as a process: find it, start a mock server for a spec on a free loopback
port, stop it.

Prism is pinned in ``tools/prism/package.json`` (with its lock file) and installed, by
``.ci/run`` and by developers, with ``npm ci --prefix tools/prism`` into the git-ignored
``tools/prism/node_modules``. ``PRISM`` in the environment names another binary.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.services import unavailable

__all__ = ["INSTALL", "PrismServer", "prism_binary"]

REPO = Path(__file__).resolve().parents[2]
INSTALL = "npm ci --prefix tools/prism"
"""The command that installs the pinned Prism (run from the repository root)."""


def prism_binary() -> Path:
    """Prism's command, or skip (fail under ``CI=true``) saying how to install it."""
    node = shutil.which("node")
    if node is None:
        unavailable("Node.js is not installed: the Prism lane needs node (20 or newer)")
    configured = os.environ.get("PRISM")
    binary = Path(configured) if configured else REPO / "tools/prism/node_modules/.bin/prism"
    if not binary.is_file():
        unavailable(f"Prism is not installed ({binary} missing): run `{INSTALL}`")
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrismServer:
    """``prism mock`` of one spec document, ``--errors`` (a request or answer that breaks the
    spec is answered with a problem, never silently served), static examples or ``-d`` dynamic
    bodies with a seed."""

    def __init__(self, document: dict[str, Any], *, seed: int | None = None) -> None:
        self.document = document
        self.seed = seed
        self.port = 0
        self._process: subprocess.Popen[str] | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="ffn-prism-")
        self._log: list[str] = []
        self._ready = threading.Event()

    @property
    def mode(self) -> str:
        return "static" if self.seed is None else f"dynamic seed {self.seed}"

    @property
    def api_url(self) -> str:
        """The API base: the specs' paths start with ``/api``."""
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, binary: Path) -> None:
        """Start the process (returns at once; :meth:`wait` for it to listen)."""
        spec_file = Path(self._dir.name) / "spec.json"
        spec_file.write_text(json.dumps(self.document), encoding="utf-8")
        self.port = _free_port()
        argv = [str(binary), "mock", str(spec_file), "-h", "127.0.0.1", "-p", str(self.port)]
        argv += ["--errors", "-v", "warn"]
        if self.seed is not None:
            argv += ["-d", "--seed", str(self.seed)]
        self._process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._log.append(line.rstrip())
            if "Prism is listening" in line or _listening(self.port):
                self._ready.set()
        self._ready.set()  # the process ended: wait() reports it

    def wait(self, timeout: float = 90.0) -> None:
        """Until Prism listens; ``RuntimeError`` with its output if it does not."""
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.2):
            if _listening(self.port):
                return
            if time.monotonic() > deadline:
                break
        assert self._process is not None
        if self._process.poll() is not None or not _listening(self.port):
            tail = "\n".join(self._log[-20:])
            raise RuntimeError(f"Prism ({self.mode}) did not start:\n{tail}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._dir.cleanup()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
