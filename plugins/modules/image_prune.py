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
    details:
      - Predicts the images, untagged references, layers and bytes from the image and container lists
        without removing anything.
      - A relative C(until) filter is computed from the daemon's clock when the module runs, so images
        created right at that boundary may fall on the other side in a later real run.
      - Layers that a container still holds although its image was force-removed are not visible through
        the API; the prediction counts them as freed.
      - The prediction follows the rules of the daemon's image store, classic (storage drivers such as overlay2)
        or containerd (C(driver-type io.containerd.snapshotter.v1) in C(docker info)). With the containerd store
        the space of an image that shares layers with others is counted blob by blob, which reads that image
        through C(docker save).
  diff_mode:
    details: Shows the ID, tags and digests of each image the prune deletes or untags, before and after.
options:
  all:
    description:
      - Also remove tagged images that no container (running or stopped) uses, not only dangling ones
        (C(docker image prune -a)). The containerd image store also untags an image a container uses, keeping
        only its last tag in name order.
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
      - C(label!) spares images that carry every label listed under it, each C(key) or C(key=value). The containerd
        image store reads each on its own instead, and prunes only images without the C(key), or with the C(key)
        and another value; an image without the key is spared by C(key=value) there.
      - The filters apply to the images the prune picks; an untagged parent left without children is
        removed with its child whatever its labels, as the daemon does.
      - With O(keep_last), also C(reference), a repository pattern as C(docker images --filter reference=...)
        takes it (C(registry.example.com/shop/*)); the daemon matches it.
    type: dict
  keep_last:
    description:
      - Keep, in each repository, the tags of the O(keep_last) newest images by creation time, and remove that
        repository's tags of the older ones, each as C(docker rmi REPOSITORY:TAG) would; an image goes with its
        last tag (and on the classic store with the layers no other image holds).
      - An image a container uses (running or stopped) is never touched; it still counts among the newest.
      - Only tagged images that pass O(filters) take part, in the ranking and in the removal; images in other
        repositories, or that the filters leave out, are neither counted nor touched.
      - With O(keep_last) the task does only this; dangling images stay (prune them in a task of its own).
        O(all) does not combine with it.
      - Check mode predicts the same removals, replaying the daemon's rmi rules.
    type: int
    version_added: 0.1.0
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

- name: Keep the three newest builds of each shop repository; older tags go (and their images with the last one)
  dockyard.docker.image_prune:
    keep_last: 3
    filters:
      reference: registry.example.com/shop/*

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
    - Always empty with the containerd image store, whose report lists no layers.
  returned: always
  type: list
  elements: str
  sample: ["sha256:a3e731d15b15c0a1a1c344b4dcc48bdb2339312ccc1f525c10b664da37f4bb32"]
untagged:
  description:
    - References (tags and digests) removed, sorted; in check mode those a real run would remove.
    - With the containerd image store an untagged image is listed here too, by its ID, as the daemon reports it.
  returned: always
  type: list
  elements: str
  sample: ["registry.example.com/shop/api:1.2", "registry.example.com/shop/api@sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5"]
space_reclaimed:
  description:
    - Bytes freed, as the daemon reports them (the sizes of the layers removed; a layer another image
      still uses frees nothing). In check mode the bytes a real run would free.
    - V(null) with O(keep_last), since C(docker rmi) does not report the bytes it frees.
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

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import ABSENT, Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._prune import (
    daemon_clock, normalize_filters, predict, retain, until_nanoseconds)
from ansible_collections.dockyard.docker.plugins.module_utils._store import ImageStore, names_state


class ImagePruner:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.keep = self.params['keep_last']
        if self.keep is not None and self.keep < 1:
            raise DockerError('keep_last must be at least 1, got %d' % self.keep)
        if self.keep is not None and self.params['all']:
            raise DockerError('keep_last and all do not combine: keep_last removes the tags of older images per '
                              'repository; run the prune with all in a task of its own')

    def _until(self, filters):
        if 'until' not in filters:
            return None
        now_ns, local_offset = daemon_clock(self.client.daemon_info())
        return until_nanoseconds(filters['until'][0], now_ns, local_offset)

    def _prune(self, filters):
        api_filters = dict(filters, dangling=['false' if self.params['all'] else 'true'])
        report = self.client.prune_images(filters=api_filters) or {}
        entries = report.get('ImagesDeleted') or []
        return ([entry['Deleted'] for entry in entries if entry.get('Deleted')],
                [entry['Untagged'] for entry in entries if entry.get('Untagged')],
                report.get('SpaceReclaimed') or 0)

    def run(self):
        filters = normalize_filters(self.params['filters'], retention=self.keep is not None)
        until_ns = self._until(filters)
        store = ImageStore.read(self.client, with_containers=True)
        if self.keep is not None:
            records = retain(self.client, store, self.keep, filters, until_ns)
            deleted, untagged = [value for key, value in records if key == 'Deleted'], [
                value for key, value in records if key == 'Untagged']
            space = None
        elif self.client.check_mode:
            plan = predict(self.client, store, not self.params['all'], filters, until_ns)
            deleted, untagged, space = plan.deleted_images + plan.deleted_layers, plan.untagged, plan.space_reclaimed
        else:
            deleted, untagged, space = self._prune(filters)
        before = store.references
        images = sorted(set(item for item in deleted if item in before))
        owners = dict((text, image_id) for image_id, texts in before.items() for text in texts)
        outcome = Outcome()
        after = None if self.client.check_mode else ImageStore.read(self.client)
        for image_id in sorted(set(images) | set(owners[text] for text in untagged if text in owners)):
            if after is not None:
                state = after.state(image_id)
            elif image_id in images:
                state = None
            else:
                state = names_state(image_id, [text for text in before[image_id] if text not in untagged],
                                    store.containerd)
            outcome.record(image_id, image_state(store.state(image_id)), image_state(state) if state else dict(ABSENT))
        verb = ('Would untag', 'Would delete image') if self.client.check_mode else ('Untagged', 'Deleted image')
        for text in sorted(set(untagged) - set(images)):
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
            keep_last=dict(type='int'),
        ),
    )
    client.finish(ImagePruner)


if __name__ == '__main__':
    main()
