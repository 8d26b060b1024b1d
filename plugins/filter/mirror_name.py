# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

DOCUMENTATION = r'''
name: mirror_name
short_description: The name an image has in a mirror registry
version_added: 0.1.0
description:
  - Gives the name an image is pushed under when it is copied to another registry (as the role
    dockyard.docker.mirror copies it), made of the mirror's host, its optional path prefix, the image's
    repository path and its tag.
  - The repository path keeps Docker Hub's C(library/) (C(busybox) becomes C(HOST/library/busybox)), as
    a pull-through mirror of Docker Hub serves it, so hosts whose daemon lists the mirror in
    C(registry-mirrors) find the same images there.
  - The source's own registry is dropped, so two registries' C(team/api:1) meet under one name.
  - A name with a tag and a digest keeps its tag; a name with a digest alone is an error, since only a
    tag can be pushed.
positional: registry
options:
  _input:
    description: The image name, C([registry/]repository[:tag][@digest]); without a tag, C(latest).
    type: str
    required: true
  registry:
    description: The mirror, C(host[:port][/prefix]).
    type: str
    required: true
author:
  - dockyard.docker contributors
'''

EXAMPLES = r'''
- name: Where busybox:1.36 lands in the site's mirror
  ansible.builtin.debug:
    msg: "{{ 'busybox:1.36' | dockyard.docker.mirror_name('registry.site.example:5000/hub') }}"
  # registry.site.example:5000/hub/library/busybox:1.36

- name: A name of another registry keeps its path
  ansible.builtin.debug:
    msg: "{{ 'ghcr.io/team/api:2.1' | dockyard.docker.mirror_name('registry.site.example') }}"
  # registry.site.example/team/api:2.1
'''

RETURN = r'''
_value:
  description: The image's name in the mirror, C(host[:port][/prefix]/path:tag).
  type: str
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import mirror_reference


def mirror_name(name, registry):
    try:
        return str(mirror_reference(name, registry))
    except DockerError as exc:
        raise AnsibleFilterError('mirror_name: %s' % exc)


class FilterModule:
    def filters(self):
        return {'mirror_name': mirror_name}
