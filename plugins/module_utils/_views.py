# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Short views of images: the rows of ``docker images`` and chosen fields, as ``docker inspect -f`` gives them."""

from __future__ import annotations

import re
import time

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

_UNITS = ('B', 'kB', 'MB', 'GB', 'TB', 'PB')
_FIELD = re.compile(r'^\.?([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\Z')
NONE = '<none>'


def human_size(size):
    """Bytes in the docker CLI's units: powers of 1000, three significant digits (``3.08MB``, ``317MB``)."""
    value, unit = float(size), 0
    while value >= 1000 and unit < len(_UNITS) - 1:
        value /= 1000
        unit += 1
    return '%.3g%s' % (value, _UNITS[unit])


def rfc3339(seconds):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(seconds or 0))


def listing_rows(summaries):
    """One row per tag of each image (one ``<none>`` row for an untagged one), as ``docker images`` prints them."""
    rows = []
    for summary in summaries:
        tags = [text for text in summary.get('RepoTags') or [] if text != '<none>:<none>']
        names = [tag.rsplit(':', 1) for tag in tags] or [[NONE, NONE]]
        for repository, tag in names:
            rows.append({
                'repository': repository,
                'tag': tag,
                'id': summary['Id'].split(':', 1)[-1][:12],
                'created': rfc3339(summary.get('Created')),
                'size': human_size(summary.get('Size') or 0),
                'size_bytes': summary.get('Size') or 0,
            })
    return rows


def field_paths(texts):
    """Each of ``fields`` as a dotted path: ``Config.Labels``, or ``.Config.Labels`` as docker inspect -f names it."""
    paths = []
    for index, text in enumerate(texts):
        match = _FIELD.match(text.strip())
        if not match:
            raise DockerError("fields[%d]: %r is no field of the inspect data; give a dotted path such as "
                              "Config.Labels" % (index, text))
        paths.append(match.group(1))
    return paths


def pick_fields(inspect, paths):
    """``{path: value}`` from an image's inspect data; a path it lacks gives None (``<no value>`` in the CLI)."""
    picked = {}
    for path in paths:
        value = inspect
        for key in path.split('.'):
            value = value.get(key) if isinstance(value, dict) else None
        picked[path] = value
    return picked
