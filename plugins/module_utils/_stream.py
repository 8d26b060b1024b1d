# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Reading the daemon's JSON progress streams (pull, push, load, import).

The daemon answers these calls with HTTP 200 before the work is done, so a
failure half-way arrives as an ``error``/``errorDetail`` object inside the
stream. This reader turns such an object into a DockerError.
"""

from __future__ import annotations

import re

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError, transient_status

# A failure inside a stream carries no HTTP status, and the daemon fills ``errorDetail.code`` only
# for the few errors that have one. For the rest its text is all there is: the registry's unexpected
# status, which the daemon quotes in this fixed phrase, and Go's network errors, which it passes on
# verbatim. Only these two shapes are read; any other streamed failure counts as permanent.
_QUOTED_STATUS = re.compile(r'received unexpected HTTP status: ([0-9]{3})\b')
_NETWORK_ERRORS = ('connection refused', 'connection reset by peer', 'i/o timeout', 'unexpected EOF',
                   'TLS handshake timeout', 'use of closed network connection', 'broken pipe')


def stream_error(event):
    """The daemon's message when ``event`` reports a failure, else None."""
    if not isinstance(event, dict):
        return None
    detail = event.get('errorDetail')
    if isinstance(detail, dict) and detail.get('message'):
        return detail['message']
    return event.get('error') or None


def stream_error_transient(event):
    """Whether the failure ``event`` reports may pass when the call is tried again."""
    detail = event.get('errorDetail') if isinstance(event.get('errorDetail'), dict) else {}
    code = detail.get('code')
    if isinstance(code, int) and 100 <= code <= 599:
        return transient_status(code)
    message = stream_error(event) or ''
    quoted = _QUOTED_STATUS.search(message)
    if quoted:
        return transient_status(int(quoted.group(1)))
    return any(error in message for error in _NETWORK_ERRORS)


class StreamResult:
    """What a finished stream said: its events, status lines and ``aux`` objects."""

    def __init__(self, events):
        self.events = events

    @property
    def statuses(self):
        return [event['status'] for event in self.events if isinstance(event.get('status'), str)]

    @property
    def aux(self):
        return [event['aux'] for event in self.events if isinstance(event.get('aux'), dict)]

    @property
    def digest(self):
        """The manifest digest a pull reports (its ``Digest: sha256:...`` line), or None."""
        found = [status[len('Digest: '):].strip() for status in self.statuses if status.startswith('Digest: ')]
        return found[-1] if found else None

    @property
    def log(self):
        """The ``stream`` and ``status`` text, one line each, as the docker CLI prints it (``Loaded image: NAME``)."""
        texts = [event.get('stream') or event.get('status') for event in self.events]
        return '\n'.join(line for text in texts if isinstance(text, str) for line in text.splitlines())

    @property
    def text(self):
        """The plain ``stream`` output (load and build print there)."""
        return ''.join(event['stream'] for event in self.events if isinstance(event.get('stream'), str))


def read_stream(events, action):
    """Consume a decoded progress stream; raise DockerError("ACTION: MESSAGE") on a reported error."""
    seen = []
    for event in events:
        message = stream_error(event)
        if message is not None:
            raise DockerError('%s: %s' % (action, message.strip()), transient=stream_error_transient(event))
        seen.append(event)
    return StreamResult(seen)
