#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_commit
short_description: Create an image from a container's changes, like C(docker commit)
version_added: 0.1.0
description:
  - Creates an image from a container's file system changes and configuration and tags it
    O(repository):O(tag), like C(docker commit [-a AUTHOR] [-m MESSAGE] [-c CHANGE] CONTAINER REPOSITORY:TAG).
  - The daemon records in the image the container it was committed from. When O(repository):O(tag) already
    holds an image committed from this container, with the same O(author) and O(comment), and a configuration
    equal to the container's with O(changes) applied (C(Cmd), C(Entrypoint), C(Env), C(Labels),
    C(ExposedPorts), C(Volumes), C(User), C(WorkingDir), C(OnBuild)), nothing is committed and the result is
    C(ok), unless O(force=true). Adding, changing or removing a O(changes) line, the author or the comment
    commits again, and the tag moves to the new image.
  - What is compared is the image's record, not the container's file system. A container that changed
    since its last commit needs O(force=true) (or a new O(tag)) to be committed again.
  - A missing container, an instruction a commit does not accept, and an invalid repository or tag fail
    before anything is committed.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    support: full
    details: Validates the options, finds the container and compares the existing image without committing.
  diff_mode:
    support: full
    details: Shows the ID, tags and digests of the image O(repository):O(tag) names, before and after.
  idempotent:
    support: full
    details:
      - The image is the same commit when it came from the same container, with the same author, comment and
        resulting configuration. The container is recorded in the image's label
        C(dockyard.docker.commit.container) (its full ID), as daemons with the containerd image store do not
        record it themselves.
options:
  container:
    description:
      - Name or ID of the container to commit. It may be running or stopped.
    type: str
    required: true
  repository:
    description:
      - The repository to tag the new image in, C([registry/]name), without a tag or digest.
    type: str
    required: true
  tag:
    description:
      - The tag to give the new image.
    type: str
    default: latest
  author:
    description:
      - The image's author, as C(docker commit --author) records it (C(docker inspect -f '{{.Author}}')).
    type: str
  comment:
    description:
      - The commit message, as C(docker commit --message) records it in the image's C(Comment); C(docker history)
        shows it as the comment of the new layer.
      - Named after that field because Ansible keeps the option name C(message) for itself.
    type: str
  pause:
    description:
      - Pause the container while it is committed, as C(docker commit) does by default.
    type: bool
    default: true
  changes:
    description:
      - Dockerfile instructions to apply to the image's configuration, like C(docker commit --change).
      - A commit accepts V(CMD), V(ENTRYPOINT), V(ENV), V(EXPOSE), V(LABEL), V(ONBUILD), V(USER), V(VOLUME) and
        V(WORKDIR). Other instructions and malformed lines are rejected with the index of the line.
      - For idempotence the lines are applied to the container's configuration as written; a value that
        refers to variables (C($PATH)) is expanded by the daemon, so such a line counts as different on
        every run.
    type: list
    elements: str
    default: []
  force:
    description:
      - Commit even when O(repository):O(tag) already holds an image committed from this container with
        the same settings. The tag then moves to the new image.
    type: bool
    default: false
seealso:
  - module: dockyard.docker.image_info
  - module: dockyard.docker.image_push
  - module: dockyard.docker.image_tag
  - name: docker commit
    description: The Docker CLI command this module mirrors.
    link: https://docs.docker.com/reference/cli/docker/container/commit/
'''

EXAMPLES = r'''
- name: Commit a container (docker commit -a ops -m "patched" app app-snapshot:2026-11-29)
  dockyard.docker.image_commit:
    container: app
    repository: app-snapshot
    tag: "2026-11-29"
    author: ops <ops@example.com>
    comment: patched
  register: snapshot

- name: Commit with a new default command and environment
  dockyard.docker.image_commit:
    container: builder
    repository: registry.example.com/team/tool
    tag: "1.4"
    changes:
      - ENV MODE=production
      - CMD ["/usr/local/bin/tool", "--serve"]
      - EXPOSE 8080
      - LABEL org.opencontainers.image.version=1.4

- name: Commit again although nothing in the task changed
  dockyard.docker.image_commit:
    container: builder
    repository: registry.example.com/team/tool
    tag: "1.4"
    force: true
'''

RETURN = r'''
image:
  description:
    - The inspect data of the committed image, as C(docker image inspect) shows it; the existing image when
      nothing was committed.
    - Empty in check mode when a commit would happen.
  returned: always
  type: dict
  sample: {"Id": "sha256:4e8d5272c3bd3f9a422e81f2b2effd0a3231d1b8b1538581f93c4acc0ab434df",
           "RepoTags": ["app-snapshot:2026-11-29"], "Author": "ops <ops@example.com>", "Comment": "patched"}
actions:
  description: What was done, or in check mode what would be done.
  returned: always
  type: list
  elements: str
  sample: ["Committed container app as app-snapshot:2026-11-29"]
'''

from ansible_collections.dockyard.docker.plugins.module_utils._changes import (
    expected_settings, parse_changes, settings, target_reference,
)
from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError


# Daemons with the containerd image store do not record an image's source container, so the module does.
SOURCE_LABEL = 'dockyard.docker.commit.container'


class ContainerCommitter:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def _same_commit(self, existing, container):
        """Whether ``existing`` is what this task would commit: same source container and settings."""
        labels = ((existing or {}).get('Config') or {}).get('Labels') or {}
        if labels.get(SOURCE_LABEL) != container['Id']:
            return False
        if (existing.get('Author') or '') != (self.params['author'] or ''):
            return False
        if (existing.get('Comment') or '') != (self.params['comment'] or ''):
            return False
        return settings(existing.get('Config')) == expected_settings(container.get('Config'), self.changes)

    def run(self):
        reference = target_reference(self.params['repository'], self.params['tag'])
        parse_changes(self.params['changes'], 'a commit')  # a malformed line fails before the daemon is asked
        name = self.params['container']
        container = self.client.inspect_container(name)
        if not container:
            raise DockerError('failed to commit container %s as %s: no such container' % (name, reference))
        changes = list(self.params['changes'] or []) + ['LABEL %s=%s' % (SOURCE_LABEL, container['Id'])]
        self.changes = parse_changes(changes, 'a commit')
        existing = self.client.inspect_image(str(reference))
        outcome = Outcome()
        if self._same_commit(existing, container) and not self.params['force']:
            outcome.record(str(reference), image_state(existing), image_state(existing))
            return outcome.result(self.client.diff_mode, image=existing)
        if self.params['force'] and existing:
            outcome.mark_rewritten()
        if self.client.check_mode:
            image = {}
            after = {'exists': True, 'id': None, 'tags': [str(reference)], 'digests': []}
            outcome.note('Would commit container %s as %s' % (name, reference))
        else:
            image_id = self.client.commit(container['Id'], reference.repository, reference.tag,
                                          message=self.params['comment'], author=self.params['author'],
                                          pause=self.params['pause'], changes=changes)
            image = self.client.inspect_image(image_id) or {}
            after = image_state(image)
            outcome.note('Committed container %s as %s' % (name, reference))
        outcome.record(str(reference), image_state(existing), after)
        return outcome.result(self.client.diff_mode, image=image)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            container=dict(type='str', required=True),
            repository=dict(type='str', required=True),
            tag=dict(type='str', default='latest'),
            author=dict(type='str'),
            comment=dict(type='str'),
            pause=dict(type='bool', default=True),
            changes=dict(type='list', elements='str', default=[]),
            force=dict(type='bool', default=False),
        ),
    )
    client.finish(ContainerCommitter)


if __name__ == '__main__':
    main()
