#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_info
short_description: Inspect images, like C(docker images), C(docker inspect) and C(docker history)
version_added: 0.1.0
description:
  - Returns the inspect data of images in the local image store, with Docker's own keys, so
    C(result.images[0].Architecture) is what C(docker inspect -f '{{.Architecture}}' IMAGE) prints.
  - Without O(name), returns every image, like C(docker images), optionally narrowed by O(filters).
  - With O(name), returns those images; a name that matches no image is left out, it is not an error.
  - Never changes anything.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: N/A
  idempotent:
    support: full
options:
  name:
    description:
      - Names (C(repository[:tag]), C(repository@digest)) or IDs of the images to inspect; an ID full, with
        C(sha256:), or abbreviated to a unique prefix as short as the daemon takes it (any length with the classic
        image store, four hex digits with the containerd image store).
      - A name without a tag means its V(latest) tag. A hex name is the repository of that name when it has a
        V(latest) tag, else an ID prefix, as with the docker CLI; a prefix that fits several images is an error.
    type: list
    elements: str
  filters:
    description:
      - Filters as the Engine API takes them for C(docker images --filter), for example
        C(dangling), C(label), C(reference), C(before) and C(since). A list value means any of its values.
      - Only used without O(name).
    type: dict
  history:
    description:
      - Add to each image a C(history) list with its layers, newest first, as C(docker history) shows them.
    type: bool
    default: false
seealso:
  - module: dockyard.docker.image_pull
'''

EXAMPLES = r'''
- name: List every image (docker images)
  dockyard.docker.image_info:
  register: all_images

- name: Inspect one image (docker inspect -f '{{.Architecture}}' busybox:1.36)
  dockyard.docker.image_info:
    name: busybox:1.36
  register: busybox

- name: Print what docker inspect -f would print
  ansible.builtin.debug:
    msg: "{{ busybox.images[0].Architecture }} {{ busybox.images[0].Config.Cmd | join(' ') }}"

- name: Dangling images and images of one repository (docker images --filter)
  dockyard.docker.image_info:
    filters:
      dangling: true
  register: dangling

- name: Images whose reference matches a pattern
  dockyard.docker.image_info:
    filters:
      reference: "registry.example.com/team/*"

- name: Layers of an image (docker history busybox:1.36)
  dockyard.docker.image_info:
    name: busybox:1.36
    history: true
  register: layers

- name: Tell whether an image exists
  ansible.builtin.assert:
    that: busybox.images | length == 1
'''

RETURN = r'''
images:
  description:
    - The inspect data of each image found, with Docker's keys (C(Id), C(RepoTags), C(RepoDigests),
      C(Architecture), C(Os), C(Size), C(Created), C(Config), ...).
    - In the order of O(name) when given, else in the daemon's order (newest first).
  returned: always
  type: list
  elements: dict
  contains:
    history:
      description: The image's layers, newest first, as C(docker history --no-trunc --human=false) shows them.
      returned: when O(history=true)
      type: list
      elements: dict
      contains:
        id:
          description: The ID of the image this layer made, or V(<missing>) for layers pulled from a registry.
          type: str
        created:
          description: When the layer was made, as an RFC 3339 UTC time.
          type: str
          sample: "2026-11-29T06:30:00Z"
        created_by:
          description: The command that made the layer.
          type: str
        size:
          description: The layer's size in bytes.
          type: int
        comment:
          description: The layer's comment, for example the message of C(docker commit).
          type: str
        tags:
          description: Tags pointing at this layer's image.
          type: list
          elements: str
  sample:
    - Id: "sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1"
      RepoTags: ["busybox:1.36"]
      Architecture: amd64
      Os: linux
'''

import time

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_each
from ansible_collections.dockyard.docker.plugins.module_utils._store import ImageStore


def _history_entry(layer):
    return {
        'id': layer.get('Id'),
        'created': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(layer.get('Created') or 0)),
        'created_by': layer.get('CreatedBy') or '',
        'size': layer.get('Size') or 0,
        'comment': layer.get('Comment') or '',
        'tags': layer.get('Tags') or [],
    }


class ImageInspector:
    def __init__(self, client):
        self.client = client
        self.params = client.params

    def _named(self, names):
        store = ImageStore.read(self.client)
        matches = parse_each('name', names, store.resolve)
        return [image for image in (self.client.inspect_image(match.image_id) for match in matches if match) if image]

    def _listed(self):
        summaries = self.client.list_images(filters=self.params['filters'])
        return [image for image in (self.client.inspect_image(summary['Id']) for summary in summaries) if image]

    def run(self):
        names = self.params['name']
        images = self._named(names) if names is not None else self._listed()
        if self.params['history']:
            for image in images:
                image['history'] = [_history_entry(layer) for layer in self.client.image_history(image['Id'])]
        return dict(changed=False, images=images)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str'),
            filters=dict(type='dict'),
            history=dict(type='bool', default=False),
        ),
        mutually_exclusive=[('name', 'filters')],
    )
    client.finish(ImageInspector)


if __name__ == '__main__':
    main()
