"""Real faults of the engine itself, for the fault tests: its dockerd frozen, killed, and started again.

``daemon`` controls the test engine's dockerd (``scripts/engine``'s, found by its socket's state
directory): ``freeze()`` (SIGSTOP: it keeps its socket and answers nothing), ``thaw()``, ``kill()``
(SIGKILL, as a crash or an OOM kill ends it) and ``restart()`` (``scripts/engine start``, which
starts dockerd again on the same data). After each test the daemon is thawed and, when it is down,
started again, so that the tests after it find the engine as before.

``when(condition, action)`` runs ``action`` from a thread as soon as ``condition()`` holds, which
lets a test strike in the middle of a module's work (a partial file beside the destination, the
daemon half-way through reading an upload: ``bytes_read()``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import docker
import pytest

REPO = Path(__file__).resolve().parents[2]


class Daemon:
    """The engine's dockerd, by the pidfile in its state directory (``DOCKER_HOST=unix://STATE/docker.sock``)."""

    def __init__(self, engine):
        if not engine.host.startswith('unix://'):
            raise AssertionError('the fault tests need scripts/engine\'s daemon on a unix socket, not %s' % engine.host)
        self.engine = engine
        self.state = Path(engine.host[len('unix://'):]).parent
        self.pidfile = self.state / 'run' / 'dockerd.pid'
        # As scripts/engine reads it: scripts/test and on-engine export it, and debian is its default.
        self.name = os.environ.get('DOCKYARD_ENGINE') or 'debian'

    @property
    def pid(self):
        return int(self.pidfile.read_text().strip())

    def bytes_read(self):
        """How many bytes dockerd has read so far, from files and sockets (``rchar`` of /proc/PID/io)."""
        for line in Path('/proc/%d/io' % self.pid).read_text().splitlines():
            if line.startswith('rchar:'):
                return int(line.split()[1])
        raise AssertionError('no rchar in /proc/%d/io' % self.pid)

    def freeze(self):
        os.kill(self.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.pid, signal.SIGCONT)

    def kill(self):
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        for _attempt in range(200):
            if not Path('/proc/%d' % pid).exists() or Path('/proc/%d/stat' % pid).read_text().split()[2] == 'Z':
                return
            time.sleep(0.05)
        raise AssertionError('dockerd %d did not end after SIGKILL' % pid)

    def up(self):
        try:
            return bool(docker.APIClient(base_url=self.engine.host, version='auto', timeout=5).ping())
        except Exception:  # pylint: disable=broad-except  # any failure means "not answering"
            return False

    def restart(self):
        """``scripts/engine start`` for this engine and state: dockerd again, on its data; the registry as it was."""
        env = dict(os.environ, DOCKYARD_ENGINE=self.name, DOCKYARD_STATE=str(self.state),
                   DOCKYARD_REGISTRY_PORT=self.engine.registry.rsplit(':', 1)[1])
        subprocess.run([str(REPO / 'scripts' / 'engine'), 'start'], env=env, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.engine.api = docker.APIClient(base_url=self.engine.host, version='auto', timeout=120)


def when(condition, action, timeout=120.0):
    """Run ``action()`` from a thread once ``condition()`` is true (checked every 2 ms); ``.join()`` says whether it did."""
    done = threading.Event()

    def watch():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                action()
                done.set()
                return
            time.sleep(0.002)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()

    class Watch:
        @staticmethod
        def join():
            thread.join()
            return done.is_set()

    return Watch()


@pytest.fixture
def daemon(engine):
    control = Daemon(engine)
    yield control
    if control.pidfile.exists():
        try:
            control.thaw()
        except (ProcessLookupError, ValueError):
            pass
    if not control.up():
        control.restart()
