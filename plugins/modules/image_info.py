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
  diff_mode:
    support: N/A
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
      - Only with O(view=inspect) and without O(fields).
    type: bool
    default: false
  view:
    description:
      - V(inspect) returns each image's whole inspect data, as C(docker image inspect) prints it.
      - V(list) returns the rows of C(docker images) instead, one per tag (one C(<none>) row for an untagged
        image), with a few keys each; it reads only the image list, which is quicker on a host with many images.
    type: str
    choices: [inspect, list]
    default: inspect
  fields:
    description:
      - Return only these fields of the inspect data, like C(docker inspect -f). Each is a dotted path, as
        V(Config.Labels) (or V(.Config.Labels)) for what C(docker inspect -f) reads as C(.Config.Labels).
      - A field an image lacks is V(null) (C(<no value>) in the CLI).
      - Only with O(view=inspect).
    type: list
    elements: str
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

- name: The docker images view, one row per tag (docker images)
  dockyard.docker.image_info:
    view: list
  register: listing

- name: Only the labels and architecture of an image (docker inspect -f '{{.Config.Labels}} {{.Architecture}}')
  dockyard.docker.image_info:
    name: busybox:1.36
    fields: [Config.Labels, Architecture]
  register: picked

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
    - With O(fields), only those fields, keyed by their dotted paths (C(Config.Labels)).
    - With O(view=list), the rows of C(docker images) instead (see below).
    - In the order of O(name) when given, else in the daemon's order (newest first).
  returned: always
  type: list
  elements: dict
  contains:
    repository:
      description: The repository of the row's tag, or V(<none>).
      returned: when O(view=list)
      type: str
    tag:
      description: The row's tag, or V(<none>).
      returned: when O(view=list)
      type: str
    id:
      description: The image ID, abbreviated to 12 hex digits as C(docker images) shows it.
      returned: when O(view=list)
      type: str
    created:
      description: When the image was made, as an RFC 3339 UTC time.
      returned: when O(view=list)
      type: str
    size:
      description: The image's size in the docker CLI's units (powers of 1000), as V(3.08MB).
      returned: when O(view=list)
      type: str
    size_bytes:
      description: The image's size in bytes.
      returned: when O(view=list)
      type: int
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

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_each
from ansible_collections.dockyard.docker.plugins.module_utils._store import ImageStore
from ansible_collections.dockyard.docker.plugins.module_utils._views import (
    field_paths, listing_rows, pick_fields, rfc3339)


def _history_entry(layer):
    return {
        'id': layer.get('Id'),
        'created': rfc3339(layer.get('Created')),
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
        return [image for image in self.client.inspect_images(match.image_id for match in matches if match) if image]

    def _listed(self):
        summaries = self.client.list_images(filters=self.params['filters'])
        return [image for image in self.client.inspect_images(summary['Id'] for summary in summaries) if image]

    def run(self):
        names, fields = self.params['name'], self.params['fields']
        if self.params['view'] == 'list':
            if fields is not None or self.params['history'] or names is not None:
                raise DockerError('view=list shows the image list as docker images does; name, fields and history '
                                  'need view=inspect')
            return dict(changed=False, images=listing_rows(self.client.list_images(filters=self.params['filters'])))
        if fields is not None and self.params['history']:
            raise DockerError('history adds to the whole inspect data; leave out fields to get it')
        paths = None if fields is None else field_paths(fields)
        images = self._named(names) if names is not None else self._listed()
        if self.params['history']:
            for image in images:
                image['history'] = [_history_entry(layer) for layer in self.client.image_history(image['Id'])]
        if paths is not None:
            images = [pick_fields(image, paths) for image in images]
        return dict(changed=False, images=images)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            name=dict(type='list', elements='str'),
            filters=dict(type='dict'),
            history=dict(type='bool', default=False),
            view=dict(type='str', choices=['inspect', 'list'], default='inspect'),
            fields=dict(type='list', elements='str'),
        ),
        mutually_exclusive=[('name', 'filters')],
    )
    client.finish(ImageInspector)


if __name__ == '__main__':
    main()
