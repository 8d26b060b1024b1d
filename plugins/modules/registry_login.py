#!/usr/bin/python
# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: registry_login
short_description: Log in to a registry or out of it, like C(docker login) and C(docker logout)
version_added: 0.1.0
description:
  - With O(state=present), checks the credentials through the Docker daemon (C(POST /auth), what
    C(docker login) does) and stores them in the docker CLI config, where the docker CLI, the daemon's
    pulls and pushes and the modules of this collection find them.
  - They are stored like C(docker login) stores them - as base64 C(user:password) under C(auths) in
    O(config_path), or, when that file names a credential helper for the registry (C(credHelpers))
    or for all registries (C(credsStore)), in that helper (C(docker-credential-NAME store)), with an
    empty C(auths) entry for the registry.
  - Credentials already stored are not checked again nor rewritten when they are the same, unless
    O(reauthorize=true), which checks them again (and still does not rewrite them).
  - With O(state=absent), removes the registry's credentials like C(docker logout).
  - The password never appears in the result, the diff, warnings or verbose output.
author:
  - dockyard.docker maintainers (@dockyard)
extends_documentation_fragment:
  - dockyard.docker._docker
  - dockyard.docker._docker.attributes
attributes:
  check_mode:
    details: The daemon still checks new credentials, so check mode fails where a real run would; nothing is written.
  diff_mode:
    details: Shows whether the registry has stored credentials, and for which user, before and after.
options:
  registry_url:
    description:
      - The registry to log in to, as V(host[:port]) or a URL. Docker Hub (V(docker.io),
        V(index.docker.io), V(https://index.docker.io/v1/)) is stored under V(https://index.docker.io/v1/),
        every other registry under its V(host[:port]), as the docker CLI does.
    type: str
    default: https://index.docker.io/v1/
    aliases: [registry, url]
  username:
    description:
      - The user name. Required with O(state=present).
    type: str
  password:
    description:
      - The password or access token. Required with O(state=present).
    type: str
  reauthorize:
    description:
      - Check credentials through the daemon even when the same ones are already stored.
    type: bool
    default: false
    aliases: [reauth]
  config_path:
    description:
      - The docker CLI config file to store the credentials in.
      - When not given, C(config.json) in E(DOCKER_CONFIG) when that is set, else C(~/.docker/config.json).
    type: path
    aliases: [dockercfg_path]
  state:
    description:
      - V(present) logs in (C(docker login)), V(absent) logs out (C(docker logout)).
    type: str
    choices: [present, absent]
    default: present
notes:
  - The daemon checks the credentials, so it is the daemon's trust in the registry's certificate that
    counts (C(/etc/docker/certs.d/HOST:PORT/) on the daemon's host), not O(validate_certs) or O(ca_path),
    which are about the connection to the daemon. The daemon treats registries on C(127.0.0.0/8) as
    insecure and does not check their certificates.
seealso:
  - module: dockyard.docker.image_pull
  - module: dockyard.docker.image_push
  - module: dockyard.docker.image_search
  - name: docker login
    description: The docker CLI command this module does the work of.
    link: https://docs.docker.com/reference/cli/docker/login/
'''

EXAMPLES = r'''
- name: Log in to a private registry (docker login registry.example.com:5000)
  dockyard.docker.registry_login:
    registry_url: registry.example.com:5000
    username: deployer
    password: "{{ vault_registry_password }}"

- name: Log in to Docker Hub with an access token, into another config file
  dockyard.docker.registry_login:
    username: dockyard
    password: "{{ vault_hub_token }}"
    config_path: /srv/ci/.docker/config.json

- name: Check stored credentials again even if they did not change
  dockyard.docker.registry_login:
    registry_url: registry.example.com:5000
    username: deployer
    password: "{{ vault_registry_password }}"
    reauthorize: true

- name: Log out (docker logout registry.example.com:5000)
  dockyard.docker.registry_login:
    registry_url: registry.example.com:5000
    state: absent
'''

RETURN = r'''
registry:
  description: The key the credentials are stored under in the config (C(host[:port]), or Docker Hub's URL).
  returned: always
  type: str
  sample: registry.example.com:5000
username:
  description: The user now logged in, or V(null) after logging out.
  returned: always
  type: str
  sample: deployer
config_path:
  description: The docker CLI config file used.
  returned: always
  type: str
  sample: /home/deployer/.docker/config.json
credentials_store:
  description: The credential helper that holds the credentials (C(docker-credential-NAME)), or V(null) for the config file.
  returned: always
  type: str
  sample: pass
login_result:
  description:
    - The login, as community.docker.docker_login returns it, C(serveraddress) and C(username).
    - With C(Status), the daemon's answer, when the daemon checked the credentials (they were new, or
      O(reauthorize=true)); never the daemon's identity token.
    - Empty for O(state=absent).
  returned: always
  type: dict
  sample: {"serveraddress": "registry.example.com:5000", "username": "deployer", "Status": "Login Succeeded"}
actions:
  description:
    - What was done, or in check mode what would be done, in the same words.
    - community.docker.docker_login returns no actions; these are ours.
  returned: always
  type: list
  elements: str
  sample: ["Logged in to registry.example.com:5000 as deployer"]
'''

from ansible_collections.dockyard.docker.plugins.module_utils._client import DockerImageClient
from ansible_collections.dockyard.docker.plugins.module_utils._diff import Outcome
from ansible_collections.dockyard.docker.plugins.module_utils._registry import DockerConfig, registry_key


def _state(key, stored):
    """What the diff shows of a registry's credentials: never the password."""
    if not stored:
        return {'registry': key, 'logged_in': False}
    return {'registry': key, 'logged_in': True, 'username': stored[0]}


class RegistryLogin:
    def __init__(self, client):
        self.client = client
        self.params = client.params
        self.key = registry_key(self.params['registry_url'])
        self.config = DockerConfig(self.params['config_path'])
        self.outcome = Outcome()
        self.login_result = {}

    def log_in(self, stored):
        wanted = (self.params['username'], self.params['password'])
        same = stored == wanted and self.config.entry_present(self.key)
        self.login_result = {'serveraddress': self.key, 'username': wanted[0]}
        if not same or self.params['reauthorize']:
            answer = self.client.login(wanted[0], wanted[1], registry=self.key, reauth=True) or {}
            # The daemon's Status; never its IdentityToken, which is a credential.
            self.login_result.update((key, answer[key]) for key in ('Status',) if answer.get(key))
        self.outcome.record(self.key, _state(self.key, stored), _state(self.key, wanted))
        if same:
            return wanted
        self.outcome.mark_rewritten()
        self.outcome.note('Logged in to %s as %s' % (self.key, wanted[0]))
        if not self.client.check_mode:
            self.config.store(self.key, wanted[0], wanted[1])
        return wanted

    def log_out(self, stored):
        self.outcome.record(self.key, _state(self.key, stored), _state(self.key, None))
        if stored or self.config.entry_present(self.key):
            self.outcome.mark_rewritten()
            self.outcome.note('Logged out of %s' % self.key)
            if not self.client.check_mode:
                self.config.erase(self.key)
        return None

    def run(self):
        stored = self.config.get(self.key)
        now = self.log_in(stored) if self.params['state'] == 'present' else self.log_out(stored)
        return self.outcome.result(self.client.diff_mode, registry=self.key, username=now[0] if now else None,
                                   config_path=self.config.path, credentials_store=self.config.helper(self.key),
                                   login_result=self.login_result)


def main():
    client = DockerImageClient(
        argument_spec=dict(
            registry_url=dict(type='str', default='https://index.docker.io/v1/', aliases=['registry', 'url']),
            username=dict(type='str'),
            password=dict(type='str', no_log=True),
            reauthorize=dict(type='bool', default=False, aliases=['reauth']),
            config_path=dict(type='path', aliases=['dockercfg_path']),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
        ),
        required_if=[('state', 'present', ['username', 'password'])],
    )
    client.finish(RegistryLogin)


if __name__ == '__main__':
    main()
