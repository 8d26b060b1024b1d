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
  - Returns the manifest digest each name resolved to and a C(repository@digest) reference pinned to it, and, with
    O(expected_digest), refuses a tag that moved before anything is pulled.
  - Reports what each pull moved (RV(transfer)), from the daemon's progress stream.
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
  expected_digest:
    description:
      - The manifest digest, C(sha256:...), the one name in O(name) must pull; with a list of names it is an error.
      - Before pulling, the module asks the registry which digest it serves for the tag (C(GET /distribution/NAME/json)
        through the daemon, as check mode does), also with O(pull=not_present) and the image present. When that is
        another digest, the task fails naming both and pulls nothing; check mode fails the same way.
      - A name pinned by digest (C(NAME@sha256:...)) must pin this one.
    type: str
  disk_check:
    description:
      - Before a name is pulled, in check mode too, read the size of its image from the registry's manifest and
        compare twice that (the layers as they arrive, and at least as much unpacked) with the space free in the
        daemon's data root (C(DockerRootDir) of C(docker info)); when it cannot fit, fail with both numbers and pull
        nothing for that name.
      - Every layer counts, also those the engine holds already, so a pull that would just fit may be refused. A name
        whose image the engine holds already is not checked.
      - Only a daemon reached over a unix socket is checked, as only its disks are this host's. With the containerd
        image store the images land in containerd's root, on the data root's filesystem in a default installation.
      - When the manifest cannot be read (a registry behind a mirror, credentials the module does not have) the name is
        pulled unchecked, with a warning. V(false) skips the check.
    type: bool
    default: true
    version_added: 0.1.0
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

- name: Pull only the build that was tested, and record its pinned reference
  dockyard.docker.image_pull:
    name: registry.example.com/team/api:2.1
    expected_digest: sha256:73bc0fbc08be0c8b433b0b2b3e992cfbf2e083ec7da8311b3dae558493e7046e
  register: api

- name: Run what was pulled, by digest
  ansible.builtin.debug:
    msg: "{{ api.pinned }} ({{ api.transfer.layers }} layers, {{ api.transfer.bytes }} bytes)"

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
    - In check mode, for an image not present yet, only the keys C(digest), C(pinned) and C(transfer) (see RV(images)).
  returned: when O(name) holds one name
  type: dict
  sample: {"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["busybox:1.36"]}
images:
  description:
    - The inspect data of each image, in the order of O(name), each with the keys C(digest), C(pinned) and C(transfer)
      of its own name (see RV(digest), RV(pinned), RV(transfer)).
    - In check mode, for an image not present yet, only those three keys.
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
digest:
  description:
    - The manifest digest the registry served for the name (the C(Digest:) line of the pull), in check mode the one it
      serves now; for an image present and not pulled (O(pull=not_present)) the digest the local image holds for the
      name's repository.
    - V(null) when the image holds no digest (or several) for that repository, as an image built or loaded locally.
    - Each entry of RV(images) carries its own.
  returned: when O(name) holds one name
  type: str
  sample: sha256:73bc0fbc08be0c8b433b0b2b3e992cfbf2e083ec7da8311b3dae558493e7046e
pinned:
  description:
    - The name's repository, as C(RepoDigests) writes it, with RV(digest) (C(repository@sha256:...)), ready for
      a later task or a container definition; V(null) when RV(digest) is.
    - Each entry of RV(images) carries its own.
  returned: when O(name) holds one name
  type: str
  sample: registry.example.com/team/api@sha256:73bc0fbc08be0c8b433b0b2b3e992cfbf2e083ec7da8311b3dae558493e7046e
transfer:
  description:
    - What the pulls moved, all names together; each entry of RV(images) carries the figures of its own pull.
    - Counted from the daemon's progress stream. A name not pulled, and check mode, move nothing (RV(transfer.bytes) V(0)).
  returned: always
  type: dict
  contains:
    bytes:
      description:
        - The compressed size of the layers downloaded, as the registry serves them (the C(progressDetail.total) of
          each layer the daemon downloads).
        - V(null) when the stream shows no size for a layer downloaded. The containerd image store (Docker 28) shows
          the size only of a layer whose download outlasts one of its progress updates (a fraction of a second), so
          there a quick pull has V(null).
      type: int
    layers:
      description: The layers downloaded.
      type: int
    layers_present:
      description: The image's layers that were already there and not downloaded.
      type: int
    seconds:
      description: How long the pulls took; for a list, from the first start to the last end.
      type: float
  sample: {"bytes": 1064707, "layers": 2, "layers_present": 0, "seconds": 0.412}
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
from ansible_collections.dockyard.docker.plugins.module_utils._reference import digest_problem, parse_each, with_tag
from ansible_collections.dockyard.docker.plugins.module_utils._space import check_pull
from ansible_collections.dockyard.docker.plugins.module_utils._store import repo_digests
from ansible_collections.dockyard.docker.plugins.module_utils._transfer import (
    Transfer, image_layers, pull_transfer, timed, total)


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
        self.expected = self.params['expected_digest']
        if self.expected is not None and len(self.params['name']) != 1:
            raise DockerError('expected_digest pins one image, but name holds %d' % len(self.params['name']))
        if self.expected is not None and digest_problem(self.expected):
            raise DockerError('expected_digest: %s' % digest_problem(self.expected))

    def references(self):
        return parse_each('name', self.params['name'], lambda name: with_tag(name, self.params['tag']))

    def _local(self, reference):
        inspect = self.client.inspect_image(str(reference))
        return inspect if _matches_platform(inspect, self.params['platform']) else None

    def _remote(self, reference):
        """The manifest digest the registry serves for ``reference`` now, asked through the daemon without pulling."""
        return self.batch.retrying(lambda: self.client.distribution(reference))['Descriptor']['digest']

    def _check_expected(self, reference):
        """Fail before anything moves when ``reference`` is not (or would not pull) ``expected_digest``; else return it."""
        if self.expected is None:
            return None
        if reference.digest and reference.digest != self.expected:
            raise DockerError('%s is pinned to %s, but expected_digest is %s'
                              % (reference, reference.digest, self.expected))
        served = reference.digest or self._remote(reference)
        if served != self.expected:
            raise DockerError('registry %s serves %s for %s, but expected_digest is %s; nothing was pulled'
                              % (reference.registry, served, reference, self.expected))
        return served

    def _held(self, reference, inspect):
        """The digest a present image holds for the name's repository, when it holds exactly one."""
        held = [reference.digest] if reference.digest else repo_digests(inspect, reference.repository)
        return held[0] if len(held) == 1 else None

    def _predict(self, reference, before, remote=None):
        """The state a pull would leave and the digest it would bring: ``remote``, else the registry's for the name."""
        if before and reference.digest:
            return before, reference.digest
        remote = remote or self._remote(reference)
        pinned = '%s@%s' % (reference.repository, remote)
        if before and pinned in (before.get('RepoDigests') or []):
            return before, remote
        return {'Id': None, 'RepoTags': [str(reference)] if reference.tag else [], 'RepoDigests': [pinned]}, remote

    def pull_one(self, reference):
        """(before, after, pulled, digest, transfer) for one name; after is a prediction in check mode."""
        served = self._check_expected(reference)
        before = self._local(reference)
        untouched = Transfer(layers_present=image_layers(before))
        if before and self.params['pull'] == 'not_present':
            return before, before, False, self._held(reference, before), untouched
        if self.params['disk_check']:
            check_pull(self.client, reference, self.params['platform'], before)
        if self.client.check_mode:
            after, digest = self._predict(reference, before, served)
            return before, after, True, digest, untouched
        stream, started, seconds = timed(self.batch.retrying, lambda: self.client.pull(reference, self.params['platform']))
        after = self.client.inspect_image(str(reference))
        transfer = pull_transfer(stream.events, seconds, started, image_layers(after))
        return before, after, True, stream.digest or self._held(reference, after), transfer

    def run(self):
        references = self.references()
        answers = self.batch.run(self.pull_one, references)
        outcome = Outcome(single=len(references) == 1)
        images, transfers = [], []
        for index, (reference, (states, error)) in enumerate(zip(references, answers)):
            if error:
                continue
            before, after, pulled, digest, transfer = states
            outcome.record(str(reference), image_state(before), image_state(after))
            if pulled:
                outcome.note('Pulled image %s' % reference)
            pin = {'digest': digest, 'pinned': '%s@%s' % (reference.repository, digest) if digest else None,
                   'transfer': transfer.as_dict()}
            images.append(self.batch.entry(index, dict(after if after and after.get('Id') else (before or {}), **pin)))
            transfers.append(transfer)
        errors = [error for _states, error in answers if error]
        result = outcome.result(self.client.diff_mode, images=images, transfer=total(transfers),
                                **self.batch.single_attempts())
        if errors:
            raise DockerError('; '.join(errors), result=result)
        if len(references) == 1:
            result.update(image=images[0], digest=images[0]['digest'], pinned=images[0]['pinned'])
        return result


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            tag=dict(type='str'),
            platform=dict(type='str'),
            pull=dict(type='str', choices=['always', 'not_present'], default='always'),
            expected_digest=dict(type='str'),
            disk_check=dict(type='bool', default=True),
            registry_auth=REGISTRY_AUTH_ARG,
            **BATCH_ARGS
        ),
        option_minimal_versions=dict(platform='1.32'),
    )
    client.finish(ImagePuller)


if __name__ == '__main__':
    main()
