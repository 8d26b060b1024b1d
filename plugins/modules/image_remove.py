#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_remove
short_description: Remove images or their tags, like C(docker rmi)
version_added: 0.1.0
description:
  - Removes each image O(name) names, like C(docker rmi NAME), with the daemon's own rules.
  - Removing one tag of an image that has other tags only untags it; the image stays.
  - Removing the last tag of an image, or removing an image by ID, deletes the image and, with O(prune),
    its parent images that are left without tags, children and containers (built and committed images have
    such parents; pulled, loaded and imported ones do not).
  - An image used by a container, running or stopped, or an image ID that several repositories name, is refused
    with a message that names the reason, the containers (ID and name) or the tags, unless O(force=true).
  - An image that is already absent is C(ok).
  - Every name is checked before anything is removed, so a refused name fails the task without removing the others.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    description: In check mode the module changes nothing and predicts whether a real run would change something.
    support: full
    details:
      - Replays the daemon's removal rules on the image and container lists and reports the same RV(untagged)
        and RV(deleted) lists a real run returns, layers included, without removing anything.
  diff_mode:
    description: With C(--diff) the module returns the state before and after the task.
    support: full
    details: Shows, per name, the ID, tags and digests of the image before and after.
  idempotent:
    description: A second run with the same options and an unchanged engine reports no change.
    support: full
options:
  name:
    description:
      - The images to remove, each C([registry/]repository[:tag]), C(repository@digest), or an image ID, full or
        abbreviated to at least 12 hex digits.
      - A name of 12 to 63 hex digits, with the default O(tag), means what it means to C(docker rmi), the repository
        of that name when it has a V(latest) tag, else an abbreviated image ID.
      - Names are removed in the order given.
    type: list
    elements: str
    required: true
  tag:
    description:
      - The tag of the names in O(name) that carry no tag, digest or image ID.
      - A tag in a name takes precedence over this option.
    type: str
    default: latest
  force:
    description:
      - Remove a tag or an image although a container uses it, and delete an image by ID although several
        repositories name it (all its tags are removed then), like C(docker rmi --force).
      - An image a running container uses is untagged but not deleted, and an image with child images is
        never deleted, even with this option, as the daemon does.
    type: bool
    default: false
  prune:
    description:
      - Also delete the parent images left without tags, children and containers, like C(docker rmi) without
        C(--no-prune).
    type: bool
    default: true
notes:
  - Only images the task names are removed; the parents deleted by O(prune) are the one exception.
seealso:
  - module: dockyard.docker.image_tag
  - module: dockyard.docker.image_pull
  - module: dockyard.docker.image_info
'''

EXAMPLES = r'''
- name: Remove one tag of an image (docker rmi app:1.2)
  dockyard.docker.image_remove:
    name: app
    tag: "1.2"

- name: Remove several images, some of them by ID
  dockyard.docker.image_remove:
    name:
      - registry.example.com/team/api:2.1
      - 4bcff63911fc

- name: Remove an image although a stopped container still uses it (docker rmi --force)
  dockyard.docker.image_remove:
    name: sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1
    force: true

- name: Predict what would go, without removing anything
  dockyard.docker.image_remove:
    name: app:1.2
  check_mode: true
  register: would_remove
'''

RETURN = r'''
untagged:
  description:
    - The names removed from images, in the order the daemon removed them, as it reports them
      (its C(Untagged) entries).
    - In check mode the names a real run would remove.
  returned: success
  type: list
  elements: str
  sample: ["app:1.2", "app@sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5"]
deleted:
  description:
    - The IDs of the images deleted, each followed by the IDs (chain IDs) of the layers deleted with it, in the
      order the daemon reports them (its C(Deleted) entries).
    - In check mode the IDs a real run would delete.
  returned: success
  type: list
  elements: str
  sample: ["sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
           "sha256:9899e077ccf1cf91a6814839b4c493aa75fc8cede2bd092a1d181b9d79670e1a"]
image:
  description:
    - The inspect data of the image before removal, as C(docker image inspect) shows it; empty when it was absent.
  returned: when O(name) holds one name
  type: dict
  sample: {"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["app:1.2"]}
actions:
  description: What was done, or in check mode what would be done.
  returned: always
  type: list
  elements: str
  sample: ["Untagged image app:1.2", "Removed image app:1.1"]
'''

import hashlib

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import (
    DEFAULT_TAG, is_image_id, may_be_short_id, parse_reference)

RUNNING_STATES = ('running', 'paused', 'restarting')


def daemon_name(name, tag):
    """``name`` as the daemon is asked for it: an ID as given, a reference with its tag."""
    if is_image_id(name) or (may_be_short_id(name) and tag == DEFAULT_TAG):
        return name
    reference = parse_reference(name, default_tag=None)
    if reference.tag is None and reference.digest is None:
        reference = parse_reference('%s:%s' % (name, tag))
    return str(reference)


def short(image_id):
    return image_id.split(':')[-1][:12]


def chain_ids(diff_ids):
    """The layer store's IDs of an image's layers, bottom first."""
    chain = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     'sha256:' + hashlib.sha256(('%s %s' % (chain[-1], diff_id)).encode()).hexdigest())
    return chain


def _canonical(ref):
    reference = parse_reference(ref, default_tag=None)
    return reference.canonical_repository, ('@' + reference.digest) if reference.digest else (':' + reference.tag)


class Conflict(DockerError):
    def __init__(self, message, used=False):
        super().__init__(message)
        self.used = used


class RemovalRules:
    """``docker rmi`` replayed on a copy of the image store, with the daemon's rules and records.

    Lets check mode report the daemon's exact Untagged/Deleted lists, and lets both modes refuse a
    removal the daemon would refuse, naming the containers and tags in the way.
    """

    def __init__(self, client, with_layers):
        self.refs, self.parent, self.chains = {}, {}, {}
        for image in client.list_images(all_layers=True):
            named = (image.get('RepoTags') or []) + (image.get('RepoDigests') or [])
            self.refs[image['Id']] = set(ref for ref in named if '<none>' not in ref)
            self.parent[image['Id']] = image.get('ParentId') or ''
        self.containers = [(short(entry['Id']), (entry.get('Names') or ['?'])[0].lstrip('/'), entry.get('ImageID'),
                            entry.get('State') in RUNNING_STATES) for entry in client.list_containers()]
        self.held = set()
        if with_layers:
            for image_id in set(self.refs) | set(entry[2] for entry in self.containers):
                inspect = client.inspect_image(image_id)
                self.chains[image_id] = chain_ids(inspect['RootFS'].get('Layers') or []) if inspect else []
            self.held = set(layer for entry in self.containers for layer in self.chains.get(entry[2], []))

    def state(self, image_id):
        """The image as inspect data would show it, for image_state()."""
        if image_id not in self.refs:
            return None
        refs = self.refs[image_id]
        return {'Id': image_id, 'RepoTags': sorted(ref for ref in refs if '@' not in ref),
                'RepoDigests': sorted(ref for ref in refs if '@' in ref)}

    def present(self, given, image_id):
        if image_id not in self.refs:
            return False
        return self.by_id(given, image_id) or str(parse_reference(given)) in self.refs[image_id]

    @staticmethod
    def by_id(given, image_id):
        return image_id.startswith(given) or image_id.split(':', 1)[-1].startswith(given)

    def sorted_refs(self, image_id):
        return sorted(self.refs[image_id], key=lambda ref: ''.join(_canonical(ref)))

    def single_reference(self, image_id):
        """The daemon's test: one tag, plus at most digests of that same repository."""
        refs = self.sorted_refs(image_id)
        if len(refs) <= 1:
            return len(refs) == 1
        tags = [ref for ref in refs if '@' not in ref]
        digest_repositories = set(_canonical(ref)[0] for ref in refs if '@' in ref)
        if len(tags) > 1:
            return False
        single = tags[0] if tags else refs[0]
        return digest_repositories == set([_canonical(single)[0]])

    def users(self, image_id, running=None):
        return sorted((entry for entry in self.containers if entry[2] == image_id
                       and (running is None or entry[3] == running)), key=lambda entry: (entry[1], entry[0]))

    def children(self, image_id):
        return sorted(child for child, parent in self.parent.items() if parent == image_id and child in self.refs)

    @staticmethod
    def _named(containers):
        return ', '.join('%s (%s)' % (container_id, name) for container_id, name, _image, _running in containers)

    def conflict(self, image_id, hard_only=False, references=True):
        """The first reason the daemon would refuse to delete the image, or None."""
        cannot = 'conflict: unable to delete %s (cannot be forced) - ' % short(image_id)
        must = 'conflict: unable to delete %s (must be forced) - ' % short(image_id)
        hint = '; use force: true to remove it anyway'
        children = self.children(image_id)
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
                            % ', '.join(self.sorted_refs(image_id)) + hint)
        stopped = self.users(image_id, running=False)
        if stopped:
            return Conflict(must + 'image is being used by stopped container%s %s'
                            % ('s' if len(stopped) > 1 else '', self._named(stopped)) + hint, used=True)
        return None

    def untag(self, image_id, ref, records):
        self.refs[image_id].discard(ref)
        records.append(('Untagged', ref))

    def remove(self, given, image_id, force, prune):
        """The records ``DELETE /images/GIVEN`` would return; raises Conflict as the daemon would refuse."""
        records = []
        quiet = False
        if not self.by_id(given, image_id):
            ref = str(parse_reference(given))
            users = self.users(image_id)
            if not force and self.single_reference(image_id) and users:
                raise Conflict('conflict: unable to remove repository reference "%s" (must force) - container%s %s '
                               '%s using its referenced image %s; use force: true to remove it anyway'
                               % (given, 's' if len(users) > 1 else '', self._named(users),
                                  'are' if len(users) > 1 else 'is', short(image_id)))
            self.untag(image_id, ref, records)
            repository = _canonical(ref)[0]
            if '@' not in ref and not any('@' not in other and _canonical(other)[0] == repository
                                          for other in self.refs[image_id]):
                for other in self.sorted_refs(image_id):
                    if _canonical(other)[0] == repository:
                        self.untag(image_id, other, records)
            if self.refs[image_id]:
                return records
            quiet = True
        elif self.single_reference(image_id):
            conflict = self.conflict(image_id, hard_only=force, references=False)
            if conflict:
                raise conflict
            for ref in self.sorted_refs(image_id):
                self.untag(image_id, ref, records)
        self.delete(image_id, records, force, prune, quiet)
        return records

    def delete(self, image_id, records, force, prune, quiet):
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
            self.delete(parent, records, False, True, True)


class ImageRemover:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def names(self):
        given = self.params['name']
        if not given:
            raise DockerError('name must hold at least one image')
        names = []
        for index, name in enumerate(given):
            try:
                resolved = daemon_name(name, self.params['tag'])
            except DockerError as exc:
                raise DockerError('name[%d]: %s' % (index, exc) if len(given) > 1 else str(exc))
            if resolved not in names:
                names.append(resolved)
        return names

    def plan(self, names):
        """(name, inspect before, predicted records, predicted state after) per name, in order."""
        images = [self.client.inspect_image(name) for name in names]
        rules = RemovalRules(self.client, with_layers=self.client.check_mode)
        steps = []
        for name, image in zip(names, images):
            if not image or not rules.present(name, image['Id']):
                steps.append((name, None, [], None))
                continue
            before = rules.state(image['Id'])
            try:
                records = rules.remove(name, image['Id'], self.params['force'], self.params['prune'])
            except Conflict as exc:
                raise DockerError('failed to remove image %s: %s' % (name, exc))
            steps.append((name, before, records, rules.state(image['Id'])))
        return images, steps

    def apply(self, name):
        """Remove ``name`` for real; (inspect before, the daemon's records, inspect after)."""
        before = self.client.inspect_image(name)
        if not before:
            return None, [], None
        answer = self.client.remove_image(name, force=self.params['force'], prune=self.params['prune'])
        records = [(key, entry[key]) for entry in answer for key in ('Untagged', 'Deleted') if entry.get(key)]
        return before, records, self.client.inspect_image(before['Id'])

    def run(self):
        """(result, error): a failure after some names were removed still reports what was done."""
        names = self.names()
        images, steps = self.plan(names)
        outcome = Outcome()
        records = []
        error = None
        for name, before, predicted, after in steps:
            if not self.client.check_mode and before:
                try:
                    before, predicted, after = self.apply(name)
                except DockerError as exc:
                    error = str(exc)
                    break
            records.extend(predicted)
            outcome.record(name, image_state(before), image_state(after))
            if before:
                deleted = ('Deleted', before['Id']) in predicted
                if self.client.check_mode:
                    outcome.note('%s image %s' % ('Would remove' if deleted else 'Would untag', name))
                else:
                    outcome.note('%s image %s' % ('Removed' if deleted else 'Untagged', name))
        result = outcome.result(self.client.diff_mode,
                                untagged=[value for key, value in records if key == 'Untagged'],
                                deleted=[value for key, value in records if key == 'Deleted'])
        if len(names) == 1:
            result['image'] = images[0] or {}
        return result, error


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            tag=dict(type='str', default='latest'),
            force=dict(type='bool', default=False),
            prune=dict(type='bool', default=True),
        ),
    )
    try:
        result, error = ImageRemover(client).run()
    except DockerError as exc:
        client.fail(str(exc))
    if error:
        client.fail(error, **result)
    client.exit(**result)


if __name__ == '__main__':
    main()
