# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""The local image store, as the daemon sees it: which image a name means, and what ``docker rmi`` does.

Built from the image list (``GET /images/json?all=1``; on the containerd store, where that list is slow,
only the images of the repositories a task names, by their inspect data), the container list when a rule
needs it, and image inspect only for what the list lacks (layers). It knows both stores Docker ships:

- the classic store (graph drivers such as overlay2): an image ID is the digest of its config; untagged
  images are listed as ``<none>:<none>``; rmi refuses to delete an image with children, deletes the
  parents left without tags and reports the layers (chain IDs) it frees.
- the containerd store (driver type ``io.containerd.snapshotter.v1``): an image ID is the digest of its
  manifest or index; untagged images are listed without names; a digest is no name of its own; rmi
  deletes only the image it is asked for, and reports no layers; children do not stop it, but an image whose
  last tag goes is kept, untagged, for its children (asked for by ID it goes all the same).
"""

from __future__ import annotations

import hashlib

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import (
    DEFAULT_TAG, is_id_prefix, is_image_id, parse_reference)

CONTAINERD_SNAPSHOTTER = 'io.containerd.snapshotter.v1'
NONE_REFERENCES = ('<none>:<none>', '<none>@<none>')
RUNNING_STATES = ('running', 'paused', 'restarting')
# The shortest ID prefix each store resolves: the classic one takes any, containerd four hex digits.
MIN_PREFIX = {False: 1, True: 4}


def short(image_id):
    """An ID as the daemon abbreviates it in messages: 12 hex digits."""
    return image_id.split(':')[-1][:12]


def chain_ids(diff_ids):
    """The layer store's chain IDs of an image's layers, bottom first."""
    chain = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     'sha256:' + hashlib.sha256(('%s %s' % (chain[-1], diff_id)).encode()).hexdigest())
    return chain


def uses_containerd_store(info):
    """True when ``docker info`` says the daemon keeps its images in containerd."""
    return [CONTAINERD_SNAPSHOTTER] == [value for key, value in info.get('DriverStatus') or [] if key == 'driver-type']


class Reference:
    """One tag or digest reference, with what the daemon sorts and groups references by."""

    def __init__(self, text):
        self.text = text
        parsed = parse_reference(text, default_tag=None)
        self.tagged = parsed.digest is None
        self.name = parsed.canonical_repository
        self.key = self.name + (':' + parsed.tag if self.tagged else '@' + parsed.digest)

    def __repr__(self):
        return 'Reference(%r)' % self.text


def single_reference(references):
    """The classic daemon's test for the reference that must not be removed from a used image:
    one tag at most, and every reference in one repository."""
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


def references_of(summary):
    return [text for text in (summary.get('RepoTags') or []) + (summary.get('RepoDigests') or [])
            if text not in NONE_REFERENCES]


def names_state(image_id, texts, containerd):
    """``{Id, RepoTags, RepoDigests}`` as inspect shows them, from the names the store holds.

    On the containerd store a digest is no name of its own: inspect shows the manifest digest (the ID) in
    every repository the image is tagged in (the image list shows only one of them), and nothing untagged.
    """
    tags = sorted(text for text in texts if '@' not in text)
    if containerd:
        digests = sorted(set('%s@%s' % (text.rsplit(':', 1)[0], image_id) for text in tags))
    else:
        digests = sorted(text for text in texts if '@' in text)
    return {'Id': image_id, 'RepoTags': tags, 'RepoDigests': digests}


class Container:
    __slots__ = ('id', 'name', 'image_id', 'running')

    def __init__(self, entry):
        self.id = short(entry['Id'])
        self.name = (entry.get('Names') or ['?'])[0].lstrip('/')
        self.image_id = entry.get('ImageID')
        self.running = entry.get('State') in RUNNING_STATES


class Match:
    """What a name resolved to: the image, and the reference it named (None when it named the ID)."""

    __slots__ = ('image_id', 'reference')

    def __init__(self, image_id, reference=None):
        self.image_id = image_id
        self.reference = reference

    @property
    def by_id(self):
        return self.reference is None


class ImageStore:
    """The image list of one daemon, keyed by ID, with the daemon's name resolution.

    ``summaries`` is ``GET /images/json?all=1``; ``containerd`` says which store the daemon uses;
    ``containers`` is ``GET /containers/json?all=1`` (or a callable giving it, asked once when needed).
    """

    def __init__(self, summaries, containerd, containers=None, every_summary=None):
        self.containerd = containerd
        self._every_summary = every_summary
        self.summaries = dict((summary['Id'], summary) for summary in summaries)
        self.references = dict((image_id, references_of(summary)) for image_id, summary in self.summaries.items())
        self.by_reference = {}
        for image_id, texts in self.references.items():
            for text in texts:
                self.by_reference[Reference(text).key] = image_id
        self._containers = containers

    @classmethod
    def read(cls, client, with_containers=False, names=None):
        """The store of the daemon ``client`` talks to: one image list, one ``docker info``, and the containers.

        Given the ``names`` a task is about, a containerd store is read only as far as they reach: there a
        list of every image costs seconds with a few hundred of them, one filtered by their repositories
        milliseconds. A name that may be an ID or an ID prefix needs every image.
        """
        containerd = uses_containerd_store(client.daemon_info())
        containers = client.list_containers if with_containers else None
        repositories = named_repositories(names) if containerd and names is not None else None
        if not repositories:
            return cls(client.list_images(all_layers=True), containerd, containers)
        ids = [summary['Id'] for summary in client.list_images(filters={'reference': repositories})]
        # A filtered list shows only the names that match; an image's inspect shows all of them.
        summaries = [summary_of(inspect) for inspect in client.inspect_images(ids) if inspect]
        return cls(summaries, containerd, containers, every_summary=lambda: client.list_images(all_layers=True))

    def parents(self):
        """``{image ID: its parent's ID or ''}`` for every image of the store, also those a narrowed read left out."""
        summaries = self.summaries.values() if self._every_summary is None else self._every_summary()
        return dict((summary['Id'], summary.get('ParentId') or '') for summary in summaries)

    @property
    def containers(self):
        if callable(self._containers):
            self._containers = self._containers()
        return [Container(entry) for entry in self._containers or []]

    def state(self, image_id):
        """The image as inspect shows its names, for ``_diff.image_state``; None when absent."""
        if image_id not in self.summaries:
            return None
        return names_state(image_id, self.references[image_id], self.containerd)

    # --- names ------------------------------------------------------------------------------------

    def resolve(self, name, tag=DEFAULT_TAG):
        """The Match for ``name`` as the daemon resolves it, or None when it names no image.

        A full ID, with or without ``sha256:``; ``sha256:`` and an ID prefix; a reference, ``tag`` applied
        when it carries no tag or digest. A bare hex name is first the repository of that name with the
        default tag, as the daemon tries it, then an ID prefix; with another ``tag`` it is a repository.
        A prefix that fits several images is an error.
        """
        if is_image_id(name):
            image_id = name if name.startswith('sha256:') else 'sha256:' + name
            return Match(image_id) if image_id in self.summaries else None
        if name.startswith('sha256:') and is_id_prefix(name[len('sha256:'):]):
            return self._by_prefix(name, name[len('sha256:'):])
        reference = parse_reference(name, default_tag=None)
        if reference.tag is None and reference.digest is None:
            reference = parse_reference('%s:%s' % (name, tag))
        found = self.find(reference)
        if found is not None or tag != DEFAULT_TAG or not is_id_prefix(name):
            return found
        return self._by_prefix(name, name)

    def find(self, reference):
        """The Match for a parsed reference only (never an ID), or None."""
        if reference.digest:
            key = '%s@%s' % (reference.canonical_repository, reference.digest)
            if key in self.by_reference:
                return Match(self.by_reference[key], str(reference))
            if self.containerd and reference.digest in self.summaries and any(
                    Reference(text).name == reference.canonical_repository for text in self.references[reference.digest]):
                # There a digest names the image's manifest, in every repository the image is tagged in.
                return Match(reference.digest, str(reference))
            return None
        key = '%s:%s' % (reference.canonical_repository, reference.tag)
        return Match(self.by_reference[key], str(reference)) if key in self.by_reference else None

    def _by_prefix(self, name, digits):
        if len(digits) < MIN_PREFIX[self.containerd]:
            return None
        found = sorted(image_id for image_id in self.summaries if image_id.split(':', 1)[-1].startswith(digits))
        if len(found) > 1:
            raise DockerError("image ID prefix '%s' is ambiguous: it matches %d images (%s); give more digits"
                              % (name, len(found), ', '.join(map(short, found))))
        return Match(found[0]) if found else None


def summary_of(inspect):
    """What the store reads of an image list entry, from the image's inspect data."""
    return {'Id': inspect['Id'], 'RepoTags': inspect.get('RepoTags'), 'RepoDigests': inspect.get('RepoDigests'),
            'ParentId': inspect.get('Parent') or ''}


def named_repositories(names):
    """The repositories ``names`` are in, in the form the image list's reference filter takes; None when a
    name may be an ID or is no reference, so that only a list of every image tells what it names."""
    repositories = set()
    for name in names:
        if may_name_an_id(name):
            return None
        try:
            repositories.add(parse_reference(name, default_tag=None).repository)
        except DockerError:
            return None
    return sorted(repositories)


def may_name_an_id(name):
    """True when ``name`` could be an image ID or a prefix of one, so the store must be asked which it is."""
    return is_image_id(name) or is_id_prefix(name[len('sha256:'):] if name.startswith('sha256:') else name)


class ImageIdName:
    """An image named by its ID where a reference is expected: it has no repository of its own, and
    a target named after it without a tag gets ``latest``, as with ``docker tag``."""

    registry = None
    digest = None
    tag = DEFAULT_TAG

    def __init__(self, image_id):
        self.image_id = image_id

    def __str__(self):
        return self.image_id

    def __eq__(self, other):
        return isinstance(other, ImageIdName) and other.image_id == self.image_id

    def __hash__(self):
        return hash(self.image_id)


def id_name(client, name, tag=DEFAULT_TAG):
    """An ImageIdName when ``name`` names an image by its ID (full or a prefix) on that daemon, else None."""
    if tag != DEFAULT_TAG or not may_name_an_id(name):
        return None
    match = ImageStore.read(client).resolve(name)
    return ImageIdName(match.image_id) if match is not None and match.by_id else None


def shown_name(name, tag, match):
    """How messages call what ``name`` resolved to: the reference it named, else the name as given."""
    if match is not None:
        return match.reference or name
    if is_image_id(name) or name.startswith('sha256:') or (is_id_prefix(name) and tag == DEFAULT_TAG):
        return name
    reference = parse_reference(name, default_tag=None)
    return str(reference if reference.tag or reference.digest else parse_reference('%s:%s' % (name, tag)))


class Conflict(DockerError):
    def __init__(self, message, used=False):
        super().__init__(message)
        self.used = used


class RemovalRules:
    """``docker rmi`` replayed on a copy of the store, with the daemon's rules and records.

    Lets check mode report the daemon's exact Untagged/Deleted lists, and lets both modes refuse a
    removal the daemon would refuse, naming the containers and tags in the way. ``chains`` maps image
    IDs to their layers' chain IDs (classic store only, where rmi reports freed layers); without it
    the records hold no layers.
    """

    def __init__(self, store, chains=None):
        self.store = store
        self.refs = dict((image_id, set(texts)) for image_id, texts in store.references.items())
        self._parent = None
        self.containers = store.containers
        self.chains = chains or {}
        self.held = set(layer for container in self.containers for layer in self.chains.get(container.image_id, []))

    @property
    def parent(self):
        # Asked only when a rule needs it: a narrowed store lists every image for it.
        if self._parent is None:
            self._parent = self.store.parents()
        return self._parent

    def state(self, image_id):
        return names_state(image_id, self.refs[image_id], self.store.containerd) if image_id in self.refs else None

    def holds(self, match):
        """True while the replayed store still has what ``match`` names (an earlier name may have removed it)."""
        if match.image_id not in self.refs:
            return False
        if match.by_id:
            return True
        key = Reference(match.reference).key
        return any(Reference(text).key == key for text in self.refs[match.image_id]) or (
            self.store.containerd and not Reference(match.reference).tagged)

    def sorted_refs(self, image_id, tags_only=False):
        refs = (Reference(text) for text in self.refs[image_id])
        return [ref.text for ref in sorted(refs, key=lambda ref: ref.key) if ref.tagged or not tags_only]

    def users(self, image_id, running=None):
        return sorted((container for container in self.containers if container.image_id == image_id
                       and (running is None or container.running == running)),
                      key=lambda container: (container.name, container.id))

    def children(self, image_id):
        # A child outside a narrowed store is one no rule here removes.
        return sorted(child for child, parent in self.parent.items()
                      if parent == image_id and (child in self.refs or child not in self.store.summaries))

    @staticmethod
    def _named(containers):
        return ', '.join('%s (%s)' % (container.id, container.name) for container in containers)

    def conflict(self, image_id, hard_only=False, references=True):
        """The first reason the daemon would refuse to delete the image, or None."""
        cannot = 'conflict: unable to delete %s (cannot be forced) - ' % short(image_id)
        must = 'conflict: unable to delete %s (must be forced) - ' % short(image_id)
        hint = '; use force: true to remove it anyway'
        children = [] if self.store.containerd else self.children(image_id)
        if children:
            return Conflict(cannot + 'image has dependent child images (%s)' % ', '.join(map(short, children)))
        running = self.users(image_id, running=True)
        if running:
            return Conflict(cannot + 'image is being used by running container%s %s'
                            % ('s' if len(running) > 1 else '', self._named(running)), used=True)
        if hard_only:
            return None
        if references and self.refs[image_id]:
            return Conflict(must + 'image is referenced in multiple repositories (%s)'
                            % ', '.join(self.sorted_refs(image_id, tags_only=self.store.containerd)) + hint)
        stopped = self.users(image_id, running=False)
        if stopped:
            return Conflict(must + 'image is being used by stopped container%s %s'
                            % ('s' if len(stopped) > 1 else '', self._named(stopped)) + hint, used=True)
        return None

    def untag(self, image_id, ref, records):
        self.refs[image_id].discard(ref)
        records.append(('Untagged', ref))

    def remove(self, given, match, force, prune):
        """The records ``DELETE /images/GIVEN`` would return; raises Conflict as the daemon would refuse."""
        if self.store.containerd:
            return self._remove_containerd(given, match, force)
        records = []
        image_id = match.image_id
        quiet = False
        if not match.by_id:
            ref = match.reference
            users = self.users(image_id)
            if not force and single_reference([Reference(text) for text in self.refs[image_id]]) and users:
                raise Conflict('conflict: unable to remove repository reference "%s" (must force) - container%s %s '
                               '%s using its referenced image %s; use force: true to remove it anyway'
                               % (given, 's' if len(users) > 1 else '', self._named(users),
                                  'are' if len(users) > 1 else 'is', short(image_id)))
            self.untag(image_id, ref, records)
            reference = Reference(ref)
            if reference.tagged and not any(Reference(other).tagged and Reference(other).name == reference.name
                                            for other in self.refs[image_id]):
                for other in self.sorted_refs(image_id):
                    if Reference(other).name == reference.name:
                        self.untag(image_id, other, records)
            if self.refs[image_id]:
                return records
            quiet = True
        elif single_reference([Reference(text) for text in self.refs[image_id]]):
            conflict = self.conflict(image_id, hard_only=force, references=False)
            if conflict:
                raise conflict
            for ref in self.sorted_refs(image_id):
                self.untag(image_id, ref, records)
        self._delete(image_id, records, force, prune, quiet)
        return records

    def _delete(self, image_id, records, force, prune, quiet):
        conflict = self.conflict(image_id, hard_only=force)
        if conflict:
            dangling = not self.refs[image_id] and not self.children(image_id)
            if quiet and (not dangling or conflict.used):
                return
            raise conflict
        parent = self.parent.get(image_id)
        for ref in self.sorted_refs(image_id):
            self.untag(image_id, ref, records)
        del self.refs[image_id]
        records.append(('Deleted', image_id))
        others = set(layer for other in self.refs for layer in self.chains.get(other, []))
        for layer in reversed(self.chains.get(image_id, [])):
            if layer in others or layer in self.held:
                break
            records.append(('Deleted', layer))
        if prune and parent in self.refs:
            self._delete(parent, records, False, True, True)

    def _remove_containerd(self, given, match, force):
        """rmi on the containerd store: a tag goes alone; the image goes with its last tag, or by ID."""
        records = []
        image_id = match.image_id
        tags = self.sorted_refs(image_id, tags_only=True)
        if not match.by_id:
            users = self.users(image_id)
            if match.reference in tags and tags == [match.reference] and users and not force:
                raise Conflict('conflict: unable to delete %s (must be forced) - container%s %s %s using its '
                               'referenced image %s; use force: true to remove it anyway'
                               % (given, 's' if len(users) > 1 else '', self._named(users),
                                  'are' if len(users) > 1 else 'is', short(image_id)))
            reference = Reference(match.reference)
            names = [match.reference] if reference.tagged else [tag for tag in tags if Reference(tag).name == reference.name]
            for name in names:
                self.untag(image_id, name, records)
            if self.sorted_refs(image_id, tags_only=True) or users:
                # Forced off the image a container uses, the last tag goes and the image stays.
                return records
        else:
            conflict = self.conflict(image_id, hard_only=force, references=len(tags) > 1)
            if conflict:
                raise conflict
            for tag in tags:
                self.untag(image_id, tag, records)
        records.append(('Deleted', image_id))
        if not match.by_id and self.children(image_id):
            # Reported deleted with its last tag, the image stays, untagged, while its children need it;
            # asked for by ID, it goes.
            self.refs[image_id] = set()
        else:
            del self.refs[image_id]
        return records


def repo_digests(inspect, repository):
    """The digests an image carries for ``repository``, from its inspect data's RepoDigests."""
    prefix = repository + '@'
    return sorted(entry[len(prefix):] for entry in (inspect or {}).get('RepoDigests') or [] if entry.startswith(prefix))


def carried_digests(inspect):
    """Every manifest digest that names this image: those of its RepoDigests in any repository, and its ID.

    A digest names one content, so a registry whose tag holds one of them holds this image. The ID only
    counts on the containerd store, where it is the manifest or index digest; on the classic store it is
    the config's digest, which no manifest has.
    """
    digests = {entry.partition('@')[2] for entry in inspect.get('RepoDigests') or []}
    return digests | {inspect['Id']}
