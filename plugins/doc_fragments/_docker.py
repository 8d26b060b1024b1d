# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This doc fragment is PRIVATE to the collection: its interface may change
# without notice between releases.

from __future__ import annotations


class ModuleDocFragment:

    # The connection options every module accepts, with the docker CLI's environment variables.
    DOCUMENTATION = r'''
options:
  docker_host:
    description:
      - The address of the Docker daemon, as the docker CLI takes it in C(-H) or E(DOCKER_HOST),
        for example V(unix:///var/run/docker.sock) or V(tcp://192.0.2.23:2376).
      - When not given, the value of E(DOCKER_HOST) is used, else V(unix:///var/run/docker.sock).
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls_hostname:
    description:
      - The host name the daemon's TLS certificate must be valid for, when it differs from the host in O(docker_host).
      - Only used with O(validate_certs=true), and from the first request on, also the one of O(api_version=auto).
      - When not given, the value of E(DOCKER_TLS_HOSTNAME) is used.
    type: str
  api_version:
    description:
      - The Engine API version to speak. V(auto) asks the daemon for the newest it supports.
      - When not given, the value of E(DOCKER_API_VERSION) is used, else V(auto).
    type: str
    default: auto
    aliases: [docker_api_version]
  timeout:
    description:
      - Seconds to wait for an answer from the daemon.
      - A pull or push may take longer, but fails when the daemon reports no progress for this long (a
        registry that stopped answering); the failure counts as transient, so C(retries) tries again where
        the module has it. Saves, loads and imports are streamed and not bound by it.
      - When not given, the value of E(DOCKER_TIMEOUT) is used, else V(60).
    type: int
    default: 60
  ca_path:
    description:
      - The CA certificate to check the daemon's certificate against, with O(validate_certs=true).
      - When not given and E(DOCKER_CERT_PATH) is set, C(ca.pem) in that directory is used; else the CAs that
        the Python C(requests) library trusts by default.
      - E(REQUESTS_CA_BUNDLE) and E(CURL_CA_BUNDLE) are not used for the daemon's certificate.
      - The file must exist, also C(ca.pem) of E(DOCKER_CERT_PATH); the task fails naming it. It is not read
        without O(validate_certs=true).
    type: path
    aliases: [ca_cert, tls_ca_cert, cacert_path]
  client_cert:
    description:
      - The client certificate to authenticate to the daemon with, over TLS (O(tls) or O(validate_certs)).
      - When not given and E(DOCKER_CERT_PATH) is set, C(cert.pem) in that directory is used if it is there,
        as the docker CLI does.
      - A file given here must exist, and needs O(client_key); the task fails naming what is missing.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description:
      - The key of O(client_cert).
      - When not given and E(DOCKER_CERT_PATH) is set, C(key.pem) in that directory is used if it is there.
      - A file given here must exist.
    type: path
    aliases: [tls_client_key, key_path]
  tls:
    description:
      - Talk to the daemon over TLS without checking its certificate; the task warns about it.
        O(validate_certs=true) wins over it.
      - When not given, E(DOCKER_TLS) set to any value turns it on, as the docker CLI reads it.
    type: bool
    default: false
  validate_certs:
    description:
      - Talk to the daemon over TLS and check its certificate against O(ca_path).
      - When not given, E(DOCKER_TLS_VERIFY) set to any value turns it on (V(0) too), as the docker CLI reads it.
    type: bool
    default: false
    aliases: [tls_verify]
  use_ssh_client:
    description:
      - For an C(ssh://) O(docker_host), run the C(ssh) command of the host the module runs on (with its
        C(~/.ssh/config)) instead of the SSH library the Docker SDK for Python uses (C(paramiko)).
      - Has no effect for other addresses.
    type: bool
    default: false
notes:
  - Connection options set for all modules at once with C(module_defaults) and the action group
    C(group/dockyard.docker.docker).
  - Talks to the Docker daemon through the Docker SDK for Python, which must be installed where the module runs.
  - An option given as an empty string fails the task, naming the option; it is never read as the option's
    default, so an empty variable cannot send images or credentials to Docker Hub. An environment variable
    set but empty (E(DOCKER_HOST)) counts as unset, as the docker CLI reads it.
requirements:
  - "Docker SDK for Python >= 7.0 (the C(docker) package on PyPI)"
  - "Docker Engine API >= 1.41"
'''

    # The attributes every module has; a module states its own support and details of each.
    ATTRIBUTES = r'''
attributes:
  action_group:
    description: Use C(group/dockyard.docker.docker) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - dockyard.docker.docker
  check_mode:
    description: In check mode the module changes nothing and predicts whether a real run would change something.
    support: full
  diff_mode:
    description: With C(--diff) the module returns the state before and after the task.
    support: full
  idempotent:
    description: A second run with the same options changes nothing and reports C(ok).
    support: full
'''

    # The name of the image a module makes (image_commit, image_import).
    NEW_IMAGE = r'''
options:
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
'''

    # The options of modules that take many image names at once (module_utils/_batch.py BATCH_ARGS, with RETRY).
    BATCH = r'''
options:
  parallel:
    description:
      - How many of the images in O(name) to work on at the same time.
    type: int
    default: 4
'''

    # Retrying registry calls (module_utils/_batch.py RETRY_ARGS).
    RETRY = r'''
options:
  retries:
    description:
      - How often to retry a registry call that failed for a transient reason, that is when the
        connection to the daemon or registry was refused, reset or timed out, or the answer was a
        server error (5xx) or C(429 Too Many Requests).
      - Any other failure (a missing tag or repository, refused credentials, an invalid name) is
        not retried.
      - A C(429) or C(503) answer with a C(Retry-After) header is retried after the time it asks for,
        at most 60 seconds. The header is read where the module talks to the registry itself (the
        catalog of M(dockyard.docker.image_search)); the daemon does not pass a registry's headers on
        for pulls, pushes, look-ups and logins, so there the back-off of O(retry_delay) applies.
      - Every failed attempt is listed in the result, under C(attempts).
    type: int
    default: 0
  retry_delay:
    description:
      - Seconds to wait before the first retry; each further retry waits up to twice as long as the one
        before. Each wait is drawn at random from the upper half of that span (jitter), so that
        tasks retrying together do not come back at the same moment.
    type: float
    default: 1.0
'''

    # Credentials for one task, for the modules that reach a registry through the daemon.
    REGISTRY_AUTH = r'''
options:
  registry_auth:
    description:
      - Credentials for the registry, for this task only. Nothing is written to the docker CLI's
        configuration.
      - Without them, or for images of another registry than O(registry_auth.registry), the
        credentials are those the docker CLI would use, read from C(config.json) in E(DOCKER_CONFIG)
        or C(~/.docker/), from its C(credHelpers), its C(credsStore), then its C(auths).
    type: dict
    suboptions:
      username:
        description: The user name to log in with.
        type: str
        required: true
      password:
        description: The password or token. It never appears in results or logs.
        type: str
        required: true
      registry:
        description:
          - The registry the credentials are for, C(host[:port]) (a V(https://) URL is accepted too).
          - When not given, they are used for every image of the task.
        type: str
'''
