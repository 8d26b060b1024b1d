#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_tag
short_description: Give an image more names, like C(docker tag)
version_added: 0.1.0
description:
  - Tags the image O(name) names as each of O(repository), like C(docker tag SOURCE TARGET) once per target.
  - Reports C(changed) only when a target tag was created or moved to the image; a target that already
    names the image is left as it is, so a second identical run is C(ok).
  - A source image that does not exist is an error; nothing is tagged then.
  - Every target is checked before anything is tagged, so a bad target fails the task without tagging the others.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    details: Looks up the source and every target and reports what would be tagged, without tagging.
  diff_mode:
    details: Shows, per target, the image (ID, tags, digests) it named before and after.
options:
  name:
    description:
      - The image to tag, the source of C(docker tag).
      - A name C([registry/]repository[:tag]), a name pinned by digest (C(repository@sha256:...)), or an image ID,
        full, with C(sha256:), or abbreviated to a unique prefix (any length with
        the classic image store, four hex digits with the containerd image store, as the daemon does).
      - A tag in O(name) takes precedence over O(tag).
      - A hex name with the default O(tag) means what it means to the docker CLI, the repository of that name when
        it has a V(latest) tag, else an ID prefix. A prefix that fits several images is an error.
    type: str
    required: true
  tag:
    description:
      - The tag of O(name) when O(name) carries no tag, digest or image ID.
    type: str
    default: latest
  repository:
    description:
      - The new names, each C([registry/]repository[:tag]).
      - A target without a tag gets V(latest), as with C(docker tag), so O(name=app:1.2) and
        O(repository=[registry.example.com/app]) tag C(registry.example.com/app:latest).
      - A target must not be an image ID and must not carry a digest.
    type: list
    elements: str
    required: true
  existing_images:
    description:
      - What to do with a target that already names another image than the source.
      - V(overwrite) moves the tag to the source image, like C(docker tag) does.
      - V(keep) leaves the target where it is and reports C(ok) for it.
    type: str
    choices: [keep, overwrite]
    default: overwrite
seealso:
  - module: dockyard.docker.image_push
  - module: dockyard.docker.image_remove
  - module: dockyard.docker.image_info
'''

EXAMPLES = r'''
- name: Give an image two more names (docker tag app:1.2 ...)
  dockyard.docker.image_tag:
    name: app:1.2
    repository:
      - app:stable
      - registry.example.com/team/app:1.2

- name: Tag an image ID for a private registry
  dockyard.docker.image_tag:
    name: sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1
    repository:
      - registry.example.com/team/app:nightly

- name: Name a fallback image, without moving the tag if it exists already
  dockyard.docker.image_tag:
    name: busybox
    tag: "1.36"
    repository:
      - toolbox:current
    existing_images: keep
'''

RETURN = r'''
image:
  description:
    - The inspect data of the source image, as C(docker image inspect) shows it.
    - After tagging, so C(RepoTags) holds the new names; in check mode as the image is now.
  returned: success
  type: dict
  sample: {"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["app:1.2", "app:stable"]}
tagged_images:
  description:
    - The targets that were tagged, or in check mode would be tagged, as C(repository:tag).
    - Targets that already named the source, and targets kept by O(existing_images=keep), are not listed.
  returned: success
  type: list
  elements: str
  sample: ["app:stable", "registry.example.com/team/app:1.2"]
actions:
  description:
    - For each target, in the order of O(repository), C(Tagged image ID as TARGET) when it is tagged (in check mode,
      would be), else C(Not tagged image ID as TARGET), each followed by the reason, as
      community.docker.docker_image_tag words them (the reasons in our own words).
  returned: always
  type: list
  elements: str
  sample: ["Tagged image sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1 as app:stable: app:stable named no image"]
diff:
  description:
    - The state of each target before and after, keyed by target, each C({exists, id, tags, digests}).
    - C(images) lists the targets in order as community.docker.docker_image_tag does, each C({name, tag, exists, id}),
      C(id) only when the target names an image.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"images": [{"name": "app", "tag": "stable", "exists": false}], "app:stable": {"exists": false}},
           "after": {"images": [{"name": "app", "tag": "stable", "exists": true,
                                 "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"}],
                     "app:stable": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                                    "tags": ["app:1.2", "app:stable"], "digests": []}}}
'''

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state, target_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import DEFAULT_TAG, is_image_id, parse_reference
from ansible_collections.dockyard.docker.plugins.module_utils._store import ImageStore, names_state, shown_name


def target_reference(index, text):
    """The target ``repository[index]`` as ``repository:tag`` (``latest`` when it has none, as docker tag does)."""
    try:
        if is_image_id(text):
            raise DockerError("'%s' is an image ID; a target must be a repository name" % text)
        reference = parse_reference(text, default_tag=None)
        if reference.digest:
            raise DockerError("'%s' carries a digest; a target takes a tag, not a digest" % text)
        if is_image_id(reference.repository):
            raise DockerError("'%s' is not a valid target: a repository name must not be 64 hex digits" % text)
        return parse_reference(text, default_tag=DEFAULT_TAG)
    except DockerError as exc:
        raise DockerError('repository[%d]: %s' % (index, exc))


def tag_action(image_id, target, current, tagged):
    """community.docker's words for one target: ``[Not] tagged image ID as TARGET: why``."""
    if not current:
        return 'Tagged image %s as %s: %s named no image' % (image_id, target, target)
    if current['Id'] == image_id:
        return 'Not tagged image %s as %s: %s names it already' % (image_id, target, target)
    if tagged:
        return 'Tagged image %s as %s: %s named image %s' % (image_id, target, target, current['Id'])
    return 'Not tagged image %s as %s: %s named image %s, kept as existing_images=keep asks' % (
        image_id, target, target, current['Id'])


class ImageTagger:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def targets(self):
        given = self.params['repository']
        if not given:
            raise DockerError('repository must hold at least one target')
        references = []
        for index, text in enumerate(given):
            reference = str(target_reference(index, text))
            if reference not in references:
                references.append(reference)
        return references

    @staticmethod
    def named(store, targets):
        """``{target: the names of the image it names now, or None}``."""
        return dict((target, store.state(getattr(store.find(parse_reference(target)), 'image_id', None)))
                    for target in targets)

    def run(self):
        targets = self.targets()
        store = ImageStore.read(self.client, names=[self.params['name']] + targets)
        match = store.resolve(self.params['name'], self.params['tag'])
        name = shown_name(self.params['name'], self.params['tag'], match)
        if match is None:
            raise DockerError('failed to tag %s as %s: no such image: %s' % (name, ', '.join(targets), name))
        keep = self.params['existing_images'] == 'keep'
        befores = self.named(store, targets)
        tagged = [target for target in targets
                  if not befores[target] or (befores[target]['Id'] != match.image_id and not keep)]
        outcome = Outcome()
        for target in targets:
            outcome.note(tag_action(match.image_id, target, befores[target], target in tagged))
            if target in tagged and not self.client.check_mode:
                repository, tag = target.rsplit(':', 1)
                self.client.tag(match.image_id, repository, tag)
        if self.client.check_mode:
            predicted = names_state(match.image_id, store.references[match.image_id] + tagged, store.containerd)
            afters = dict((target, predicted if target in tagged or befores[target]['Id'] == match.image_id
                           else befores[target]) for target in targets)
        else:
            afters = self.named(ImageStore.read(self.client, names=targets), targets)
        for target in targets:
            outcome.record(target, image_state(befores[target]), image_state(afters[target]))
            outcome.record_item('images', target_state(target, befores[target]), target_state(target, afters[target]))
        return outcome.result(self.client.diff_mode, image=self.client.inspect_image(match.image_id),
                              tagged_images=tagged)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='str', required=True),
            tag=dict(type='str', default='latest'),
            repository=dict(type='list', elements='str', required=True),
            existing_images=dict(type='str', choices=['keep', 'overwrite'], default='overwrite'),
        ),
    )
    client.finish(ImageTagger)


if __name__ == '__main__':
    main()
