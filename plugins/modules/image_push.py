#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_push
short_description: Push images to a registry, like C(docker push)
version_added: 0.1.0
description:
  - Pushes one local image or many through the Docker daemon, like C(docker push NAME[:TAG]).
  - Before pushing, the daemon asks the registry which manifest digest the tag holds now
    (C(GET /distribution/NAME/json)). When that digest is one the local image already carries (in its
    C(RepoDigests), for this repository or any other, or as its ID on the containerd image store), the
    registry has the image, nothing is uploaded and the task is C(ok). Otherwise the image is pushed and
    the task is C(changed).
  - So an image copied to another registry (pulled from one, pushed under a name of the other) is not
    pushed again when the target already serves the same manifest.
  - Because of that lookup, check mode predicts exactly whether a push would happen.
  - Reports what each push moved (RV(transfer)), from the daemon's progress stream.
  - Several names are pushed at once, O(parallel) at a time.
  - With O(repository) the image is first tagged under that name, then pushed under it, in one task.
  - Credentials come from O(registry_auth), or else from the docker CLI's configuration, as
    C(docker push) finds them (see O(registry_auth)).
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
    details: Asks the registry for the digest the tag holds, without pushing.
  diff_mode:
    details: Shows, for each pushed name, the manifest digest the registry holds and the local image it is, before and after.
options:
  name:
    description:
      - The local images to push, each C([registry/]repository[:tag]).
      - A name without a registry goes to Docker Hub; one without a tag gets O(tag).
      - A digest (C(@sha256:...)) cannot be pushed and is an error.
    type: list
    elements: str
    required: true
  tag:
    description:
      - The tag to push for names that carry none. Defaults to V(latest).
      - A name that carries a different tag together with this option is an error.
    type: str
  repository:
    description:
      - Push the image under this name instead, C([registry/]repository[:tag]). The image is tagged
        under it first (like C(docker tag NAME REPOSITORY)), then that name is pushed.
      - Without a tag here, the tag of O(name) is used.
      - Only with a single O(name).
    type: str
notes:
  - The Docker daemon treats registries on C(127.0.0.0/8) as insecure and does not check their TLS
    certificates; for other registries it trusts the CAs in C(/etc/docker/certs.d/HOST:PORT/) of the
    daemon's host, not those of the Ansible controller.
seealso:
  - module: dockyard.docker.image_pull
  - module: dockyard.docker.image_info
  - module: dockyard.docker.registry_login
'''

EXAMPLES = r'''
- name: Push an image (docker push registry.example.com/team/api:2.1)
  dockyard.docker.image_push:
    name: registry.example.com/team/api
    tag: "2.1"

- name: Push several images at once, retrying when the registry is briefly unavailable
  dockyard.docker.image_push:
    name:
      - registry.example.com/team/api:2.1
      - registry.example.com/team/web:2.1
    parallel: 2
    retries: 3

- name: Push a locally built image under its release name (docker tag + docker push)
  dockyard.docker.image_push:
    name: api:build-731
    repository: registry.example.com/team/api:2.1

- name: Push with credentials given to this task only
  dockyard.docker.image_push:
    name: registry.example.com/team/api:2.1
    registry_auth:
      registry: registry.example.com
      username: ci
      password: "{{ registry_token }}"
'''

RETURN = r'''
image:
  description: The inspect data of the pushed image, as C(docker image inspect) shows it.
  returned: when O(name) holds one name and the task did not fail
  type: dict
  sample: {"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
           "RepoTags": ["registry.example.com/team/api:2.1"],
           "RepoDigests": ["registry.example.com/team/api@sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5"]}
digest:
  description:
    - The manifest digest the registry holds for the pushed name afterwards.
    - In check mode, the digest a push would give when the image already carries one for that repository, else null.
  returned: when O(name) holds one name and the task did not fail
  type: str
  sample: sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5
images:
  description:
    - The inspect data of each image that was handled, in the order of O(name), each with the key C(transfer), the
      figures of its own push (see RV(transfer)).
    - When O(name) holds several names, each entry also carries C(attempts), that name's failed attempts
      (see RV(attempts)).
  returned: always
  type: list
  elements: dict
digests:
  description: The digest of each pushed name (see RV(digest)), in the order of O(name).
  returned: always
  type: list
  elements: str
transfer:
  description:
    - What the pushes moved, all names together; each entry of RV(images) carries the figures of its own push.
    - Counted from the daemon's progress stream. A name the registry already holds is not pushed and moves nothing
      (RV(transfer.bytes) V(0), every layer of the image in RV(transfer.layers_present)); so does check mode.
  returned: always
  type: dict
  contains:
    bytes:
      description:
        - The size of the layers uploaded as the daemon counts them while it pushes (the C(progressDetail.total) of
          each layer), which on Docker's classic image store is the layer's uncompressed tar stream.
        - On the containerd image store (Docker 28), the compressed size, but only of a layer whose upload outlasts one
          of its progress updates (a fraction of a second); when the stream shows no size for a layer uploaded,
          V(null).
      type: int
    layers:
      description: The layers uploaded.
      type: int
    layers_present:
      description: The layers the registry already had (C(Layer already exists)) or mounted from another repository.
      type: int
    seconds:
      description: How long the pushes took; for a list, from the first start to the last end.
      type: float
  sample: {"bytes": 1982276, "layers": 2, "layers_present": 0, "seconds": 0.318}
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
            "error": "failed to push 127.0.0.1:5000/app:1: ... connect: connection refused"}]
actions:
  description:
    - C(Pushed image NAME) for each name pushed, in check mode each one that would be, as
      community.docker.docker_image_push words it; C(Tagged image SOURCE as NAME) before it when O(repository)
      names a new tag.
    - A name whose image the registry already holds is not pushed, so it has no entry.
  returned: always
  type: list
  elements: str
  sample: ["Pushed image registry.example.com/team/api:2.1"]
diff:
  description:
    - For each pushed name, keyed by name, C({digest, image}) before and after - C(digest), the manifest digest
      the registry holds for the name (V(null) for none, or in check mode when the classic image store cannot
      know it before the push); C(image), the ID of the local image the registry's tag holds (V(null) when
      it holds another image or none), so a push check mode predicts always shows as a change.
    - When O(name) holds one name, its C(digest) and C(image) also stand at the top of C(before) and C(after).
  returned: when diff mode is on
  type: dict
  sample: {"before": {"digest": null, "image": null,
                      "registry.example.com/team/api:2.1": {"digest": null, "image": null}},
           "after": {"digest": "sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5",
                     "image": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1",
                     "registry.example.com/team/api:2.1": {
                         "digest": "sha256:7c3d2a9e3e1fbb6c2c3f25a8b6ef1f0cb5e2c8d1e6a0b4b1d1b3a1f9e8d7c6b5",
                         "image": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"}}}
'''

from ansible_collections.dockyard.docker.plugins.module_utils._batch import BATCH_ARGS, Batch
from ansible_collections.dockyard.docker.plugins.module_utils._client import REGISTRY_AUTH_ARG, DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import (
    DEFAULT_TAG, parse_each, push_target, with_tag)
from ansible_collections.dockyard.docker.plugins.module_utils._store import carried_digests, id_name, repo_digests
from ansible_collections.dockyard.docker.plugins.module_utils._transfer import (
    Transfer, image_layers, push_transfer, timed, total)


class Push:
    """One name to push: the local ``source`` and the ``target`` name it goes to the registry as."""

    def __init__(self, source, target):
        self.source = source
        self.target = target
        self.image = None
        self.remote_before = None
        self.remote_after = None
        self.tagged = False
        self.tag_made = False
        self.pushed = False
        self.transfer = None


class ImagePusher:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.batch = Batch(self.params)

    def plan(self):
        names = self.params['name']
        if self.params['repository'] and len(names) > 1:
            raise DockerError('repository can rename one image only, but name holds %d' % len(names))
        sources = parse_each('name', names, self._source)
        return [Push(source, push_target(source, self.params['repository'])) for source in sources]

    def _source(self, name):
        """The local image to push: a reference, or an image ID (full or a prefix) when ``repository`` names it."""
        by_id = id_name(self.client, name, self.params['tag'] or DEFAULT_TAG)
        if by_id is not None and not self.params['repository']:
            raise DockerError("'%s' is an image ID; give repository to push it under a name" % name)
        if by_id is not None:
            return by_id
        source = with_tag(name, self.params['tag'])
        if source.digest:
            raise DockerError("'%s' pins a digest; only a tag can be pushed" % name)
        return source

    def push_one(self, push):
        """Tag and push when the registry lacks the image; check mode stops before either."""
        source, target = push.source, push.target
        push.image = self.client.inspect_image(str(source))
        if not push.image:
            raise DockerError('image %s is not present locally, so it cannot be pushed to registry %s'
                              % (source, target.registry))
        if target != source:
            current = self.client.inspect_image(str(target))
            push.tagged = not current or current['Id'] != push.image['Id']
        push.transfer = Transfer(layers_present=image_layers(push.image))
        push.remote_before = self.batch.retrying(lambda: self.client.remote_digest(target))
        push.pushed = push.remote_before not in carried_digests(push.image)
        if not push.pushed:
            push.remote_after = push.remote_before
        elif self.client.check_mode:
            known = repo_digests(push.image, target.repository)
            push.remote_after = known[0] if len(known) == 1 else None
        if self.client.check_mode:
            return push
        if push.tagged:
            self.client.tag(push.image['Id'], target.repository, target.tag)
            push.tag_made = True
        if push.pushed:
            answer, started, seconds = timed(self.batch.retrying, lambda: self.client.push(target.repository, target.tag))
            push.transfer = push_transfer(answer.events, seconds, started)
            digests = [aux['Digest'] for aux in answer.aux if aux.get('Digest')]
            push.remote_after = digests[-1] if digests else self.client.remote_digest(target)
        if push.tagged or push.pushed:
            push.image = self.client.inspect_image(push.image['Id'])
        return push

    def run(self):
        pushes = self.plan()
        answers = self.batch.run(self.push_one, pushes)
        outcome = Outcome(single=len(pushes) == 1)
        images, digests, transfers = [], [], []
        for index, (push, (_answer, error)) in enumerate(zip(pushes, answers)):
            if error:
                # A push that failed after the tag it needed was made has still changed the host.
                if push.tag_made:
                    outcome.note('Tagged image %s as %s' % (push.source, push.target))
                    outcome.mark_rewritten()
                continue
            key = str(push.target)
            # The local image the registry's tag holds: this one unless it is (to be) pushed.
            held_before = None if push.pushed else push.image['Id']
            outcome.record(key, {'digest': push.remote_before, 'image': held_before},
                           {'digest': push.remote_after, 'image': push.image['Id']})
            if push.tagged:
                outcome.note('Tagged image %s as %s' % (push.source, push.target))
            if push.pushed:
                outcome.note('Pushed image %s' % key)
            if push.tagged or push.pushed:
                outcome.mark_rewritten()
            images.append(self.batch.entry(index, dict(push.image, transfer=push.transfer.as_dict())))
            transfers.append(push.transfer)
            digests.append(push.remote_after)
        errors = [error for _answer, error in answers if error]
        result = outcome.result(self.client.diff_mode, images=images, digests=digests, transfer=total(transfers),
                                **self.batch.single_attempts())
        if errors:
            raise DockerError('; '.join(errors), result=result)
        if len(pushes) == 1:
            result.update(image=images[0], digest=digests[0])
        return result


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            tag=dict(type='str'),
            repository=dict(type='str'),
            registry_auth=REGISTRY_AUTH_ARG,
            **BATCH_ARGS
        ),
    )
    client.finish(ImagePusher)


if __name__ == '__main__':
    main()
