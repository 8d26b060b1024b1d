#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_pull
short_description: Pull images from a registry, like C(docker pull)
version_added: 0.1.0
description:
  - Pulls one image or many, layer by layer through the Docker daemon, like C(docker pull NAME[:TAG]).
  - Reports C(changed) only when the image a name resolves to changed; a second identical run is C(ok).
  - Several names are pulled at once, O(parallel) at a time.
  - In check mode nothing is pulled. With O(pull=always) the daemon asks the registry for the current
    digest of each name (C(GET /distribution/NAME/json)) and the module predicts a change when the
    local image does not carry that digest.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
  - dockyard.docker._docker.batch
  - dockyard.docker._docker.retry
  - dockyard.docker._docker.registry_auth
attributes:
  check_mode:
    details: Asks the registry for the remote digest without pulling.
  diff_mode:
    details: Shows the ID, tags and digests of each image before and after.
options:
  name:
    description:
      - The images to pull, each C([registry/]repository[:tag][@digest]).
      - A name without a registry comes from Docker Hub; one without a tag or digest gets O(tag).
    type: list
    elements: str
    required: true
  tag:
    description:
      - The tag to pull for names that carry no tag or digest. Defaults to V(latest).
      - A name that carries a different tag, or a digest, together with this option is an error.
    type: str
  platform:
    description:
      - The platform to pull, C(os[/arch[/variant]]), for example V(linux/amd64).
      - An image present for another platform counts as absent.
    type: str
  pull:
    description:
      - V(always) asks the registry each time and pulls when the tag moved (like C(docker pull)).
      - V(not_present) pulls only names that are not in the local image store.
    type: str
    choices: [always, not_present]
    default: always
seealso:
  - module: dockyard.docker.image_info
  - module: dockyard.docker.image_push
  - module: dockyard.docker.image_remove
'''

EXAMPLES = r'''
- name: Pull an image (docker pull alpine:3.20)
  dockyard.docker.image_pull:
    name: alpine
    tag: "3.20"

- name: Pull several images at once, from a private registry
  dockyard.docker.image_pull:
    name:
      - registry.example.com/team/api:2.1
      - registry.example.com/team/web:2.1
      - registry.example.com/team/worker@sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5
    parallel: 3
    retries: 3

- name: Pull only when the image is missing, for a given platform
  dockyard.docker.image_pull:
    name: busybox:1.36
    pull: not_present
    platform: linux/arm64

- name: Set the daemon once for every module of the collection
  module_defaults:
    group/dockyard.docker.docker:
      docker_host: tcp://build-host.example.com:2376
      validate_certs: true
  block:
    - name: Pull through that daemon
      dockyard.docker.image_pull:
        name: nginx:1.27
'''

RETURN = r'''
image:
  description:
    - The inspect data of the image, as C(docker image inspect) shows it, when O(name) holds one name.
    - Empty in check mode when the image is not present yet.
  returned: when O(name) holds one name
  type: dict
  sample: {"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["busybox:1.36"]}
images:
  description:
    - The inspect data of each image, in the order of O(name).
    - Empty dicts in check mode for images not present yet.
    - When O(name) holds several names, each entry also carries C(attempts), that name's failed attempts
      (see RV(attempts)).
  returned: always
  type: list
  elements: dict
attempts:
  description:
    - Every attempt of a registry call for the one name in O(name) that failed, in order, also when the task
      failed; empty when nothing failed. Each is C(when) (the UTC time, ISO 8601), C(error) (the message),
      C(status) (the HTTP status the daemon answered with, null for a broken connection or a failure the
      daemon reported inside its progress stream) and C(wait) (the seconds waited before the next attempt,
      null when it was the last).
    - For several names, each entry of RV(images) carries its own C(attempts) list instead.
  returned: when O(name) holds one name
  type: list
  elements: dict
  sample: [{"when": "2026-12-03T12:00:00.123Z", "status": null, "wait": 0.75,
            "error": "failed to pull 127.0.0.1:5000/app:1: ... connect: connection refused"}]
actions:
  description:
    - One C(Pulled image NAME) for each name pulled from the registry, in check mode each one that would be,
      as community.docker.docker_image_pull words it.
    - A name is pulled whenever O(pull=always), also when the registry has nothing new (then C(changed) stays
      false); with O(pull=not_present) only when it is missing.
  returned: always
  type: list
  elements: str
  sample: ["Pulled image busybox:1.36"]
diff:
  description:
    - The state of each image before and after, keyed by name, each C({exists, id, tags, digests}).
    - When O(name) holds one name, that image's C(exists), C(id), C(tags) and C(digests) also stand at the top of
      C(before) and C(after), as community.docker.docker_image_pull returns them.
    - In check mode C(id) is V(unknown) for an image a pull would bring but whose ID the registry does not tell.
  returned: when diff mode is on
  type: dict
  sample: {"before": {"exists": false, "busybox:1.36": {"exists": false}},
           "after": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                     "tags": ["busybox:1.36"], "digests": [],
                     "busybox:1.36": {"exists": true, "id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                                      "tags": ["busybox:1.36"], "digests": []}}}
'''

from ansible_collections.dockyard.docker.plugins.module_utils._batch import BATCH_ARGS, Batch
from ansible_collections.dockyard.docker.plugins.module_utils._client import REGISTRY_AUTH_ARG, DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_each, with_tag


def _matches_platform(inspect, platform):
    if not platform or not inspect:
        return True
    wanted = platform.split('/')
    actual = [inspect.get('Os'), inspect.get('Architecture'), inspect.get('Variant')]
    return all(want == have for want, have in zip(wanted, actual))


class ImagePuller:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.batch = Batch(self.params)

    def references(self):
        return parse_each('name', self.params['name'], lambda name: with_tag(name, self.params['tag']))

    def _local(self, reference):
        inspect = self.client.inspect_image(str(reference))
        return inspect if _matches_platform(inspect, self.params['platform']) else None

    def _predict(self, reference, before):
        """The state a pull would leave, asking the registry for the digest the name has now."""
        if before and reference.digest:
            return before
        descriptor = self.batch.retrying(lambda: self.client.distribution(reference))['Descriptor']
        remote = '%s@%s' % (reference.repository, descriptor['digest'])
        if before and remote in (before.get('RepoDigests') or []):
            return before
        return {'Id': None, 'RepoTags': [str(reference)] if reference.tag else [], 'RepoDigests': [remote]}

    def pull_one(self, reference):
        """(inspect before, inspect after, whether it is pulled) for one name; after is a prediction in check mode."""
        before = self._local(reference)
        if before and self.params['pull'] == 'not_present':
            return before, before, False
        if self.client.check_mode:
            return before, self._predict(reference, before), True
        self.batch.retrying(lambda: self.client.pull(reference, platform=self.params['platform']))
        return before, self.client.inspect_image(str(reference)), True

    def run(self):
        references = self.references()
        answers = self.batch.run(self.pull_one, references)
        single = len(references) == 1
        outcome = Outcome(single=single)
        images = []
        for reference, (states, error), attempts in zip(references, answers, self.batch.item_attempts):
            if error:
                continue
            before, after, pulled = states
            outcome.record(str(reference), image_state(before), image_state(after))
            if pulled:
                outcome.note('Pulled image %s' % reference)
            image = after if after and after.get('Id') else (before or {})
            images.append(image if single else dict(image, attempts=attempts))
        errors = [error for _states, error in answers if error]
        result = outcome.result(self.client.diff_mode, images=images)
        if single:
            result['attempts'] = self.batch.item_attempts[0]
        if errors:
            raise DockerError('; '.join(errors), result=result)
        if single:
            result['image'] = images[0]
        return result


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            tag=dict(type='str'),
            platform=dict(type='str'),
            pull=dict(type='str', choices=['always', 'not_present'], default='always'),
            registry_auth=REGISTRY_AUTH_ARG,
            **BATCH_ARGS
        ),
        option_minimal_versions=dict(platform='1.32'),
    )
    client.finish(ImagePuller)


if __name__ == '__main__':
    main()
