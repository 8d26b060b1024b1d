#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_archive
short_description: Write images into a tar archive, like C(docker save -o FILE IMAGE...)
version_added: 0.1.0
description:
  - Writes one image or many, with their tags, into a tar archive on the managed host, like
    C(docker save -o FILE IMAGE...). M(dockyard.docker.image_load) or C(docker load) reads it back.
  - The archive has the layout the daemon writes, C(docker save)'s own. Docker 24 and older write the
    classic one (C(manifest.json), C(<id>.json), C(<layer>/layer.tar)); Docker 25 and later the OCI one
    (C(index.json), C(blobs/sha256/...), with a C(manifest.json) beside it).
  - Idempotent without exporting again. When O(path) exists, the module reads it (either layout) and
    compares the images and tags in it with the images the names resolve to now, by the ID the daemon
    reports for them, its config digest on the classic image store, its manifest or index digest on the
    containerd image store. When they are the same, and the file is compressed as O(compression) asks,
    the result is C(ok) and the file is not touched, not even its modification time.
  - The archive is streamed from the daemon to disk, so memory use stays flat whatever the size of
    the images. It is written to a temporary file in the directory of O(path), flushed to disk, read
    back and checked (every blob and layer against its digest, every image and tag asked for present),
    and only then renamed into place. A new file is created with mode C(0600), as C(docker save -o)
    creates it; a file replaced keeps its mode. A write that fails (full filesystem, permission denied, the daemon gone
    mid-stream) leaves the previous archive as it was and no partial file behind, and the failure
    names its cause.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    details: Reads the existing archive and the images, and predicts whether the file would be written.
  diff_mode:
    details: Shows the image IDs and tags in the file, and its compression, before and after.
  idempotent:
    details: Unless O(force=true).
options:
  names:
    description:
      - The images to archive, each C([registry/]repository[:tag]), C(repository@digest) or an image ID.
      - A name without a tag or digest gets O(tag). An image ID, or a name with a digest, adds the
        image to the archive without a tag.
      - Every name must exist on the host.
    type: list
    elements: str
    required: true
    aliases: [name]
  tag:
    description:
      - The tag for names that carry no tag or digest. A tag in the name wins over this option.
    type: str
    default: latest
  path:
    description:
      - The archive to write on the managed host. Its directory must exist.
    type: path
    required: true
  force:
    description:
      - Write the archive even when the one at O(path) already holds the same images and tags.
    type: bool
    default: false
  platform:
    description:
      - Archive only this platform of multi-platform images, C(os[/arch[/variant]]), for example
        V(linux/amd64). Needs Docker API 1.48 or later (Docker Engine 28 with the containerd image store).
    type: str
  compression:
    description:
      - V(none) writes the tar as the daemon sends it; V(gzip) compresses it while writing.
      - A file compressed otherwise than asked is written again.
    type: str
    choices: [none, gzip]
    default: none
  disk_check:
    description:
      - Before the daemon is asked for the archive, compare the size of the images (their C(Size), each image
        once) with the space free in the directory of O(path), and fail, writing nothing, when it cannot fit;
        in check mode too. The message gives both numbers.
      - The images' size is what an uncompressed archive takes at most; a compressed one (O(compression=gzip)),
        or one of the containerd image store (which exports the compressed layers), is smaller, so a file that
        would just fit may be refused. V(false) skips the check.
      - An archive already up to date is not written, and not checked.
    type: bool
    default: true
    version_added: 0.1.0
notes:
  - Writing through a temporary file needs free space for a second copy of the archive in the
    directory of O(path) while the previous one is still there.
  - The check that an existing archive is up to date reads the whole file once (to return
    RV(sha256)), but never asks the daemon to export anything.
seealso:
  - module: dockyard.docker.image_load
  - module: dockyard.docker.image_info
  - module: community.docker.docker_image_export
'''

EXAMPLES = r'''
- name: Archive two images into one file (docker save -o /srv/images/app.tar ...)
  dockyard.docker.image_archive:
    names:
      - registry.example.com/team/api:2.1
      - registry.example.com/team/web:2.1
    path: /srv/images/app.tar

- name: Archive an image compressed with gzip, and keep its checksum
  dockyard.docker.image_archive:
    name: busybox
    tag: "1.36"
    path: /srv/images/busybox.tar.gz
    compression: gzip
  register: archive

- name: Copy the archive to the controller and check it arrived whole
  ansible.builtin.fetch:
    src: "{{ archive.path }}"
    dest: artifacts/
    checksum: "{{ archive.sha256 }}"

- name: Always export, even when the archive looks current
  dockyard.docker.image_archive:
    names: [nginx:1.27]
    path: /srv/images/nginx.tar
    force: true
'''

RETURN = r'''
images:
  description:
    - The inspect data of the image each of O(names) names, in the order of O(names), as C(docker image inspect)
      shows it and community.docker.docker_image_export returns it.
  returned: always
  type: list
  elements: dict
  sample: [{"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["busybox:1.36"]}]
archived:
  description:
    - The images in the archive, one entry per image ID, with the tags the archive gives it.
    - In check mode, what the archive would hold.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The image ID, as the daemon reports it (on the containerd image store, the manifest or index digest).
      type: str
      sample: sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1
    tags:
      description: The tags the archive gives the image; empty for an image archived by ID or digest.
      type: list
      elements: str
      sample: ["busybox:1.36"]
path:
  description: The path of the archive.
  returned: always
  type: str
  sample: /srv/images/app.tar
size:
  description:
    - The size of the archive in bytes.
    - In check mode, that of the file as it is now.
  returned: when the archive exists after the run (in check mode, when it exists already)
  type: int
  sample: 4526080
transfer:
  description:
    - What the run wrote, for the whole archive (its images are written together).
    - Nothing is written when the file already holds the images and tags (RV(transfer.bytes) V(0), their layers in
      RV(transfer.layers_present)), and in check mode (all V(0)).
  returned: always
  type: dict
  contains:
    bytes:
      description: The size of the file written (compressed, with O(compression=gzip)), as RV(size).
      type: int
    layers:
      description: The layers of the images written, each once (by chain ID), as C(docker save) writes them.
      type: int
    layers_present:
      description: The layers already in the archive when nothing is written; else V(0).
      type: int
    seconds:
      description: How long saving and writing the archive took.
      type: float
  sample: {"bytes": 4526080, "layers": 2, "layers_present": 0, "seconds": 0.731}
sha256:
  description:
    - The SHA-256 of the archive file, as C(sha256sum) prints it.
    - In check mode, that of the file as it is now.
    - The module records it in the file's extended attribute C(user.dockyard.sha256) when it writes the file, with
      the file's size and modification time; while those are unchanged, a later run takes it from there instead of
      reading the whole file again. A file without that record (written by another tool, or on a file system
      without user extended attributes) is read.
  returned: when the archive exists after the run (in check mode, when it exists already)
  type: str
  sample: 9f1c6b2e0a3e6a0f5e1d3c5b7a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f10
actions:
  description: What was done, or in check mode what would be done, in the same words.
  returned: always
  type: list
  elements: str
  sample: ["Archived busybox:1.36 into /srv/images/busybox.tar"]
'''

import os

from ansible_collections.dockyard.docker.plugins.module_utils._archive import (
    detect_compression,
    read_archive,
    reports_manifest_ids,
)
from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import ABSENT, Outcome
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._files import (
    check_space, check_writable, file_digest, write_atomically)
from ansible_collections.dockyard.docker.plugins.module_utils._store import ImageStore, shown_name
from ansible_collections.dockyard.docker.plugins.module_utils._transfer import Transfer, file_transfer, layers_of, timed


class ImageArchiver:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.path = self.params['path']
        self.action = 'failed to write image archive %s' % self.path

    def _resolve(self, store, name):
        """``(name to save, image ID, tag or None)`` for one item of ``names``, resolved as the daemon does."""
        match = store.resolve(name, self.params['tag'])
        if match is None:
            return shown_name(name, self.params['tag'], None), None, None
        if match.by_id:
            return match.image_id, match.image_id, None
        return match.reference, match.image_id, None if '@' in match.reference else match.reference

    def wanted(self):
        """``(names to save, [{id, tags}] sorted by ID, the image ID of each name)``: what the archive must hold."""
        names = self.params['names']
        if not names:
            raise DockerError('names must hold at least one image')
        save, images, ids, store = [], {}, [], ImageStore.read(self.client, names=names)
        for index, name in enumerate(names):
            where = 'names[%d]: ' % index if len(names) > 1 else ''
            try:
                saved, image_id, tag = self._resolve(store, name)
            except DockerError as exc:
                raise DockerError(where + str(exc))
            if image_id is None:
                raise DockerError('%sno image %s on the host to archive' % (where, saved))
            save.append(saved)
            ids.append(image_id)
            images.setdefault(image_id, set()).update([tag] if tag else [])
        state = sorted(({'id': image_id, 'tags': sorted(tags)} for image_id, tags in images.items()),
                       key=lambda item: item['id'])
        return save, state, ids

    def current(self, wanted):
        """The state of the file at ``path`` now, its images named as the engine names them; unreadable is unlike any."""
        check_writable(self.path, self.action)
        if not os.path.exists(self.path):
            return ABSENT
        try:
            archive = read_archive(self.path)
        except DockerError as exc:
            return {'exists': True, 'compression': detect_compression(self.path), 'images': [], 'unreadable': str(exc)}
        known = [item['id'] for item in wanted]
        # Only an image the engine does not name now needs the store's ID form, from docker info.
        manifest_ids = not archive.knows_all(known) and reports_manifest_ids(self.client.daemon_info())
        return {'exists': True, 'compression': archive.compression, 'images': archive.state(known, manifest_ids)}

    def _check_written(self, wanted):
        def check(temp):
            try:
                written = read_archive(temp, verify=True)
            except DockerError as exc:
                raise DockerError('failed to save %s: the archive the daemon sent %s'
                                  % (', '.join(self.params['names']), str(exc).replace(temp + ' ', '', 1)))
            for item in wanted:
                image = written.find(item['id'])
                if image is None or not set(item['tags']) <= set(image.tags):
                    raise DockerError('failed to save %s: the archive the daemon sent lacks image %s (tags %s)'
                                      % (', '.join(self.params['names']), item['id'], ', '.join(item['tags']) or 'none'))
        return check

    def run(self):
        save, images, ids = self.wanted()
        compression = self.params['compression']
        outcome = Outcome()
        outcome.record(self.path, self.current(images), {'exists': True, 'compression': compression, 'images': images})
        if self.params['force']:
            outcome.mark_rewritten()
        result = dict(archived=images, path=self.path, images=[self.client.inspect_image(image_id) for image_id in ids])
        layers = layers_of(result['images'])
        transfer = Transfer() if outcome.changed else file_transfer(0, layers, layers)
        if outcome.changed:
            if self.params['disk_check']:
                sizes = dict((image['Id'], image.get('Size') or 0) for image in result['images'])
                # Written beside the path and renamed over it: the old file keeps its space until then.
                check_space(os.path.dirname(os.path.abspath(self.path)), sum(sizes.values()), self.action)
            outcome.note('Archived %s into %s' % (', '.join(save), self.path))
            if not self.client.check_mode:
                chunks = self.client.save_images(save, platform=self.params['platform'])
                (result['size'], result['sha256']), started, seconds = timed(
                    write_atomically, self.path, chunks, self.action, compression, check=self._check_written(images))
                transfer = file_transfer(result['size'], layers, (), seconds, started)
        if 'size' not in result and outcome.before[self.path].get('exists'):
            result['size'], result['sha256'] = file_digest(self.path)
        return outcome.result(self.client.diff_mode, transfer=transfer.as_dict(), **result)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            names=dict(type='list', elements='str', required=True, aliases=['name']),
            tag=dict(type='str', default='latest'),
            path=dict(type='path', required=True),
            force=dict(type='bool', default=False),
            platform=dict(type='str'),
            compression=dict(type='str', choices=['none', 'gzip'], default='none'),
            disk_check=dict(type='bool', default=True),
        ),
        option_minimal_versions=dict(platform='1.48'),
    )
    client.finish(ImageArchiver)


if __name__ == '__main__':
    main()
