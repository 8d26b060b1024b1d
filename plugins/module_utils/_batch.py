# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Many image names in one task: the options ``parallel``, ``retries``, ``retry_delay``, and running them.

``BATCH_ARGS`` is their argument spec, documented once in the doc fragment
``dockyard.docker._docker.batch``. ``Batch`` checks them, runs one function per
item on a thread pool, and retries a transient DockerError with back-off.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

BATCH_ARGS = dict(
    parallel=dict(type='int', default=4),
    retries=dict(type='int', default=0),
    retry_delay=dict(type='float', default=1.0),
)


def backoff_delays(retries, delay):
    """The waits before each retry: ``delay``, doubled each time."""
    return [delay * (2 ** attempt) for attempt in range(retries)]


class Batch:
    """The batch options of one task, checked, and what they do."""

    def __init__(self, params):
        if not params['name']:
            raise DockerError('name must hold at least one image')
        if params['parallel'] < 1:
            raise DockerError('parallel must be at least 1, got %d' % params['parallel'])
        if params['retries'] < 0 or params['retry_delay'] < 0:
            raise DockerError('retries and retry_delay must not be negative')
        self.parallel = params['parallel']
        self.delays = backoff_delays(params['retries'], params['retry_delay'])

    def retrying(self, operation):
        """Run ``operation``, and again after each wait while it fails with a transient DockerError."""
        for wait in self.delays:
            try:
                return operation()
            except DockerError as exc:
                if not exc.transient:
                    raise
            time.sleep(wait)
        return operation()

    def run(self, work, items):
        """``[(answer, None) or (None, error text)]``: ``work(item)`` for each item, ``parallel`` at a time."""
        def attempt(item):
            try:
                return work(item), None
            except DockerError as exc:
                return None, str(exc)

        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            return list(pool.map(attempt, items))
