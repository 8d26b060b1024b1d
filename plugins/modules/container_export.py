#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: container_export
short_description: Write a container's filesystem to a tar file, like C(docker export CONTAINER > FILE)
version_added: 0.2.0
description:
  - Writes the filesystem of a container, running or stopped, as a tar file on the managed host, like
    C(docker export CONTAINER > FILE). This is a container's files, not an image; to archive images use
    M(dockyard.docker.image_archive).
  - The export streams into a temporary file beside O(path), which is flushed to disk and renamed into place,
    so a failed export never leaves a partial file and never harms the previous one.
  - The export of an unchanged container is the same byte for byte, so when the file at O(path) already holds
    exactly what the container exports, the file is left untouched (its modification time too) and the task is
    C(ok).
  - A new file is created with mode C(0600), as the export may hold secrets of the container; O(mode),
    O(owner) and O(group) set other attributes, as M(ansible.builtin.copy) does.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - Reads the container's export and compares its sha256 with the file's, without writing, so the prediction
        is exact.
  diff_mode:
    support: full
    details: Shows whether the file exists, its size and its sha256, before and after.
  idempotent:
    support: full
    details: While the container's file system is unchanged.
options:
  container:
    description:
      - The container to export, by name or ID (full or abbreviated).
    type: str
    required: true
  path:
    description:
      - The tar file to write on the managed host. Its directory must exist.
    type: path
    required: true
seealso:
  - module: dockyard.docker.image_archive
  - module: dockyard.docker.image_import
'''

EXAMPLES = r'''
- name: Export a container's filesystem (docker export web > /backup/web.tar)
  dockyard.docker.container_export:
    container: web
    path: /backup/web.tar

- name: Export it readable by a backup group
  dockyard.docker.container_export:
    container: web
    path: /backup/web.tar
    mode: "0640"
    group: backup

- name: Turn the export into an image again (cat web.tar | docker import - web-files:1)
  dockyard.docker.image_import:
    path: /backup/web.tar
    repository: web-files:1
'''

RETURN = r'''
container:
  description: The full ID of the exported container.
  returned: success
  type: str
  sample: 0f6b2b7e0d5c9a4b0e4c6a1d3f8e2b7c9d1a5e3f7b2c4d6e8f0a1b3c5d7e9f1a
path:
  description: The file written, as given in O(path).
  returned: success
  type: str
  sample: /backup/web.tar
size:
  description: The size of the export in bytes (in check mode, of the export a real run would write).
  returned: success
  type: int
  sample: 1468416
sha256:
  description: The sha256 of the export (in check mode, of the export a real run would write).
  returned: success
  type: str
  sample: 6c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b
actions:
  description: What was done, or in check mode what would be done.
  returned: always
  type: list
  elements: str
  sample: ["Exported container web to /backup/web.tar"]
'''

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._files import stream_digest, target_state, write_atomically


class ContainerExporter:
    def __init__(self, client):
        self.client = client
        self.module = client.module
        self.params = client.params
        self.path = self.params['path']

    def container_id(self):
        name = self.params['container']
        if not name:
            raise DockerError('container must name a container; it is empty')
        container = self.client.inspect_container(name)
        if container is None:
            raise DockerError('failed to export container %s: no such container' % name)
        return container['Id']

    def run(self):
        container_id = self.container_id()
        action = 'failed to write the export of container %s to %s' % (self.params['container'], self.path)
        before = target_state(self.path, action)
        chunks = self.client.export_container(container_id)
        if self.client.check_mode:
            size, sha256 = stream_digest(chunks)
        else:
            size, sha256 = write_atomically(self.path, chunks, action, keep_same=True)
        outcome = Outcome()
        outcome.record(self.path, before, {'exists': True, 'size': size, 'sha256': sha256})
        if outcome.changed:
            verb = 'Would export' if self.client.check_mode else 'Exported'
            outcome.note('%s container %s to %s' % (verb, self.params['container'], self.path))
        if before['exists'] or not self.client.check_mode:
            attributes = {'before': {}, 'after': {}}
            file_args = self.module.load_file_common_arguments(self.params, path=self.path)
            if self.module.set_fs_attributes_if_different(file_args, False, diff=attributes):
                outcome.before[self.path].update(attributes['before'])
                outcome.after[self.path].update(attributes['after'])
                outcome.note('%s the attributes of %s' % ('Would set' if self.client.check_mode else 'Set', self.path))
        return outcome.result(self.client.diff_mode, container=container_id, path=self.path, size=size,
                              sha256=sha256)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            container=dict(type='str', required=True),
            path=dict(type='path', required=True),
        ),
        add_file_common_args=True,
    )
    client.finish(ContainerExporter)


if __name__ == '__main__':
    main()
