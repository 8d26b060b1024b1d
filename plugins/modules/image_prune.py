#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_prune
short_description: Remove unused images, like C(docker image prune -f)
version_added: 0.1.0
description:
  - Removes dangling images (untagged images no other image builds on), like C(docker image prune -f).
    With O(all=true) it removes every image no container uses, like C(docker image prune -a -f).
  - O(filters) narrows the images to remove, as the Engine API takes them.
  - Returns the images the daemon deleted, the references it untagged and the space it reclaimed, in bytes,
    as the daemon reports them.
  - In check mode nothing is removed. The module reads the image and container lists and works out, the way
    the daemon does, which images a real run would delete, which references it would untag, which layers
    it would free and how many bytes that reclaims. A layer shared with an image that stays frees nothing.
  - C(changed) is true only when something was deleted or untagged; a second run finds nothing to do.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying the target.
    support: full
    details:
      - Predicts the images, untagged references, layers and bytes from the image and container lists
        without removing anything.
      - A relative C(until) filter is computed from the daemon's clock when the module runs, so images
        created right at that boundary may fall on the other side in a later real run.
      - Layers that a container still holds although its image was force-removed are not visible through
        the API; the prediction counts them as freed.
      - The prediction follows the daemon's classic image store (storage drivers such as overlay2), which
        Docker 20.10 to 28 use unless the containerd image store is switched on; with that store the daemon
        prunes by other rules and the prediction may differ.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode).
    support: full
    details: Shows the ID, tags and digests of each image the prune deletes or untags, before and after.
  idempotent:
    description: A second run with the same options changes nothing and reports C(ok).
    support: full
options:
  all:
    description:
      - Also remove tagged images that no container (running or stopped) uses, not only dangling ones
        (C(docker image prune -a)).
    type: bool
    default: false
  filters:
    description:
      - Filters as the Engine API takes them for C(docker image prune --filter). A value may be a string or a
        list of strings.
      - C(until) keeps images created after the given time. It takes a Unix timestamp (C(1700000000),
        C(1700000000.5)), a date or date and time (C(2026-11-29), C(2026-11-29T06:30:00Z),
        C(2026-11-29T06:30:00+01:00); without a zone the daemon's local time zone applies), or a Go
        duration counted back from the daemon's clock (C(24h), C(1h30m), C(10m)). One value only.
      - C(label) keeps only images that carry every listed label, each C(key) or C(key=value).
      - C(label!) spares images that carry every label listed under it, each C(key) or C(key=value).
      - The filters apply to the images the prune picks; an untagged parent left without children is
        removed with its child whatever its labels, as the daemon does.
    type: dict
seealso:
  - module: dockyard.docker.image_remove
  - module: dockyard.docker.image_info
  - name: docker image prune
    description: The Docker CLI command this module mirrors.
    link: https://docs.docker.com/reference/cli/docker/image/prune/
'''

EXAMPLES = r'''
- name: Remove dangling images (docker image prune -f)
  dockyard.docker.image_prune:
  register: pruned

- name: Report what was freed
  ansible.builtin.debug:
    msg: "{{ pruned.images_deleted | length }} images, {{ pruned.space_reclaimed | human_readable }}"

- name: Preview what removing every unused image would free, without removing anything
  dockyard.docker.image_prune:
    all: true
  check_mode: true
  register: preview

- name: Remove unused images older than a week, except those labelled keep
  dockyard.docker.image_prune:
    all: true
    filters:
      until: 168h
      label!: keep

- name: Remove the dangling images one project labelled
  dockyard.docker.image_prune:
    filters:
      label:
        - com.example.project=shop
'''

RETURN = r'''
images_deleted:
  description:
    - IDs of the images deleted, sorted; in check mode the images a real run would delete.
    - Untagged parent images left without children are deleted with their child and listed too.
  returned: always
  type: list
  elements: str
  sample: ["sha256:4e8d5272c3bd3f9a422e81f2b2effd0a3231d1b8b1538581f93c4acc0ab434df"]
layers_deleted:
  description:
    - Chain IDs of the layers the daemon removed with those images (the other C(Deleted) entries of its
      report), sorted; in check mode the layers a real run would remove.
  returned: always
  type: list
  elements: str
  sample: ["sha256:a3e731d15b15c0a1a1c344b4dcc48bdb2339312ccc1f525c10b664da37f4bb32"]
untagged:
  description: References (tags and digests) removed, sorted; in check mode those a real run would remove.
  returned: always
  type: list
  elements: str
  sample: ["registry.example.com/shop/api:1.2", "registry.example.com/shop/api@sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5"]
space_reclaimed:
  description:
    - Bytes freed, as the daemon reports them (the sizes of the layers removed; a layer another image
      still uses frees nothing). In check mode the bytes a real run would free.
  returned: always
  type: int
  sample: 1982271
actions:
  description: What was done, or in check mode what would be done.
  returned: always
  type: list
  elements: str
  sample: ["Deleted image sha256:4e8d5272c3bd3f9a422e81f2b2effd0a3231d1b8b1538581f93c4acc0ab434df"]
'''

import calendar
import datetime
import hashlib
import re

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import ABSENT, Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_reference

FILTERS = ('until', 'label', 'label!')
NONE_REFERENCES = ('<none>:<none>', '<none>@<none>')
SECOND = 10 ** 9
_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, '\u00b5s': 10 ** 3, '\u03bcs': 10 ** 3, 'ms': 10 ** 6, 's': SECOND,
                   'm': 60 * SECOND, 'h': 3600 * SECOND}
_DURATION_PART = re.compile(r'([0-9]*)(?:\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)')
_ZONE = r'(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})'
_DATE = r'(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})'
_CLOCK = r'T(?P<hour>[0-9]{1,2})(?::(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?)?)?'
_UNIX = re.compile(r'^([+-]?[0-9]+)(?:\.([+-]?[0-9]+))?$')


# --- time, the way the daemon reads the until filter ---------------------------------------------------

def go_duration(text):
    """Nanoseconds of a Go duration ('24h', '1h30m', '-1.5s'), or None when ``text`` is not one."""
    sign, rest = (-1, text[1:]) if text[:1] == '-' else (1, text[1:] if text[:1] == '+' else text)
    if rest == '0':
        return 0
    position, total = 0, 0
    while rest and position < len(rest):
        match = _DURATION_PART.match(rest, position)
        if not match or not (match.group(1) or match.group(2)):
            return None
        whole, fraction, unit = match.group(1) or '0', match.group(2) or '', _DURATION_UNITS[match.group(3)]
        total += int(whole) * unit
        if fraction:
            total += int(float(int(fraction)) * (unit / 10 ** len(fraction)))
        position = match.end()
    return sign * total if rest else None


def _zone_offset(zone):
    if zone in (None, 'Z'):
        return 0
    hours, minutes = zone[1:].split(':')
    return (1 if zone[0] == '+' else -1) * (int(hours) * 3600 + int(minutes) * 60)


def _clock_nanoseconds(match, local_offset):
    """Nanoseconds since the epoch of a matched date[Tclock][zone], or None for an impossible date."""
    parts = match.groupdict()
    try:
        moment = datetime.datetime(int(parts['year']), int(parts['month']), int(parts['day']),
                                   int(parts.get('hour') or 0), int(parts.get('minute') or 0),
                                   int(parts.get('second') or 0))
    except ValueError:
        return None
    zone = parts.get('zone')
    offset = _zone_offset(zone) if zone else local_offset
    fraction = (parts.get('fraction') or '')[:9].ljust(9, '0')
    return (calendar.timegm(moment.timetuple()) - offset) * SECOND + int(fraction)


def parse_timestamp(text, local_offset=0):
    """Nanoseconds since the epoch of an RFC 3339 style time stamp, or None."""
    zoned = any(char in text for char in 'zZ+') or text.count('-') == 3
    pattern = _DATE + ('(?:%s)?' % _CLOCK if 'T' in text else '') + (_ZONE if zoned else '')
    match = re.match('^%s$' % pattern, text)
    return _clock_nanoseconds(match, local_offset) if match else None


def until_nanoseconds(text, now_ns, local_offset):
    """The daemon's reading of an ``until`` value: a duration back from now, a time stamp, or Unix seconds."""
    duration = go_duration(text) if text != '0' else None
    if duration is not None:
        return ((now_ns - duration) // SECOND) * SECOND
    stamp = parse_timestamp(text, local_offset)
    if stamp is not None:
        return stamp
    unix = None if '-' in text else _UNIX.match(text)
    if not unix:
        raise DockerError("filters.until: '%s' is neither a time stamp nor a duration such as 24h or 10m" % text)
    fraction = unix.group(2) or ''
    nanoseconds = int(int(fraction) * 10 ** (9 - len(fraction))) if fraction else 0
    return int(unix.group(1)) * SECOND + nanoseconds


def daemon_clock(info):
    """(now in nanoseconds, local UTC offset in seconds) from the daemon's ``SystemTime``."""
    match = re.match('^%s%s$' % (_DATE, _CLOCK + _ZONE), info.get('SystemTime') or '')
    if not match:
        raise DockerError('failed to read the daemon clock: unexpected SystemTime %r' % info.get('SystemTime'))
    return _clock_nanoseconds(match, 0), _zone_offset(match.group('zone'))


# --- filters -------------------------------------------------------------------------------------------

def normalize_filters(raw):
    """``{key: [values]}`` for the filters a prune takes, rejecting the others before the daemon sees them."""
    filters = {}
    for key, value in sorted((raw or {}).items()):
        if key == 'dangling':
            raise DockerError("filters: use the all option instead of a dangling filter")
        if key not in FILTERS:
            raise DockerError("filters: image_prune takes the filters %s, not '%s'" % (', '.join(FILTERS), key))
        values = [str(item) for item in (value if isinstance(value, list) else [value])]
        if key == 'until' and len(values) != 1:
            raise DockerError('filters.until takes one value, got %d' % len(values))
        if values:
            filters[key] = values
    return filters


def _has_labels(labels, wanted):
    """The daemon's test of ``label=...`` filters: every listed key (and value, when given) is there."""
    if not labels:
        return False
    for item in wanted:
        key, has_value, value = item.partition('=')
        if key not in labels or (has_value and labels[key] != value):
            return False
    return True


def selected(image, filters, until_ns):
    if until_ns is not None and image['created'] > until_ns:
        return False
    if image['labels'] is None:
        return True
    if 'label' in filters and not _has_labels(image['labels'], filters['label']):
        return False
    return not ('label!' in filters and _has_labels(image['labels'], filters['label!']))


# --- the image store, and a prune played out on it -------------------------------------------------------

def _created_ns(text):
    match = re.match('^%s%s$' % (_DATE, _CLOCK + _ZONE), text or '')
    return _clock_nanoseconds(match, 0) if match else 0


def chain_ids(diff_ids):
    """The layer store's chain IDs of an image's layers, bottom first."""
    chain = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     'sha256:' + hashlib.sha256(('%s %s' % (chain[-1], diff_id)).encode()).hexdigest())
    return chain


def layer_sizes(history, count):
    """Each layer's own size, bottom first, from ``docker history`` (which lists metadata-only steps too)."""
    entries = list(reversed(history))
    for keep in (lambda entry: True, lambda entry: entry.get('Size') or '#(nop)' not in (entry.get('CreatedBy') or ''),
                 lambda entry: entry.get('Size')):
        sizes = [entry.get('Size') or 0 for entry in entries if keep(entry)]
        if len(sizes) == count:
            return sizes
    sizes = [entry['Size'] for entry in entries if entry.get('Size')][:count]
    return sizes + [0] * (count - len(sizes))


class Reference:
    """One tag or digest reference, with what the daemon sorts and groups references by."""

    def __init__(self, text):
        self.text = text
        parsed = parse_reference(text, default_tag=None)
        self.tagged = parsed.digest is None
        self.name = parsed.canonical_repository
        self.key = self.name + (':' + parsed.tag if self.tagged else '@' + parsed.digest)


def single_reference(references):
    """The daemon's test for a reference that must not be removed from a used image: one tag at most,
    all in one repository."""
    if len(references) <= 1:
        return len(references) == 1
    names, single = set(), None
    for reference in references:
        if reference.tagged:
            if single is not None:
                return False
            single = reference
        names.add(reference.name)
    return len(names) == 1


class PrunePlan:
    """The daemon's image prune, played out on a copy of its image store; nothing is removed."""

    def __init__(self, images, used, sizes_of):
        self.images = images
        self.used = used
        self.sizes_of = sizes_of
        self.children = {image_id: set() for image_id in images}
        self.layer_users = {}
        self.owner = {}
        for image_id, image in images.items():
            if image['parent'] in self.children:
                self.children[image['parent']].add(image_id)
            for chain_id in image['chain']:
                self.layer_users[chain_id] = self.layer_users.get(chain_id, 0) + 1
            for reference in image['references']:
                self.owner[reference.text] = image_id
        self.deleted_images, self.deleted_layers, self.untagged = [], [], []
        self.space_reclaimed = 0

    def run(self, dangling_only, filters, until_ns):
        candidates = [image_id for image_id in sorted(self.images)
                      if not (dangling_only and self.children[image_id])
                      and (self.images[image_id]['references'] or not self.children[image_id])
                      and selected(self.images[image_id], filters, until_ns)]
        for image_id in candidates:
            references = list(self.images[image_id]['references']) if image_id in self.images else []
            if not references:
                if image_id in self.images and not self._conflict(image_id):
                    self._delete(image_id)
            elif not (dangling_only and any(reference.tagged for reference in references)):
                for reference in references:
                    self._remove_reference(reference)
        return self

    def _conflict(self, image_id):
        return bool(self.children[image_id] or image_id in self.used or self.images[image_id]['references'])

    def _untag(self, image_id, reference):
        self.images[image_id]['references'].remove(reference)
        del self.owner[reference.text]
        self.untagged.append(reference.text)

    def _remove_reference(self, reference):
        image_id = self.owner.get(reference.text)
        if image_id is None:
            return
        references = self.images[image_id]['references']
        if image_id in self.used and single_reference(references):
            return
        self._untag(image_id, reference)
        if reference.tagged and not any(other.tagged and other.name == reference.name for other in references):
            for other in [other for other in references if other.name == reference.name]:
                self._untag(image_id, other)
        if not references and not self._conflict(image_id):
            self._delete(image_id)

    def _delete(self, image_id):
        image = self.images.pop(image_id)
        del self.children[image_id]
        if image['parent'] in self.children:
            self.children[image['parent']].discard(image_id)
        self.deleted_images.append(image_id)
        for chain_id in image['chain']:
            self.layer_users[chain_id] -= 1
        freed = [index for index, chain_id in enumerate(image['chain']) if not self.layer_users[chain_id]]
        if freed:
            sizes = self.sizes_of(image_id, len(image['chain']))
            for index in freed:
                self.deleted_layers.append(image['chain'][index])
                self.space_reclaimed += sizes[index]
        parent = image['parent']
        if parent in self.images and not self._conflict(parent):
            self._delete(parent)


# --- the module -------------------------------------------------------------------------------------------

def _references(summary):
    return [text for text in (summary.get('RepoTags') or []) + (summary.get('RepoDigests') or [])
            if text not in NONE_REFERENCES]


def _state(image_id, references):
    tags = [text for text in references if '@' not in text]
    return image_state({'Id': image_id, 'RepoTags': tags, 'RepoDigests': [text for text in references if '@' in text]})


class ImagePruner:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def _store(self):
        """The image list, intermediate images included, and ``{image ID: references}`` of it."""
        summaries = self.client.list_images(all_layers=True)
        return summaries, {summary['Id']: _references(summary) for summary in summaries}

    def _until(self, filters):
        if 'until' not in filters:
            return None
        now_ns, local_offset = daemon_clock(self.client.daemon_info())
        return until_nanoseconds(filters['until'][0], now_ns, local_offset)

    def _sizes(self, image_id, count):
        return layer_sizes(self.client.image_history(image_id), count)

    def _plan(self, summaries, filters, until_ns):
        images = {}
        for summary in summaries:
            inspect = self.client.inspect_image(summary['Id'])
            if not inspect:
                continue
            config = inspect.get('Config')
            images[summary['Id']] = {
                'parent': inspect.get('Parent') or '',
                'references': sorted((Reference(text) for text in _references(inspect)), key=lambda ref: ref.key),
                'chain': chain_ids((inspect.get('RootFS') or {}).get('Layers') or []),
                'created': _created_ns(inspect.get('Created')),
                'labels': None if config is None else (config.get('Labels') or {}),
            }
        used = set(container.get('ImageID') for container in self.client.list_containers())
        return PrunePlan(images, used, self._sizes).run(not self.params['all'], filters, until_ns)

    def _prune(self, filters):
        api_filters = dict(filters, dangling=['false' if self.params['all'] else 'true'])
        report = self.client.prune_images(filters=api_filters) or {}
        entries = report.get('ImagesDeleted') or []
        return ([entry['Deleted'] for entry in entries if entry.get('Deleted')],
                [entry['Untagged'] for entry in entries if entry.get('Untagged')],
                report.get('SpaceReclaimed') or 0)

    def run(self):
        filters = normalize_filters(self.params['filters'])
        until_ns = self._until(filters)
        summaries, before = self._store()
        if self.client.check_mode:
            plan = self._plan(summaries, filters, until_ns)
            deleted, untagged, space = plan.deleted_images + plan.deleted_layers, plan.untagged, plan.space_reclaimed
        else:
            deleted, untagged, space = self._prune(filters)
        images = sorted(set(item for item in deleted if item in before))
        owners = dict((text, image_id) for image_id, references in before.items() for text in references)
        outcome = Outcome()
        after = {} if self.client.check_mode else self._store()[1]
        for image_id in sorted(set(images) | set(owners[text] for text in untagged if text in owners)):
            if self.client.check_mode:
                remaining = None if image_id in images else [text for text in before[image_id] if text not in untagged]
            else:
                remaining = after.get(image_id)
            outcome.record(image_id, _state(image_id, before[image_id]),
                           dict(ABSENT) if remaining is None else _state(image_id, remaining))
        verb = ('Would untag', 'Would delete image') if self.client.check_mode else ('Untagged', 'Deleted image')
        for text in sorted(untagged):
            outcome.note('%s %s' % (verb[0], text))
        for image_id in images:
            outcome.note('%s %s' % (verb[1], image_id))
        return outcome.result(self.client.diff_mode, images_deleted=images, untagged=sorted(untagged),
                              layers_deleted=sorted(set(deleted) - set(images)), space_reclaimed=space)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            all=dict(type='bool', default=False),
            filters=dict(type='dict'),
        ),
    )
    try:
        result = ImagePruner(client).run()
    except DockerError as exc:
        client.fail(str(exc))
    client.exit(**result)


if __name__ == '__main__':
    main()
