#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_load
short_description: Load images from a tar archive, like C(docker load -i FILE)
version_added: 0.1.0
description:
  - Loads the images of an archive written by M(dockyard.docker.image_archive) or C(docker save) into
    the daemon, with the tags the archive gives them, like C(docker load -i FILE).
  - The archive is on the managed host (O(path)), or on the controller (O(src)). The archive may be
    plain or compressed with gzip, bzip2 or xz.
  - Both layouts C(docker save) writes are read, the classic one (C(manifest.json), C(<id>.json),
    C(<layer>/layer.tar); Docker 24 and older) and the OCI one (C(index.json), C(blobs/sha256/...);
    Docker 25 and later).
  - Idempotent. The module reads the archive and asks the daemon for each of its images by the IDs a
    daemon may report it by (its manifest or index digest on the containerd image store, its config
    digest on the classic one). When all images are present with the archive's tags, nothing is loaded
    and the result is C(ok); C(changed) means an image or a tag was added or moved.
  - The archive is checked before the daemon can load any of it. Each manifest, image config and layer
    it names must be in it, each blob must match the digest in its name, and each uncompressed layer the
    digest its image config gives. A file that is missing, not an image archive, cut short or corrupt
    fails with a message saying so, and no image from it is loaded under its tags.
  - An uncompressed archive is checked in the same pass that sends it, and the end of the tar is sent
    only once all of it passed, so the daemon never gets a whole archive that fails the check. A
    compressed one is read and checked whole first.
  - With O(src), the archive is read on the controller and the host is asked which of its images it
    has; the file is sent to the host only when the host lacks one of them or one of their tags, so
    loading the same archive on a whole fleet again transfers nothing.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  action:
    description: Whether part of the work runs on the controller, in an action plugin.
    support: full
    details: The action plugin reads O(src) on the controller and sends it only when needed.
  check_mode:
    details: Reads the archive and predicts what a load would add, without loading or sending anything.
  diff_mode:
    details: Shows the ID, tags and digests of each image of the archive before and after.
options:
  path:
    description:
      - The archive on the managed host.
      - Exactly one of O(path) and O(src) is required.
    type: path
  src:
    description:
      - The archive on the controller. A relative path is looked up like the C(src) of
        M(ansible.builtin.copy), in the role's or play's C(files) directories.
      - It is read on the controller first; a file that is not a whole image archive fails before
        anything is sent. It is copied to a temporary file on the host only when the host lacks an
        image or tag of it, and removed after loading.
      - Exactly one of O(path) and O(src) is required.
    type: path
  disk_check:
    description:
      - Before images are loaded, in check mode too, compare twice the archive's uncompressed size (the copy the
        daemon keeps while it unpacks it, and at least as much unpacked) with the space free in the daemon's data root
        (C(DockerRootDir) of C(docker info)); when it cannot fit, fail with both numbers and load nothing.
      - Only a daemon reached over a unix socket is checked, as only its disks are this host's. With the containerd
        image store the images land in containerd's root, on the data root's filesystem in a default installation.
      - An archive whose images are all present is not loaded, and not checked. With O(src), check mode does not
        check the space (the archive is not on the host yet). V(false) skips the check.
    type: bool
    default: true
    version_added: 0.1.0
notes:
  - The check of the archive reads the whole file once before it is loaded, so a load reads the file
    twice. An archive whose images and tags are all present is read only for its index and metadata (the
    manifests and image configs), and its layers are neither read nor checked.
  - Layers stored compressed in an archive (written by tools other than C(docker save)) are checked
    for presence only; the daemon checks their digests while loading.
  - C(docker load) of a truncated archive can leave the images before the cut behind; checking the
    archive first is what keeps that from happening here.
  - A classic archive (Docker 24 and older) loaded into the containerd image store gets a manifest digest
    made while loading, which the archive cannot tell beforehand; such an archive is loaded again on
    every run.
seealso:
  - module: dockyard.docker.image_archive
  - module: dockyard.docker.image_info
  - module: community.docker.docker_image_load
'''

EXAMPLES = r'''
- name: Load an archive that is on the host (docker load -i /srv/images/app.tar)
  dockyard.docker.image_load:
    path: /srv/images/app.tar

- name: Load an archive from the controller, sent only to hosts that lack its images
  dockyard.docker.image_load:
    src: artifacts/app.tar.gz
  register: loaded

- name: Show whether the archive had to be sent
  ansible.builtin.debug:
    msg: "{{ loaded.image_names | join(', ') }} (archive sent: {{ loaded.transferred }})"
'''

RETURN = r'''
images:
  description:
    - The inspect data, as C(docker image inspect) shows it, of the image each entry of RV(image_names) names, in
      the same order, as community.docker.docker_image_load returns them; an image with two tags is there twice.
    - In check mode, an image not present yet appears as C(Id) and C(RepoTags) from the archive.
  returned: success
  type: list
  elements: dict
  sample: [{"Id": "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1", "RepoTags": ["busybox:1.36"]}]
image_names:
  description: The tags the archive holds, sorted, then the ID of each image it holds without a tag.
  returned: success
  type: list
  elements: str
  sample: ["busybox:1.36", "nginx:1.27"]
stdout:
  description:
    - "What the daemon printed while loading, one line per image name (C(Loaded image: NAME), C(Loaded image ID: ID))."
    - Empty when nothing was loaded because the host had every image and tag of the archive, and in check mode.
  returned: success
  type: str
  sample: "Loaded image: busybox:1.36"
transfer:
  description:
    - What the load moved into the engine, for the whole archive (its images arrive together).
    - Nothing moves when the host has every image and tag of the archive, and in check mode (RV(transfer.bytes) V(0)).
  returned: success
  type: dict
  contains:
    bytes:
      description: The size of the archive sent to the daemon (all of it, also layers the engine had).
      type: int
    layers:
      description: The layers of the archive's images the engine did not have before, by chain ID.
      type: int
    layers_present:
      description:
        - The layers of the archive's images the engine already had (in any image), which the daemon did not store again.
        - When nothing is loaded, those of the images present.
      type: int
    seconds:
      description: How long the daemon took to load the archive.
      type: float
  sample: {"bytes": 2005504, "layers": 1, "layers_present": 1, "seconds": 0.204}
transferred:
  description:
    - Whether the archive in O(src) was sent to the host. V(false) when the host had all its images
      and tags, and in check mode.
  returned: when O(src) is used
  type: bool
  sample: false
actions:
  description: What was done, or in check mode what would be done, in the same words.
  returned: always
  type: list
  elements: str
  sample: ["Loaded busybox:1.36 from /srv/images/busybox.tar"]
'''

import concurrent.futures
import os

from ansible_collections.dockyard.docker.plugins.module_utils._archive import (
    archive_names,
    checked_chunks,
    plan_load,
    read_archive,
    reports_manifest_ids,
)
from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import ABSENT, image_state
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._space import check_load
from ansible_collections.dockyard.docker.plugins.module_utils._transfer import (
    file_transfer,
    layers_before,
    layers_of,
    store_inspects,
    timed,
)


class ImageLoader:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def inspect(self, names):
        """Inspect data of the first of ``names`` the engine has, or None."""
        return next(filter(None, (self.client.inspect_image(name) for name in names)), None)

    def run(self):
        path = self.params['path']
        if self.params['src']:
            raise DockerError('src is read on the controller by the dockyard.docker.image_load action plugin; '
                              'run this module as dockyard.docker.image_load, or give path')
        if not path:
            raise DockerError('one of path or src is required')
        # Its index and metadata tell whether anything is missing; only an archive to load is read whole.
        archive = read_archive(path)
        images = archive.images
        manifest_ids = reports_manifest_ids(self.client.daemon_info())
        present = [self.inspect(image.ids) for image in images]
        outcome, missing, listed = plan_load(images, present, manifest_ids)
        names = archive_names(images, listed)[0]
        log, transfer = '', file_transfer(0, layers_of(present), layers_of(present))
        if missing:
            outcome.note('Loaded %s from %s' % (', '.join(names), path))
        loading = missing and not self.client.check_mode
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            # Reading every image takes seconds on the containerd store: it runs beside the check and the load.
            store = pool.submit(store_inspects, self.client) if loading else None
            plain = archive.compression == 'none'
            if missing and (self.client.check_mode or not plain):
                read_archive(path, verify=True)  # in one pass with the load when the archive is a plain tar
            if missing and self.params['disk_check']:
                check_load(self.client, archive.content_bytes, 'failed to load %s' % path)
            if loading:
                (log, size), started, seconds = timed(self._load, path, plain)
                listed = self.loaded(path, images, outcome)
                added = set(inspect['Id'] for inspect in listed) - set(inspect['Id'] for inspect in present if inspect)
                transfer = file_transfer(size, layers_of(listed), layers_before(store.result(), added),
                                         seconds, started)
        return outcome.result(self.client.diff_mode, images=archive_names(images, listed)[1], image_names=names,
                              stdout=log, transfer=transfer.as_dict())

    def loaded(self, path, images, outcome):
        """Inspect data of ``images`` after the load, recorded in ``outcome``; an error for one not loaded as named."""
        # By tag too: a classic archive loaded into the containerd store gets a manifest digest of its own.
        present = [self.inspect(image.ids + image.tags[:1]) for image in images]
        for image, inspect in zip(images, present):
            if not inspect or not set(image.tags) <= set(inspect.get('RepoTags') or []):
                raise DockerError('failed to load %s: the daemon did not load image %s with tags %s'
                                  % (path, image.ids[0], ', '.join(image.tags) or 'none'))
            outcome.record(inspect['Id'], outcome.before.get(inspect['Id'], ABSENT), image_state(inspect))
        return present

    def _load(self, path, plain):
        try:
            with open(path, 'rb') as handle:
                size = os.fstat(handle.fileno()).st_size
                return self.client.load_images(checked_chunks(path) if plain else handle, path).log, size
        except OSError as exc:
            raise DockerError('failed to load %s: %s' % (path, exc.strerror or exc))
        except DockerError:
            if plain:
                read_archive(path, verify=True)  # what is wrong with the archive, rather than how its upload broke
            raise


def main():
    client = DockerImageClient(
        argument_spec=dict(
            path=dict(type='path'),
            src=dict(type='path'),
            disk_check=dict(type='bool', default=True),
        ),
        mutually_exclusive=[('path', 'src')],
    )
    client.finish(ImageLoader)


if __name__ == '__main__':
    main()
