#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: image_search
short_description: Search a registry for repositories, like C(docker search)
version_added: 0.1.0
description:
  - Without O(registry), asks the Docker daemon to search, exactly like C(docker search TERM); the
    daemon queries the search API (C(GET /v1/search)) of Docker Hub, or of the registry named at
    the start of O(term) (C(registry.example.com/TERM) searches V(TERM) on V(registry.example.com)).
    O(limit) and O(filters) are passed to the daemon.
  - Registries that speak only the v2 API (the CNCF distribution registry, Harbor, GitLab, ...) have
    no search API; a O(term) that names one fails and says so. With O(registry), the module reads that registry's catalog (C(GET /v2/_catalog),
    all pages) itself and keeps the repositories whose name contains O(term); O(list_tags) adds each
    one's tags (C(GET /v2/NAME/tags/list)).
  - Credentials come from O(registry_auth), else from what C(docker login) stored in the docker
    config (C(auths), or the credential helper it names).
  - Never changes anything.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
  - dockyard.docker._docker.retry
attributes:
  check_mode:
    details: Searches in check mode too; nothing is changed either way.
  diff_mode:
    support: N/A
options:
  term:
    description:
      - What to look for. Without O(registry), the daemon's search term, optionally prefixed with the
        registry to search (V(127.0.0.1:5000/busybox)).
      - With O(registry), the part of a repository name to look for, case-insensitively; an empty
        term keeps every repository.
    type: str
    required: true
  limit:
    description:
      - At most this many results. The daemon accepts V(1) to V(100).
    type: int
    default: 25
  filters:
    description:
      - Filters as the daemon's search endpoint takes them (C(docker search --filter)). Only without O(registry).
      - V(stars) (an integer) keeps repositories with at least that many stars.
      - V(is-official) (a boolean) keeps only official or only unofficial repositories.
      - V(is-automated) (a boolean) keeps only automated or only not automated repositories; Docker
        Engine 25 and later ignore it, Docker Hub no longer has automated builds.
      - The daemon applies them to the O(limit) results the registry returned.
    type: dict
  registry:
    description:
      - Read the catalog of this registry instead of asking the daemon to search, as V(host[:port])
        (HTTPS) or as a URL with its scheme (V(http://127.0.0.1:5000) for a registry without TLS).
      - The module talks to the registry itself, with O(registry_validate_certs) and O(registry_ca_path).
      - A V(host[:port]) the daemon counts as insecure (on C(127.0.0.0/8) or C(::1), or listed in its
        C(insecure-registries), as C(docker info) shows) falls back to plain HTTP when it does not speak
        TLS, as the daemon does, so V(127.0.0.1:5000) works as it does for C(docker push). A certificate
        it does present is checked as O(registry_validate_certs) says.
    type: str
  list_tags:
    description:
      - Add the tags of each repository found in O(registry)'s catalog. Needs O(registry).
    type: bool
    default: false
  registry_auth:
    description:
      - Credentials for the registry searched, for this task only. Nothing is written to the docker
        CLI's configuration.
      - Without them, or when the registry searched is another one than O(registry_auth.registry),
        the credentials are those C(docker login) stored for it in O(config_path), if any.
    type: dict
    suboptions:
      username:
        description: The user name.
        type: str
        required: true
      password:
        description: The password or access token. It never appears in results or logs.
        type: str
        required: true
      registry:
        description:
          - The registry the credentials are for, C(host[:port]) (a URL is accepted too).
          - When not given, they are sent to whichever registry is searched.
        type: str
  config_path:
    description:
      - The docker CLI config to read stored credentials from when O(registry_auth) is not given.
      - When not given, C(config.json) in E(DOCKER_CONFIG) when that is set, else C(~/.docker/config.json).
    type: path
    aliases: [dockercfg_path]
  registry_validate_certs:
    description:
      - Check the TLS certificate of O(registry) against the trusted CAs, or O(registry_ca_path).
      - O(validate_certs) and O(ca_path) are about the Docker daemon's certificate, not the registry's.
    type: bool
    default: true
  registry_ca_path:
    description:
      - A CA certificate (PEM) to check the certificate of O(registry) against, instead of the system's CAs.
    type: path
notes:
  - Without O(registry) the daemon talks to the registry, and trusts its certificate as it does for
    pulls (C(/etc/docker/certs.d/HOST:PORT/) on the daemon's host); it treats registries on
    C(127.0.0.0/8) as insecure and does not check their certificates.
  - With O(registry) the module talks to the registry itself, from the host it runs on; it still
    needs a daemon to connect to.
seealso:
  - module: dockyard.docker.registry_login
  - module: dockyard.docker.image_pull
  - name: Docker Hub search API
    description: The v1 search format the daemon queries.
    link: https://docs.docker.com/reference/api/hub/latest/
  - name: Distribution registry API
    description: The v2 catalog and tags endpoints.
    link: https://distribution.github.io/distribution/spec/api/
'''

EXAMPLES = r'''
- name: Search Docker Hub (docker search --limit 5 --filter is-official=true nginx)
  dockyard.docker.image_search:
    term: nginx
    limit: 5
    filters:
      is-official: true
  register: found

- name: Print the names found
  ansible.builtin.debug:
    msg: "{{ found.results | map(attribute='name') | list }}"

- name: Search a registry that implements the search API (docker search registry.example.com/tools)
  dockyard.docker.image_search:
    term: registry.example.com/tools

- name: List the repositories of a v2 registry whose names contain "team/", with their tags
  dockyard.docker.image_search:
    registry: registry.example.com:5000
    term: team/
    list_tags: true
    registry_ca_path: /etc/pki/registry-ca.pem
    registry_auth:
      username: reader
      password: "{{ vault_registry_password }}"
  register: catalog

- name: Every repository of a plain-HTTP registry on this host
  dockyard.docker.image_search:
    registry: http://127.0.0.1:5000
    term: ""
    limit: 100
'''

RETURN = r'''
results:
  description:
    - The repositories found, at most O(limit).
    - Through the daemon, in the registry's order (Docker Hub ranks by relevance); from a catalog,
      in the catalog's order (by name).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The repository name as the registry gives it.
      type: str
      sample: library/busybox
    description:
      description: The repository's description.
      returned: without O(registry)
      type: str
      sample: Busybox base image.
    stars:
      description: How many stars the repository has.
      returned: without O(registry)
      type: int
      sample: 3400
    official:
      description: Whether it is an official image.
      returned: without O(registry)
      type: bool
    automated:
      description: Whether it is built automatically.
      returned: without O(registry)
      type: bool
    tags:
      description: The repository's tags, sorted.
      returned: when O(list_tags=true)
      type: list
      elements: str
      sample: ["1.0", "latest"]
  sample:
    - name: library/busybox
      description: Busybox base image.
      stars: 3400
      official: true
      automated: false
attempts:
  description:
    - Every request to the registry of O(registry) that failed, in order, also when the task failed; empty
      when none did. Each is C(when) (the UTC time, ISO 8601), C(error) (the message), C(status) (the
      registry's HTTP status, null for a broken connection) and C(wait) (the seconds waited before the next
      try, the registry's C(Retry-After) when it gave one, null when it was the last).
    - O(retries) applies to these requests only; a search through the daemon is not retried.
  returned: with O(registry)
  type: list
  elements: dict
  sample: [{"when": "2026-12-03T12:00:00.123Z", "status": 429, "wait": 2.0,
            "error": "failed to list the repositories of https://registry.example.com: it answered 429 Too Many Requests"}]
'''

from ansible.module_utils.common.validation import check_type_bool, check_type_int

from ansible_collections.dockyard.docker.plugins.module_utils._batch import RETRY_ARGS, Retrying
from ansible_collections.dockyard.docker.plugins.module_utils._client import REGISTRY_AUTH_ARG, DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._registry import (
    DOCKER_HUB_KEY, registry_client, registry_key)

FILTER_TYPES = {'stars': check_type_int, 'is-official': check_type_bool, 'is-automated': check_type_bool}
TLS_HINT = 'give the CA that signed it in registry_ca_path, or set registry_validate_certs=false'


def _index_of(term):
    """The registry the daemon searches for ``term``: the part before the first slash when it names a host."""
    first, slash, _rest = term.partition('/')
    if slash and ('.' in first or ':' in first or first == 'localhost'):
        return registry_key(first)
    return DOCKER_HUB_KEY


def _daemon_filters(filters):
    """``filters`` as the daemon's search endpoint takes them: strings, booleans as V(true)/V(false)."""
    chosen = {}
    for name, value in (filters or {}).items():
        if name not in FILTER_TYPES:
            raise DockerError('filters: unknown filter %s; the daemon knows %s' % (name, ', '.join(sorted(FILTER_TYPES))))
        try:
            value = FILTER_TYPES[name](value)
        except TypeError as exc:
            raise DockerError('filters.%s: %s' % (name, exc))
        chosen[name] = ('true' if value else 'false') if isinstance(value, bool) else str(value)
    return chosen


class ImageSearcher:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.retrying = Retrying(self.params)

    def registry_client(self, registry):
        return registry_client(registry, self.params, self.client.daemon_info().get('RegistryConfig') or {},
                               validate_certs=self.params['registry_validate_certs'],
                               ca_path=self.params['registry_ca_path'], tls_hint=TLS_HINT)

    def through_daemon(self):
        term = self.params['term']
        index = _index_of(term)
        try:
            found = self.client.search(term, limit=self.params['limit'],
                                       filters=_daemon_filters(self.params['filters']),
                                       auth_config=self.client.registry_auth_config(index))
        except DockerError:
            if index == DOCKER_HUB_KEY or self.registry_client(index).has_search_api():
                raise
            raise DockerError('failed to search for %s: registry %s has no search API, as no v2 registry has; '
                              'give registry=%s to look through its catalog' % (term, index, index))
        return [{'name': entry.get('name'), 'description': entry.get('description') or '',
                 'stars': entry.get('star_count') or 0, 'official': bool(entry.get('is_official')),
                 'automated': bool(entry.get('is_automated'))} for entry in found]

    def from_catalog(self):
        api = self.registry_client(self.params['registry'])
        term = self.params['term'].lower()
        catalog = self.retrying.retrying(api.catalog)
        names = [name for name in catalog if term in name.lower()][:self.params['limit']]
        if self.params['list_tags']:
            return [{'name': name, 'tags': sorted(self.retrying.retrying(lambda: api.tags(name)))} for name in names]
        return [{'name': name} for name in names]

    def run(self):
        if self.params['limit'] < 1:
            raise DockerError('limit must be at least 1, got %d' % self.params['limit'])
        if not self.params['registry']:
            return dict(changed=False, results=self.through_daemon())
        try:
            results = self.from_catalog()
        except DockerError as exc:
            exc.result = dict(exc.result, attempts=self.retrying.attempts)
            raise
        return dict(changed=False, results=results, attempts=self.retrying.attempts)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            term=dict(type='str', required=True),
            limit=dict(type='int', default=25),
            filters=dict(type='dict'),
            registry=dict(type='str'),
            list_tags=dict(type='bool', default=False),
            registry_auth=REGISTRY_AUTH_ARG,
            config_path=dict(type='path', aliases=['dockercfg_path']),
            registry_validate_certs=dict(type='bool', default=True),
            registry_ca_path=dict(type='path'),
            **RETRY_ARGS
        ),
        mutually_exclusive=[('registry', 'filters')],
        required_if=[('list_tags', True, ['registry'])],
        empty_allowed=('term',),
    )
    client.finish(ImageSearcher)


if __name__ == '__main__':
    main()
