# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Rules for option values that Ansible's argument spec cannot state.

An empty string is never read as "not given": an undefined or empty variable in a playbook would
otherwise fall back to a default such as Docker Hub, and send images or credentials there.
"""

from __future__ import annotations

import os
import re

from ansible.module_utils.common.parameters import AnsibleFallbackNotFound

_API_VERSION = re.compile(r'^[0-9]+\.[0-9]+\Z')
_TEXT_TYPES = ('str', 'path', 'raw')
_ITEM = {'required': True}


def set_environment(*names):
    """An argument-spec fallback: the first of these variables that is set and not empty, as the docker CLI reads them."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    raise AnsibleFallbackNotFound


def set_flag(name):
    """An argument-spec fallback for a switch of the docker CLI: on when the variable is set and not empty.

    As the CLI reads E(DOCKER_TLS_VERIFY) and E(DOCKER_TLS), any value turns it on, V(0) too.
    """
    if os.environ.get(name):
        return True
    raise AnsibleFallbackNotFound


def empty_options(spec, params, allowed=(), prefix=''):
    """``[(option, its rules)]`` for each empty string (``registry_auth.registry``, ``name[2]``), in spec order."""
    found = []
    for option, rules in spec.items():
        value = params.get(option) if params else None
        path = prefix + option
        kind = rules.get('type', 'str')
        if path in allowed:
            continue
        if kind in _TEXT_TYPES and isinstance(value, str) and not value.strip():
            found.append((path, rules))
        elif kind == 'list' and rules.get('elements', 'str') in _TEXT_TYPES and isinstance(value, list):
            found.extend(('%s[%d]' % (path, index), _ITEM) for index, item in enumerate(value)
                         if isinstance(item, str) and not item.strip())
        elif kind == 'dict' and rules.get('options') and isinstance(value, dict):
            found.extend(empty_options(rules['options'], value, allowed, path + '.'))
    return found


def empty_message(option, rules):
    """What to do about an empty ``option``: required ones need a value; the others may be left out."""
    if rules.get('required'):
        return '%s is empty: give it a value' % option
    if rules.get('default') is None:
        return '%s is empty: give it a value, or leave it out' % option
    return '%s is empty: give it a value, or leave it out for its default, %s' % (option, rules['default'])


def api_version_problem(text):
    """Why ``api_version`` is unusable, or None: it is ``auto`` or a version such as ``1.41``."""
    if text == 'auto' or _API_VERSION.match(text or ''):
        return None
    return "api_version must be 'auto' or an Engine API version such as 1.41, not %r" % text
