# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

from __future__ import annotations

import email.utils
import time


def transient_status(status):
    """Whether an HTTP status means "try again later": a 5xx or 429 Too Many Requests, never another 4xx."""
    return status is not None and (status >= 500 or status == 429)


def retry_after_seconds(header, now=None):
    """The seconds a ``Retry-After`` header asks to wait (delta-seconds or an HTTP date), or None when it says nothing usable."""
    text = (header or '').strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def causes(exc):
    """``exc`` and every exception behind it (causes, contexts, wrapped arguments, urllib3 reasons)."""
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        stack.extend(arg for arg in getattr(current, 'args', ()) if isinstance(arg, BaseException))
        reason = getattr(current, 'reason', None)
        stack.append(reason if isinstance(reason, BaseException) else None)


class DockerError(Exception):
    """The one exception type the collection's helpers raise.

    Its text is the whole message a user sees: what was being done, to which
    object, and the daemon's or registry's own words. ``transient`` says whether
    the same call may succeed when tried again (connection trouble, a 5xx or 429);
    ``status`` is the daemon's HTTP status when it answered with one; ``result`` is what the task did
    before it failed (a batch whose other names succeeded), returned with the failure. ``retry_after``
    is the wait in seconds a registry's ``Retry-After`` header asked for, when its answer could be read.
    """

    def __init__(self, message, transient=False, status=None, result=None, retry_after=None):
        super().__init__(message)
        self.transient = transient
        self.status = status
        self.result = result or {}
        self.retry_after = retry_after
