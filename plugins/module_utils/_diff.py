# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Normalized image state for diffs, and the one way results are built.

The shapes follow community.docker's modules, so a task moved from there to here
reads the same keys: a diff side of one image is ``{exists, id, tags, digests}``
(``id`` V(unknown) for an image check mode predicts but cannot name yet); a module
about one name also lays that state at the top of ``diff.before`` and ``diff.after``
besides the entry keyed by the name; a list of targets (image_tag's) is
``diff.before.images``, one ``{name, tag, exists, id}`` per target.
"""

from __future__ import annotations

ABSENT = {'exists': False}
UNKNOWN_ID = 'unknown'


def image_state(inspect):
    """``{exists, id, tags, digests}`` of an image's inspect data, or ABSENT for None."""
    if not inspect:
        return dict(ABSENT)
    return {
        'exists': True,
        'id': inspect.get('Id') or UNKNOWN_ID,
        'tags': sorted(inspect.get('RepoTags') or []),
        'digests': sorted(inspect.get('RepoDigests') or []),
    }


def target_state(reference, inspect):
    """One target of a tag as community.docker's image_tag lists it: ``{name, tag, exists, id}``."""
    repository, _colon, tag = str(reference).rpartition(':')
    state = {'name': repository, 'tag': tag, 'exists': bool(inspect)}
    if inspect:
        state['id'] = inspect['Id']
    return state


class Outcome:
    """Collects what a module did: before/after state per object, and returned data.

    ``changed`` is derived from the states, never set by hand, so check mode and
    a real run cannot disagree about it when they predict the same states.
    """

    def __init__(self, single=False):
        """``single``: the task is about one object, whose state also stands at the top of each diff side."""
        self.before = {}
        self.after = {}
        self.actions = []
        self.single = single
        self._rewritten = False

    def record(self, key, before, after):
        self.before[key] = before
        self.after[key] = after

    def record_item(self, key, before, after):
        """Append one entry to the list ``key`` of both sides (the targets of a tag, in order)."""
        self.before.setdefault(key, []).append(before)
        self.after.setdefault(key, []).append(after)

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
            result['diff'] = {'before': self._side(self.before), 'after': self._side(self.after)}
        return result

    def _side(self, states):
        if not self.single or len(states) != 1:
            return dict(states)
        (state,) = states.values()
        return dict(state, **states)
