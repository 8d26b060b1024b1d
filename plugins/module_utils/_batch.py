# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Many image names in one task, and retrying: the options ``parallel``, ``retries``, ``retry_delay``.

``RETRY_ARGS`` and ``BATCH_ARGS`` are their argument specs, documented once in the doc fragments
``dockyard.docker._docker.retry`` and ``dockyard.docker._docker.batch``. ``Retrying`` runs one call
again while it fails with a transient DockerError, waiting as the registry asked (``Retry-After`` of a
429 or 503) or with exponential back-off and jitter, and lists every failed attempt. ``Batch`` adds
``parallel``: one function per item on a thread pool, each item's attempts kept apart.
"""

from __future__ import annotations

import datetime
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

RETRY_ARGS = dict(
    retries=dict(type='int', default=0),
    retry_delay=dict(type='float', default=1.0),
)
BATCH_ARGS = dict(parallel=dict(type='int', default=4), **RETRY_ARGS)

# The statuses whose Retry-After is read (RFC 9110: 503; RFC 6585: 429), and the longest wait it may ask.
RETRY_AFTER_STATUSES = (429, 503)
RETRY_AFTER_MAX = 60.0


def retry_wait(error, retry, delay, jitter=random.random):
    """Seconds to wait before retry number ``retry`` (0 for the first) after the transient ``error``.

    A 429 or 503 whose Retry-After could be read waits as told, at most RETRY_AFTER_MAX seconds. Any
    other transient failure waits ``delay`` doubled per retry, drawn from its upper half
    ("equal jitter"), so that names retried together do not come back at the same moment.
    """
    if error.status in RETRY_AFTER_STATUSES and error.retry_after is not None:
        return min(max(error.retry_after, 0.0), RETRY_AFTER_MAX)
    ceiling = delay * (2 ** retry)
    return ceiling / 2 + jitter() * ceiling / 2


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


class Retrying:
    """``retries`` and ``retry_delay`` of one task, checked, and the attempts of the calls made with them."""

    def __init__(self, params, sleep=time.sleep):
        if params['retries'] < 0 or params['retry_delay'] < 0:
            raise DockerError('retries and retry_delay must not be negative')
        self.retries = params['retries']
        self.delay = params['retry_delay']
        self.sleep = sleep
        self._local = threading.local()

    @property
    def attempts(self):
        """The failed attempts this thread recorded since ``reset``: ``{when, error, status, wait}`` each."""
        if not hasattr(self._local, 'attempts'):
            self._local.attempts = []
        return self._local.attempts

    def reset(self):
        self._local.attempts = []

    def retrying(self, operation):
        """Run ``operation``, and again after each wait while it fails with a transient DockerError.

        Each failure is recorded in ``attempts`` with the time it happened, its message, the status the
        daemon or registry answered (None for a broken connection) and the wait before the next try
        (None when it was not tried again). The last failure is raised.
        """
        retry = 0
        while True:
            try:
                return operation()
            except DockerError as exc:
                again = exc.transient and retry < self.retries
                wait = retry_wait(exc, retry, self.delay) if again else None
                self.attempts.append({'when': _now(), 'error': str(exc), 'status': exc.status,
                                      'wait': None if wait is None else round(wait, 3)})
                if not again:
                    raise
            self.sleep(wait)
            retry += 1


class Batch(Retrying):
    """The batch options of one task, checked, and what they do."""

    def __init__(self, params, sleep=time.sleep):
        if not params['name']:
            raise DockerError('name must hold at least one image')
        if params['parallel'] < 1:
            raise DockerError('parallel must be at least 1, got %d' % params['parallel'])
        super().__init__(params, sleep=sleep)
        self.parallel = params['parallel']
        self.item_attempts = []

    def run(self, work, items):
        """``[(answer, None) or (None, error text)]``: ``work(item)`` for each item, ``parallel`` at a time.

        ``item_attempts`` then holds each item's failed attempts, in the order of ``items``. The error
        text of an item tried more than once says how often.
        """
        def attempt(item):
            self.reset()
            try:
                return (work(item), None), list(self.attempts)
            except DockerError as exc:
                tries = len(self.attempts)
                return (None, str(exc) + (' (%d attempts)' % tries if tries > 1 else '')), list(self.attempts)

        with ThreadPoolExecutor(max_workers=self.parallel) as pool:
            done = list(pool.map(attempt, items))
        self.item_attempts = [attempts for _answer, attempts in done]
        return [answer for answer, _attempts in done]

    def entry(self, index, data):
        """``data`` of item ``index`` of the last run, with that item's ``attempts`` when the run had several."""
        return data if len(self.item_attempts) == 1 else dict(data, attempts=self.item_attempts[index])

    def single_attempts(self):
        """``{'attempts': [...]}`` of the one item of the last run, for the top of its result; ``{}`` for several."""
        return {'attempts': self.item_attempts[0]} if len(self.item_attempts) == 1 else {}
