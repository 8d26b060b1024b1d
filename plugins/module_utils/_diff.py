# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Normalized image state for diffs, and the one way results are built."""

from __future__ import annotations

ABSENT = {'exists': False}


def image_state(inspect):
    """``{exists, id, tags, digests}`` of an image's inspect data, or ABSENT for None."""
    if not inspect:
        return dict(ABSENT)
    return {
        'exists': True,
        'id': inspect.get('Id'),
        'tags': sorted(inspect.get('RepoTags') or []),
        'digests': sorted(inspect.get('RepoDigests') or []),
    }


class Outcome:
    """Collects what a module did: before/after state per object, and returned data.

    ``changed`` is derived from the states, never set by hand, so check mode and
    a real run cannot disagree about it when they predict the same states.
    """

    def __init__(self):
        self.before = {}
        self.after = {}
        self.actions = []
        self._rewritten = False

    def record(self, key, before, after):
        self.before[key] = before
        self.after[key] = after

    def note(self, action):
        """Remember something done (or, in check mode, that would be done)."""
        self.actions.append(action)

    def mark_rewritten(self):
        """Something was redone although its state stays the same (e.g. ``force: true``)."""
        self._rewritten = True

    @property
    def changed(self):
        return self._rewritten or self.before != self.after

    def result(self, diff_mode, **data):
        result = dict(changed=self.changed, actions=self.actions, **data)
        if diff_mode:
            result['diff'] = {'before': self.before, 'after': self.after}
        return result
