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
  - Removing the last tag of an image, or removing an image by ID, deletes the image. With the classic image store
    and O(prune), its parent images that are left without tags, children and containers go too (built and committed
    images have such parents; pulled, loaded and imported ones do not); the containerd image store keeps parents.
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
    details:
      - Replays the daemon's removal rules, those of its image store (classic or containerd), on the image and
        container lists and reports the same RV(untagged) and RV(deleted) lists a real run returns, layers
        included, without removing anything.
  diff_mode:
    details: Shows, per name, the ID, tags and digests of the image before and after.
options:
  name:
    description:
      - The images to remove, each C([registry/]repository[:tag]), C(repository@digest), or an image ID, full, with
        C(sha256:), or abbreviated to a unique prefix as short as the daemon takes it (any length with the classic
        image store, four hex digits with the containerd image store), like C(docker rmi 4e0a1a06).
      - A hex name, with the default O(tag), means what it means to C(docker rmi), the repository of that name when
        it has a V(latest) tag, else an ID prefix. A prefix that fits several images is an error.
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
      - An image a running container uses is untagged but not deleted, and with the classic image store an image with
        child images is never deleted, even with this option, as the daemon does.
    type: bool
    default: false
  prune:
    description:
      - Also delete the parent images left without tags, children and containers, like C(docker rmi) without
        C(--no-prune). The containerd image store never deletes parents.
    type: bool
    default: true
notes:
  - Only images the task names are removed; the parents deleted by O(prune) are the one exception.
  - A name that another client removes between the module's look at the image store and its own removal counts as
    absent, not as a failure, and is not reported as removed by this task.
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
      order the daemon reports them (its C(Deleted) entries). The containerd image store reports no layers.
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
  description:
    - One C(Removed image NAME) for each name removed, in check mode each one that would be, as
      community.docker.docker_image_remove words it; whether the name was only untagged or its image deleted
      shows in RV(untagged) and RV(deleted).
  returned: always
  type: list
  elements: str
  sample: ["Removed image app:1.2", "Removed image app:1.1"]
diff:
  description:
    - The state of each image before and after, keyed by name, each C({exists, id, tags, digests}).
    - When O(name) holds one name, that image's C(exists), C(id), C(tags) and C(digests) also stand at the top of
      C(before) and C(after), as community.docker.docker_image_remove returns them.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                      "tags": ["app:1.2", "app:stable"], "digests": [],
                      "app:1.2": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                                  "tags": ["app:1.2", "app:stable"], "digests": []}},
           "after": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                     "tags": ["app:stable"], "digests": [],
                     "app:1.2": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                                 "tags": ["app:stable"], "digests": []}}}
'''

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_each
from ansible_collections.dockyard.docker.plugins.module_utils._store import Conflict, ImageStore, RemovalRules, chain_ids


class ImageRemover:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        if not self.params['name']:
            raise DockerError('name must hold at least one image')
        self.store = ImageStore.read(client, with_containers=True, names=self.params['name'])

    def plan(self):
        """(name shown, what the daemon is asked for, state before, predicted records, predicted state after)."""
        given = self.params['name']
        matches = parse_each('name', given, lambda name: self.store.resolve(name, self.params['tag']))
        rules = RemovalRules(self.store, self._chains() if self.client.check_mode else None)
        steps, seen = [], set()
        for name, match in zip(given, matches):
            shown = match.reference if match and not match.by_id else name
            if shown in seen:
                continue
            seen.add(shown)
            if not match or not rules.holds(match):
                steps.append((shown, None, None, [], None))
                continue
            before = rules.state(match.image_id)
            try:
                records = rules.remove(shown, match, self.params['force'], self.params['prune'])
            except Conflict as exc:
                raise DockerError('failed to remove image %s: %s' % (shown, exc))
            asked = match.image_id if match.by_id else match.reference
            steps.append((shown, asked, before, records, rules.state(match.image_id)))
        return steps

    def _chains(self):
        """Layer chain IDs per image, for the layers the classic store reports deleted (containerd reports none)."""
        if self.store.containerd:
            return None
        chains = {}
        for image_id in set(self.store.summaries) | set(container.image_id for container in self.store.containers):
            inspect = self.client.inspect_image(image_id)
            chains[image_id] = chain_ids((inspect or {}).get('RootFS', {}).get('Layers') or [])
        return chains

    def apply(self, asked, image_id, predicted, after):
        """Remove for real; (the daemon's records, the image's state after), or None when it was gone already.

        Records as the plan replayed them confirm its ``after``; others have the image inspected again.
        """
        try:
            answer = self.client.remove_image(asked, force=self.params['force'], prune=self.params['prune'])
        except DockerError as exc:
            if exc.status == 404:  # another client removed it since the plan was made: what was asked holds
                return None
            raise
        records = [(key, entry[key]) for entry in answer for key in ('Untagged', 'Deleted') if entry.get(key)]
        return records, after if records == predicted else self.client.inspect_image(image_id)

    def run(self):
        """(result, error): a failure after some names were removed still reports what was done."""
        steps = self.plan()
        first = steps[0][2]
        image = (self.client.inspect_image(first['Id']) if first else None) or {}
        outcome = Outcome(single=len(self.params['name']) == 1)
        records = []
        error = None
        for name, asked, before, predicted, after in steps:
            if not self.client.check_mode and before:
                try:
                    applied = self.apply(asked, before['Id'], predicted, after)
                except DockerError as exc:
                    error = str(exc)
                    break
                predicted, after = applied or ([], None)
                before = before if applied else None
            records.extend(predicted)
            outcome.record(name, image_state(before), image_state(after))
            if before:
                outcome.note('Removed image %s' % name)
        result = outcome.result(self.client.diff_mode,
                                untagged=[value for key, value in records if key == 'Untagged'],
                                deleted=[value for key, value in records if key == 'Deleted'])
        if len(self.params['name']) == 1:
            result['image'] = image
        if error:
            raise DockerError(error, result=result)
        return result


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            tag=dict(type='str', default='latest'),
            force=dict(type='bool', default=False),
            prune=dict(type='bool', default=True),
        ),
    )
    client.finish(ImageRemover)


if __name__ == '__main__':
    main()
