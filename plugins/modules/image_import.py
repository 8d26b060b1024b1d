#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_import
short_description: Create an image from a tar of a root file system, like C(docker import)
version_added: 0.1.0
description:
  - Creates a one-layer image from a tar of a root file system and tags it O(repository):O(tag), like
    C(docker import [-c CHANGE] [-m MESSAGE] SOURCE REPOSITORY:TAG).
  - The tar is a file on the managed host, a URL the daemon downloads, or the file system of a container
    (C(docker export CONTAINER | docker import - REPOSITORY:TAG)), streamed from the export into the import
    without being stored.
  - The layer of an imported image is identified by its DiffID, the sha256 of the uncompressed tar. Before
    importing, the module reads the source once, checks that it is a tar and computes that sha256. When
    O(repository):O(tag) already holds a one-layer image with that DiffID, the same O(changes), the same
    O(comment) and the same O(platform), nothing is imported and the result is C(ok).
  - A source that does not exist, cannot be read or is not a complete tar fails before anything is sent to
    the daemon, so no image is created from it.
notes:
  - That an imported layer's DiffID is the sha256 of the uncompressed tar the daemon receives, byte for byte,
    was checked with Docker 20.10 and 26.1, for plain, gzip, bzip2 and xz tars, URLs and container exports.
    Docker 26.1 also takes zstd, which Docker 20.10 and this module do not.
  - An export of a container whose files did not change has the same sha256 each time. Rewriting a file,
    even with the same content, changes its modification time and so the export, and the next run imports.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
  - dockyard.docker._docker.new_image
attributes:
  check_mode:
    details: Reads and hashes the source and compares it with the existing image without importing.
  diff_mode:
    details: Shows the ID, tags and digests of the image O(repository):O(tag) names, before and after.
  idempotent:
    details:
      - Compares the uncompressed content of the source with the layer of the existing image, so every run
        reads the whole source once, and a URL is downloaded by the module (see O(src)).
options:
  src:
    description:
      - Where the root file system comes from, in one of three forms.
      - A path on the managed host to a tar, uncompressed or compressed with gzip, bzip2 or xz. The daemon
        receives the file as it is and decompresses it; the module hashes the decompressed content, which
        is what the daemon's DiffID is computed from. Files compressed with zstd are refused, because the
        module cannot read them.
      - An C(http://) or C(https://) URL of such a tar. The daemon downloads it for the import, but to
        decide whether an import is needed, the module first downloads it itself on the managed host,
        hashing it as it arrives and storing nothing. So the URL must be reachable from the managed host
        too, and it is downloaded twice when an import happens. O(timeout) limits each read.
      - C(container:NAME), the name or ID of a container, running or stopped. Its file system is exported
        once to be hashed and, when an import is needed, exported again into the import; a running
        container whose files change between the two reads is imported as the second read found it.
    type: str
    required: true
  changes:
    description:
      - Dockerfile instructions to apply to the image's configuration, like C(docker import --change).
      - An import accepts V(CMD), V(ENTRYPOINT), V(ENV), V(EXPOSE), V(LABEL), V(ONBUILD), V(USER), V(VOLUME)
        and V(WORKDIR). Other instructions and empty lines are rejected with the index of the line; the
        daemon checks the arguments.
      - For idempotence the lines are compared as written, not as the daemon interprets them. They and
        O(platform) are recorded as a sha256 in the label C(dockyard.docker.import.changes) of the image,
        which the module adds whenever either is given.
    type: list
    elements: str
    default: []
  comment:
    description:
      - The import message, as C(docker import --message) records it in the image's C(Comment)
        (C(docker inspect -f '{{.Comment}}')). Without it the daemon writes C(Imported from -), or
        C(Imported from URL) for a URL.
      - Named after that field because Ansible keeps the option name C(message) for itself.
    type: str
  platform:
    description:
      - The platform to record in the image, C(os[/arch[/variant]]), for example V(linux/arm64), as
        C(docker import --platform) takes it. Docker 20.10 records only the operating system and keeps
        the daemon's architecture.
    type: str
seealso:
  - module: dockyard.docker.image_commit
  - module: dockyard.docker.image_load
  - module: dockyard.docker.image_info
  - name: docker import
    description: The Docker CLI command this module mirrors.
    link: https://docs.docker.com/reference/cli/docker/image/import/
'''

EXAMPLES = r'''
- name: Import a root file system (cat rootfs.tar | docker import - base/rootfs:2026.11)
  dockyard.docker.image_import:
    src: /srv/images/rootfs.tar
    repository: base/rootfs
    tag: "2026.11"

- name: Import a compressed tar with a default command and environment
  dockyard.docker.image_import:
    src: /srv/images/appliance.tar.xz
    repository: registry.example.com/team/appliance
    tag: "3.2"
    comment: appliance build 3.2
    changes:
      - ENV MODE=production
      - CMD ["/bin/sh"]
      - WORKDIR /srv

- name: Import a tar the daemon downloads
  dockyard.docker.image_import:
    src: https://downloads.example.com/rootfs/alpine-minirootfs.tar.gz
    repository: minirootfs

- name: Flatten a container into a one-layer image (docker export app | docker import - app-flat)
  dockyard.docker.image_import:
    src: container:app
    repository: app-flat
    changes:
      - ENTRYPOINT ["/usr/local/bin/app"]
'''

RETURN = r'''
image:
  description:
    - The inspect data of the imported image, as C(docker image inspect) shows it; the existing image when
      nothing was imported.
    - Empty in check mode when an import would happen.
  returned: always
  type: dict
  sample: {"Id": "sha256:04715bd5d606831296f0594b1746c9c5a60ed84633bfa49ca95da9d75d3c49a3",
           "RepoTags": ["base/rootfs:2026.11"], "Comment": "Imported from -",
           "RootFS": {"Type": "layers",
                      "Layers": ["sha256:8e2d2934ac7b48f0d29339530bac1ccab8f53a6c600f92cdf861f3c6870897a5"]}}
diff_id:
  description: The DiffID of the source, C(sha256:) and the sha256 of its uncompressed tar.
  returned: always
  type: str
  sample: sha256:8e2d2934ac7b48f0d29339530bac1ccab8f53a6c600f92cdf861f3c6870897a5
actions:
  description: What was done, or in check mode what would be done.
  returned: always
  type: list
  elements: str
  sample: ["Imported /srv/images/rootfs.tar as base/rootfs:2026.11"]
'''

import hashlib
import json

from ansible_collections.dockyard.docker.plugins.module_utils._changes import parse_changes, target_reference
from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._rootfs import RootfsSource

CHANGES_LABEL = 'dockyard.docker.import.changes'
CONFIG_FIELDS = ('Cmd', 'Entrypoint', 'Env', 'ExposedPorts', 'Labels', 'OnBuild', 'User', 'Volumes', 'WorkingDir')


class ImageImporter:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.changes = [line.strip() for line in self.params['changes'] or []]
        self.src = self.params['src']

    def record(self):
        """The label value recording ``changes`` and ``platform``, or None when neither is given."""
        if not self.changes and not self.params['platform']:
            return None
        text = json.dumps({'changes': self.changes, 'platform': self.params['platform']}, sort_keys=True)
        return 'sha256:' + hashlib.sha256(text.encode('utf-8')).hexdigest()

    def comment(self):
        return self.params['comment'] or 'Imported from %s' % (self.src if self.source.kind == 'url' else '-')

    def same_image(self, existing, diff_id):
        """Whether ``existing`` is what this task would import."""
        if not existing or ((existing.get('RootFS') or {}).get('Layers') or []) != [diff_id]:
            return False
        if (existing.get('Comment') or '') != self.comment():
            return False
        config = existing.get('Config') or {}
        labels = dict(config.get('Labels') or {})
        record = labels.pop(CHANGES_LABEL, None)
        if record != self.record():
            return False
        if record is None:
            return not any(labels if field == 'Labels' else config.get(field) for field in CONFIG_FIELDS)
        return True

    def failed_import(self, reference, existing, error):
        """``error``, once the tag is where it was before the import.

        The containerd image store tags an import before it unpacks its layer, so a layer it cannot
        unpack (a hard link to a file the tar lacks) leaves the tag on an image no container starts
        from, which a second run would take as imported. That tag is removed, or moved back.
        """
        left = self.client.inspect_image(str(reference))
        if not left or (existing and left['Id'] == existing['Id']):
            return error
        self.client.remove_image(str(reference))
        if existing:
            self.client.tag(existing['Id'], reference.repository, reference.tag)
            return DockerError('%s; %s points to %s again' % (error, reference, existing['Id']))
        return DockerError('%s; the daemon tagged the image it could not unpack as %s, the tag is removed'
                           % (error, reference))

    def run(self):
        reference = target_reference(self.params['repository'], self.params['tag'])
        parse_changes(self.changes, 'an import')
        self.source = RootfsSource(self.src, self.params['timeout'])
        action = 'failed to import %s as %s' % (self.src, reference)
        diff_id = self.source.diff_id(self.client, action)
        existing = self.client.inspect_image(str(reference))
        outcome = Outcome()
        if self.same_image(existing, diff_id):
            outcome.record(str(reference), image_state(existing), image_state(existing))
            return outcome.result(self.client.diff_mode, image=existing, diff_id=diff_id)
        if self.client.check_mode:
            image = {}
            after = {'exists': True, 'id': None, 'tags': [str(reference)], 'digests': []}
            outcome.note('Would import %s as %s' % (self.src, reference))
        else:
            changes = self.changes + (['LABEL %s=%s' % (CHANGES_LABEL, self.record())] if self.record() else [])
            try:
                self.source.import_as(self.client, reference, action, changes=changes,
                                      message=self.params['comment'], platform=self.params['platform'])
            except DockerError as exc:
                raise self.failed_import(reference, existing, exc)
            image = self.client.inspect_image(str(reference)) or {}
            after = image_state(image)
            outcome.note('Imported %s as %s' % (self.src, reference))
        outcome.record(str(reference), image_state(existing), after)
        return outcome.result(self.client.diff_mode, image=image, diff_id=diff_id)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            src=dict(type='str', required=True),
            repository=dict(type='str', required=True),
            tag=dict(type='str', default='latest'),
            changes=dict(type='list', elements='str', default=[]),
            comment=dict(type='str'),
            platform=dict(type='str'),
        ),
        option_minimal_versions=dict(platform='1.32'),
    )
    client.finish(ImageImporter)


if __name__ == '__main__':
    main()
