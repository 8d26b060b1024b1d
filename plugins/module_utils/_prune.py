# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""``docker image prune [-a]`` played out on the image store, so check mode reports what a real run does.

The two stores prune by different rules:

- classic: a dangling image is an untagged one without children; deleting one deletes its parents that are
  left without tags and children; the report lists the freed layers (chain IDs), and the space is the
  sum of their sizes.
- containerd: every untagged image is dangling, children or not, and is reported as untagged by its own
  ID; parents are not followed; no layers are listed; the space is the size of the content blobs
  (manifest, config, layers) no remaining image holds.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import tarfile

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._store import (
    NONE_REFERENCES, Conflict, Match, Reference, RemovalRules, chain_ids, references_of, single_reference)

FILTERS = ('until', 'label', 'label!')
# keep_last also takes the image list's reference filter (a repository glob such as app/*), which the daemon applies.
RETENTION_FILTERS = FILTERS + ('reference',)
SECOND = 10 ** 9
_DURATION_UNITS = {'ns': 1, 'us': 10 ** 3, '\u00b5s': 10 ** 3, '\u03bcs': 10 ** 3, 'ms': 10 ** 6, 's': SECOND,
                   'm': 60 * SECOND, 'h': 3600 * SECOND}
_DURATION_PART = re.compile(r'([0-9]*)(?:\.([0-9]*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)')
_ZONE = r'(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})'
_DATE = r'(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})'
_CLOCK = r'T(?P<hour>[0-9]{1,2})(?::(?P<minute>[0-9]{2})(?::(?P<second>[0-9]{2})(?:\.(?P<fraction>[0-9]+))?)?)?'
_UNIX = re.compile(r'^([+-]?[0-9]+)(?:\.([+-]?[0-9]+))?\Z')
_INT64 = 2 ** 63


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
        whole, fraction = match.group(1).lstrip('0') or '0', match.group(2) or ''
        unit = _DURATION_UNITS[match.group(3)]
        if len(whole) > 19:
            return None
        total += int(whole) * unit
        if fraction:
            # Go keeps the fraction's leading digits while they fit in an int64; 18 always do.
            fraction = fraction[:18]
            total += int(float(int(fraction)) * (unit / 10 ** len(fraction)))
        position = match.end()
    # Go's time.Duration is an int64: a longer one is no duration.
    if not rest or total > _INT64 - (sign > 0):
        return None
    return sign * total


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
    match = re.match('^%s\\Z' % pattern, text)
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
    seconds, fraction = unix.group(1), (unix.group(2) or '')[:9]
    if len(seconds.lstrip('+-').lstrip('0')) > 19 or not -_INT64 <= int(seconds) < _INT64:
        raise DockerError("filters.until: '%s' is more seconds than the daemon counts" % text)
    nanoseconds = int(int(fraction) * 10 ** (9 - len(fraction))) if fraction else 0
    return int(seconds) * SECOND + nanoseconds


def daemon_clock(info):
    """(now in nanoseconds, local UTC offset in seconds) from the daemon's ``SystemTime``."""
    match = re.match('^%s%s$' % (_DATE, _CLOCK + _ZONE), info.get('SystemTime') or '')
    if not match:
        raise DockerError('failed to read the daemon clock: unexpected SystemTime %r' % info.get('SystemTime'))
    return _clock_nanoseconds(match, 0), _zone_offset(match.group('zone'))


# --- filters -------------------------------------------------------------------------------------------

def normalize_filters(raw, retention=False):
    """``{key: [values]}`` for the filters a prune (or with ``retention``, keep_last) takes, rejecting the others."""
    filters = {}
    allowed = RETENTION_FILTERS if retention else FILTERS
    for key, value in sorted((raw or {}).items(), key=lambda item: str(item[0])):
        if key == 'dangling':
            raise DockerError("filters: use the all option instead of a dangling filter")
        if key not in allowed:
            raise DockerError("filters: image_prune%s takes the filters %s, not '%s'"
                              % (' with keep_last' if retention else '', ', '.join(allowed), key))
        values = [str(item) for item in (value if isinstance(value, list) else [value])]
        if key == 'until' and len(values) != 1:
            raise DockerError('filters.until takes one value, got %d: %s' % (len(values), ', '.join(map(repr, values))))
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


def _lacks_labels(labels, unwanted):
    """The containerd store's test of ``label!=...`` filters, each on its own: ``key`` is absent, or
    ``key=value`` has the key with another value (an image without the key does not pass)."""
    for item in unwanted:
        key, has_value, value = item.partition('=')
        if (key in labels) if not has_value else (key not in labels or labels[key] == value):
            return False
    return True


def selected(image, filters, until_ns, containerd=False):
    if until_ns is not None and image['created'] > until_ns:
        return False
    if image['labels'] is None:
        return True
    if 'label' in filters and not _has_labels(image['labels'], filters['label']):
        return False
    if 'label!' not in filters:
        return True
    if containerd:
        return _lacks_labels(image['labels'], filters['label!'])
    return not _has_labels(image['labels'], filters['label!'])


# --- the classic store -----------------------------------------------------------------------------------

def created_ns(text):
    match = re.match('^%s%s$' % (_DATE, _CLOCK + _ZONE), text or '')
    return _clock_nanoseconds(match, 0) if match else 0


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


class PrunePlan:
    """The classic daemon's image prune, played out on a copy of its image store; nothing is removed."""

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


# --- the containerd store ----------------------------------------------------------------------------------

class _ChunkReader:
    """A file object over an iterator of byte chunks, for tarfile's stream mode."""

    def __init__(self, chunks):
        self.buffer, self.chunks = b'', iter(chunks)

    def read(self, size=-1):
        while size < 0 or len(self.buffer) < size:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buffer += chunk
        if size < 0:
            size = len(self.buffer)
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data


def saved_blobs(chunks, manifest_digest):
    """``[(digest, size)]`` of an image's manifest, config and layers (in order), from its ``docker save`` stream."""
    sizes, documents = {}, {}
    with tarfile.open(fileobj=_ChunkReader(chunks), mode='r|') as tar:
        for member in tar:
            if member.isfile() and member.name.startswith('blobs/'):
                digest = ':'.join(member.name.split('/')[1:3])
                sizes[digest] = member.size
                if digest == manifest_digest:
                    documents[digest] = json.loads(tar.extractfile(member).read())
    manifest = documents.get(manifest_digest)
    if not manifest or 'config' not in manifest:
        raise DockerError('failed to read the content of image %s: its saved manifest is missing' % manifest_digest)
    blobs = [manifest['config']] + manifest.get('layers', [])
    return [(manifest_digest, sizes.get(manifest_digest, 0))] + [(blob['digest'], blob['size']) for blob in blobs]


class ContainerdPrunePlan:
    """The containerd store's image prune, played out on the image list; nothing is removed.

    ``images`` maps IDs to ``{references, names, created, labels, layers, content}`` (layers: the diff
    IDs; content: the bytes of the manifest, config and layer blobs); ``dangling`` holds the IDs the image
    list shows with ``dangling=true`` (an untagged image counts as dangling, listed there or not);
    ``blobs_of(image ID)`` gives an image's blobs one by one (see saved_blobs), asked only for images
    that share a layer, where the sum would mislead.

    The store keeps an untagged image under a name made of its ID (``moby-dangling@ID``), and a load that
    tags such an image again leaves that name in place, hidden: the image looks tagged, yet the dangling
    filter lists it, and a prune drops that name (reported as untagged by ID) and keeps the image.
    """

    def __init__(self, images, used, dangling, blobs_of):
        self.images = images
        self.used = used
        self.dangling = dangling
        self.blobs_of = blobs_of
        self.deleted_images, self.deleted_layers, self.untagged = [], [], []
        self.space_reclaimed = 0

    def run(self, dangling_only, filters, until_ns):
        for image_id in sorted(self.images):
            image = self.images[image_id]
            # An image pulled by digest is named NAME@DIGEST (inspect lists it among RepoTags): not dangling.
            names = [reference.text for reference in image['references'] if reference.text in image['names']]
            tags = [text for text in names if '@' not in text]
            held_by_id = image_id in self.dangling or not names
            if (dangling_only and not held_by_id) or not selected(image, filters, until_ns, containerd=True):
                continue
            if image_id in self.used:
                # A used image loses all its tags but the last in the daemon's order, and stays.
                self.untagged.extend(tags[:-1])
                continue
            dropped = ([] if dangling_only else names) + ([image_id] if held_by_id else [])
            self.untagged.extend(dropped)
            if len(dropped) == len(names) + held_by_id:
                self.deleted_images.append(image_id)
        self.space_reclaimed = self._freed()
        return self

    def _freed(self):
        counts = {}
        for image in self.images.values():
            for diff_id in set(image['layers']):
                counts[diff_id] = counts.get(diff_id, 0) + 1
        kept = set(diff_id for image_id, image in self.images.items() if image_id not in self.deleted_images
                   for diff_id in image['layers'])
        freed, blobs = 0, {}
        for image_id in self.deleted_images:
            image = self.images[image_id]
            if all(counts[diff_id] == 1 for diff_id in image['layers']):
                freed += image['content']
                continue
            saved = self.blobs_of(image_id)
            blobs.update(saved[:2])
            for diff_id, (digest, size) in zip(image['layers'], saved[2:]):
                if diff_id not in kept:
                    blobs[digest] = size
        return freed + sum(blobs.values())


def image_facts(inspect):
    """What a prune plan needs of an image, from its inspect data."""
    config = inspect.get('Config')
    layers = (inspect.get('RootFS') or {}).get('Layers') or []
    return {
        'parent': inspect.get('Parent') or '',
        'references': sorted((Reference(text) for text in references_of(inspect)), key=lambda ref: ref.key),
        'names': [text for text in inspect.get('RepoTags') or [] if text not in NONE_REFERENCES],
        'chain': chain_ids(layers),
        'layers': layers,
        'content': inspect.get('Size') or 0,
        'created': created_ns(inspect.get('Created')),
        'labels': None if config is None else (config.get('Labels') or {}),
    }


def predict(client, store, dangling_only, filters, until_ns):
    """What ``docker image prune`` would do on the daemon ``client`` talks to, as a plan that ran."""
    inspects = client.inspect_images(store.summaries)
    images = dict((inspect['Id'], image_facts(inspect)) for inspect in inspects if inspect)
    used = set(container.image_id for container in store.containers)
    if store.containerd:
        dangling = set(summary['Id'] for summary in client.list_images(filters={'dangling': True}))
        plan = ContainerdPrunePlan(images, used, dangling,
                                   lambda image_id: saved_blobs(client.save_images([image_id]), image_id))
    else:
        plan = PrunePlan(images, used, lambda image_id, count: layer_sizes(client.image_history(image_id), count))
    return plan.run(dangling_only, filters, until_ns)


# --- retention: keep_last ---------------------------------------------------------------------------------

def retention(images, keep, used):
    """``[(image_id, tag)]`` to remove so that each repository keeps the tags of its ``keep`` newest images.

    ``images`` maps image IDs to ``(created, tags)``. Per repository, the images holding one of its tags
    are ranked newest first (equal times by ID, so every run chooses alike); the older ones, oldest first, lose
    their tags in that repository, except an image in ``used`` (a container's), which keeps them and its rank.
    """
    holders = {}
    for image_id, (_created, tags) in images.items():
        for tag in tags:
            holders.setdefault(Reference(tag).name, {}).setdefault(image_id, []).append(tag)
    doomed = []
    for repository in sorted(holders):
        ranked = sorted(holders[repository], key=lambda image_id: (-images[image_id][0], image_id))
        doomed.extend((image_id, tag) for image_id in reversed(ranked[keep:]) if image_id not in used
                      for tag in sorted(holders[repository][image_id]))
    return doomed


def retain(client, store, keep, filters, until_ns):
    """The daemon's ``[(Untagged|Deleted, value)]`` records of the rmi calls keep_last makes; predicted in check mode.

    The candidates are the tagged images the image list gives for the ``reference`` filter that also pass
    the prune filters (``until``, ``label``, ``label!``); each tag to go is removed as ``docker rmi REPO:TAG``
    would, so an image goes with its last tag and its layers as rmi frees them.
    """
    listed = client.list_images(filters={'reference': filters['reference']} if 'reference' in filters else None)
    facts = dict((image_id, image_facts(inspect or {}))
                 for image_id, inspect in zip(store.summaries, client.inspect_images(store.summaries)))
    chosen = dict((summary['Id'], (facts[summary['Id']]['created'],
                                   [name for name in facts[summary['Id']]['names'] if Reference(name).tagged]))
                  for summary in listed if summary['Id'] in facts
                  and selected(facts[summary['Id']], filters, until_ns, store.containerd))
    used = set(container.image_id for container in store.containers)
    chains = None if store.containerd else dict((image_id, fact['chain']) for image_id, fact in facts.items())
    rules = RemovalRules(store, chains)
    records = []
    for image_id, tag in retention(chosen, keep, used):
        if client.check_mode:
            try:
                records.extend(rules.remove(tag, Match(image_id, tag), False, True))
            except Conflict as exc:
                raise DockerError('failed to remove image %s: %s' % (tag, exc))
        else:
            answer = client.remove_image(tag)
            records.extend((key, entry[key]) for entry in answer
                           for key in ('Untagged', 'Deleted') if entry.get(key))
    return records
