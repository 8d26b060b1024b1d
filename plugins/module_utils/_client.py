# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""The one client every module of the collection talks to Docker through.

``DockerImageClient`` builds the AnsibleModule with the common connection
options, imports the Docker SDK for Python (reporting a missing one the way
Ansible does), connects to the daemon, checks option/API versions, and offers
one method per Engine API call the modules need. Every method raises only
DockerError, whose text says what was being done and the daemon's words, and
whose ``transient`` comes from the exception type and HTTP status.

The SDK's public calls are used wherever they exist; ``request`` is the one place
that shapes an Engine API request itself, for the calls the SDK lacks.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import ssl
import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError, causes, transient_status
from ansible_collections.dockyard.docker.plugins.module_utils._options import (
    api_version_problem, empty_message, empty_options, set_environment, set_flag)
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_reference
from ansible_collections.dockyard.docker.plugins.module_utils._registry import credentials, registry_client, registry_key
from ansible_collections.dockyard.docker.plugins.module_utils._stream import read_stream
from ansible_collections.dockyard.docker.plugins.module_utils._tls import tls_plan

try:
    import docker
    from docker import auth as docker_auth
    from docker import errors as docker_errors
    from docker.utils import convert_filters, version_lt
    from docker.utils.json_stream import json_stream
    from requests import exceptions as requests_errors
    from requests.adapters import HTTPAdapter
    import urllib3
    from urllib3 import exceptions as urllib3_errors
    from urllib3.util.ssl_match_hostname import CertificateError as HostnameMismatch
except ImportError:
    DOCKER_IMPORT_ERROR = traceback.format_exc()
    HAS_DOCKER = False
else:
    DOCKER_IMPORT_ERROR = None
    HAS_DOCKER = True

DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock'
STREAM_CHUNK_SIZE = 1024 * 1024
MAX_POOL_SIZE = 16
# Inspects of many images at once: the containerd image store takes tens of milliseconds to answer one.
INSPECT_PARALLEL = 8
# The containerd image store answers a read of an image that another client is deleting at that moment
# with a 500 that asks to retry; read again, the answer is the image or 404. The pause doubles per try.
INCONSISTENT_READ = 'consistency error: data changed during operation'
INCONSISTENT_READ_TRIES = 5
INCONSISTENT_READ_PAUSE = 0.02

DOCKER_COMMON_ARGS = dict(
    docker_host=dict(type='str', default=DEFAULT_DOCKER_HOST, aliases=['docker_url'],
                     fallback=(set_environment, ['DOCKER_HOST'])),
    tls_hostname=dict(type='str', fallback=(set_environment, ['DOCKER_TLS_HOSTNAME'])),
    api_version=dict(type='str', default='auto', aliases=['docker_api_version'],
                     fallback=(set_environment, ['DOCKER_API_VERSION'])),
    timeout=dict(type='int', default=60, fallback=(set_environment, ['DOCKER_TIMEOUT'])),
    ca_path=dict(type='path', aliases=['ca_cert', 'tls_ca_cert', 'cacert_path']),
    client_cert=dict(type='path', aliases=['tls_client_cert', 'cert_path']),
    client_key=dict(type='path', aliases=['tls_client_key', 'key_path']),
    tls=dict(type='bool', default=False, fallback=(set_flag, ['DOCKER_TLS'])),
    validate_certs=dict(type='bool', default=False, aliases=['tls_verify'],
                        fallback=(set_flag, ['DOCKER_TLS_VERIFY'])),
    use_ssh_client=dict(type='bool', default=False),
)

REGISTRY_AUTH_ARG = dict(
    type='dict',
    options=dict(
        username=dict(type='str', required=True),
        password=dict(type='str', required=True, no_log=True),
        registry=dict(type='str'),
    ),
)


def _innermost_os_error(exc):
    """The OSError at the bottom of a requests/urllib3 exception chain, if any."""
    found = None
    for current in causes(exc):
        if isinstance(current, OSError) and current.strerror:
            found = current
    return found


def _verification_failure(exc):
    """Why the daemon's certificate was refused, when ``exc`` comes from a TLS handshake that refused it."""
    for current in causes(exc):
        if isinstance(current, ssl.SSLCertVerificationError):
            return current.verify_message or current.reason
        if isinstance(current, HostnameMismatch):
            return str(current)
    return None


def _tls_adapter(plan, verify):
    """An HTTPS adapter that verifies (or not) and authenticates by ``plan`` alone, whatever the request asks.

    requests lets REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE replace a session's ``verify`` on every request; the
    adapter sends each with ``verify`` (requests' own: a CA file, True or False) and the plan's client
    certificate instead, and checks the certificate against ``plan.hostname`` when it is set.
    """

    class DaemonAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            if plan.hostname:
                kwargs['assert_hostname'] = plan.hostname
            super().init_poolmanager(*args, **kwargs)

        def send(self, request, **kwargs):
            kwargs.update(verify=verify, cert=plan.client_cert)
            return super().send(request, **kwargs)

    return DaemonAdapter(pool_maxsize=MAX_POOL_SIZE)


def _tls_config(plan):
    """A TLSConfig the SDK applies before its first request (the ``/version`` of ``api_version: auto``)."""

    verify = (plan.ca_path or True) if plan.verify else False

    class DaemonTLS(docker.TLSConfig):
        def configure_client(self, client):
            client.verify = verify
            client.cert = plan.client_cert
            client.mount('https://', _tls_adapter(plan, verify))

    return DaemonTLS()


CLOSED_MID_REQUEST = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def connection_message(docker_host, exc):
    refused = _verification_failure(exc)
    if refused:
        return ('Cannot connect to the Docker daemon at %s: its TLS certificate did not verify (%s); check ca_path '
                'and tls_hostname' % (docker_host, refused))
    cause = _innermost_os_error(exc)
    if any(isinstance(current, CLOSED_MID_REQUEST) for current in causes(exc)):
        # The daemon ended (or dropped) the connection before its answer: a crash or a restart mid-request.
        # Which of these the client sees depends on whether it was still sending the body at that moment.
        reason = 'the connection was closed before the daemon answered'
    elif cause is not None:
        reason = cause.strerror
    else:
        reason = str(exc)
    return 'Cannot connect to the Docker daemon at %s: %s' % (docker_host, reason)


def read_consistently(read, *args):
    """``read(*args)``, read again while the daemon answers that the image changed under the read."""
    for attempt in range(INCONSISTENT_READ_TRIES):
        try:
            return read(*args)
        except docker_errors.APIError as exc:
            if attempt + 1 == INCONSISTENT_READ_TRIES or INCONSISTENT_READ not in str(exc.explanation or ''):
                raise
        time.sleep(INCONSISTENT_READ_PAUSE * 2 ** attempt)


@contextlib.contextmanager
def calling(action, docker_host):
    """Turn anything the SDK or the connection raises into one DockerError: 'ACTION: REASON'.

    Whether it is transient follows from the exception's type and HTTP status alone: a broken,
    refused or timed-out connection and a 5xx or 429 answer are; any other answer is not.
    """
    try:
        yield
    except DockerError:
        raise
    except docker_errors.APIError as exc:
        reason = exc.explanation or str(exc)
        if isinstance(reason, bytes):
            reason = reason.decode('utf-8', 'replace')
        status = exc.status_code
        raise DockerError('%s: %s' % (action, str(reason).strip()), transient=transient_status(status), status=status)
    except (requests_errors.ConnectionError, requests_errors.Timeout) as exc:
        raise DockerError('%s: %s' % (action, connection_message(docker_host, exc)), transient=True)
    except requests_errors.ChunkedEncodingError:
        # A streamed answer (save, export) that the daemon or the connection cut off midway.
        raise DockerError('%s: the connection to the Docker daemon at %s broke off mid-stream'
                          % (action, docker_host), transient=True)
    except docker_errors.DockerException as exc:
        raise DockerError('%s: %s' % (action, exc))


class DockerImageClient:
    """AnsibleModule plus a connected Docker API client, for one module run."""

    def __init__(self, argument_spec, option_minimal_versions=None, empty_allowed=(), **module_kwargs):
        """``empty_allowed`` names the options for which an empty string is a value of its own."""
        spec = dict(DOCKER_COMMON_ARGS)
        spec.update(argument_spec)
        module_kwargs.setdefault('supports_check_mode', True)
        self.module = AnsibleModule(argument_spec=spec, **module_kwargs)
        if not HAS_DOCKER:
            self.module.fail_json(msg=missing_required_lib('docker'), exception=DOCKER_IMPORT_ERROR)
        self.params = self.module.params
        empty = empty_options(spec, self.params, empty_allowed)
        if empty:
            self.fail(empty_message(*empty[0]))
        problem = api_version_problem(self.params['api_version'])
        if problem:
            self.fail(problem)
        self.docker_host = self.params['docker_host']
        self._info = self._platform = None
        self._registries = {}
        try:
            self.api = self._connect()
        except DockerError as exc:
            self.fail(str(exc))
        self._check_option_versions(option_minimal_versions or {})

    @property
    def check_mode(self):
        return self.module.check_mode

    @property
    def diff_mode(self):
        return self.module._diff

    def fail(self, msg, **result):
        self.module.fail_json(msg=msg, **result)

    def exit(self, **result):
        self.module.exit_json(**result)

    def finish(self, worker):
        """End the module with the result of ``worker(self).run()``, or fail with the DockerError either raised.

        The worker is made here, so a DockerError its ``__init__`` raises (a bad option, say) fails the
        module cleanly too.
        """
        try:
            result = worker(self).run()
        except DockerError as exc:
            self.fail(str(exc), **exc.result)
        self.exit(**result)

    def _connect(self):
        params = self.params
        try:
            plan = tls_plan(params, os.environ)
        except DockerError as exc:
            raise DockerError('Cannot connect to the Docker daemon at %s: %s' % (self.docker_host, exc))
        if plan and not plan.verify:
            self.module.warn('The Docker daemon at %s is reached over TLS without checking its certificate '
                             '(tls without validate_certs): set validate_certs to check it' % self.docker_host)
            urllib3.disable_warnings(urllib3_errors.InsecureRequestWarning)
        try:
            return docker.APIClient(
                base_url=self.docker_host,
                version=params['api_version'],
                timeout=params['timeout'],
                tls=_tls_config(plan) if plan else False,
                use_ssh_client=params['use_ssh_client'],
                max_pool_size=MAX_POOL_SIZE,
            )
        except docker_errors.TLSParameterError as exc:
            raise DockerError('TLS settings for %s are unusable: %s' % (self.docker_host, exc))
        except docker_errors.DockerException as exc:
            raise DockerError(connection_message(self.docker_host, exc))

    def _check_option_versions(self, minimal_versions):
        for option, version in sorted(minimal_versions.items()):
            if self.params.get(option) is not None and version_lt(self.api.api_version, version):
                self.fail('%s needs Docker API %s or later, but the daemon at %s speaks %s'
                          % (option, version, self.docker_host, self.api.api_version))

    def _calling(self, action):
        return calling(action, self.docker_host)

    def _stream(self, action, events):
        with self._calling(action):
            return read_stream(events, action)

    def request(self, method, path, version=None, stream=False, **kwargs):
        """The one raw Engine API request, for the calls the SDK lacks; call it inside ``_calling``.

        The SDK's APIClient is a requests.Session: this is its public ``request`` on the daemon's
        ``base_url`` with the API version prefix (``version``, else the one spoken). An error status
        raises the SDK's APIError, as its own calls do. Streamed answers wait without a timeout unless given one.
        """
        url = '%s/v%s%s' % (self.api.base_url, version or self.api.api_version, path)
        kwargs.setdefault('timeout', None if stream else self.params['timeout'])
        response = self.api.request(method, url, stream=stream, **kwargs)
        try:
            response.raise_for_status()
        except requests_errors.HTTPError as exc:
            docker_errors.create_api_error_from_http_exception(exc)
        return response

    def _progress(self, response):
        """The decoded JSON progress objects of a streamed answer."""
        return json_stream(response.iter_content(chunk_size=None))

    # --- images -------------------------------------------------------------

    def inspect_image(self, name):
        """Inspect data of ``name`` (reference or ID), or None when there is no such image."""
        with self._calling('failed to inspect image %s' % name):
            try:
                return read_consistently(self.api.inspect_image, name)
            except docker_errors.NotFound:
                return None

    def inspect_images(self, names):
        """Inspect data of each of ``names``, in their order (None where there is no such image), INSPECT_PARALLEL at once."""
        names = list(names)
        if len(names) < 2:
            return [self.inspect_image(name) for name in names]
        with concurrent.futures.ThreadPoolExecutor(INSPECT_PARALLEL) as pool:
            return list(pool.map(self.inspect_image, names))

    def list_images(self, filters=None, all_layers=False):
        with self._calling('failed to list images'):
            return self.api.images(filters=filters or None, all=all_layers)

    def image_history(self, name):
        with self._calling('failed to read the history of image %s' % name):
            return read_consistently(self.api.history, name)

    def daemon_info(self):
        """``docker info``, read once per task: among others the daemon's clock and time zone, in ``SystemTime``."""
        if self._info is None:
            with self._calling('failed to read the daemon information'):
                self._info = self.api.info()
        return self._info

    def local_data_root(self):
        """The daemon's data root (``DockerRootDir``) when the daemon runs on this host, else None.

        Only a daemon reached over a unix socket is known to share this host's disks.
        """
        if not self.docker_host.startswith('unix://'):
            return None
        root = self.daemon_info().get('DockerRootDir')
        return root if root and os.path.isdir(root) else None

    def daemon_platform(self):
        """``os/arch`` of the daemon, as an image index names platforms (``linux/amd64``)."""
        if self._platform is None:
            with self._calling('failed to read the daemon version'):
                version = self.api.version()
            self._platform = '%s/%s' % (version.get('Os'), version.get('Arch'))
        return self._platform

    def registry(self, registry):
        """The RegistryClient for the registry of an image name, made once per task and reached as the daemon would."""
        if registry not in self._registries:
            self._registries[registry] = registry_client(registry, self.params,
                                                         self.daemon_info().get('RegistryConfig') or {})
        return self._registries[registry]

    def distribution(self, reference, auth_config=None):
        """What the registry holds for ``reference``, asked through the daemon without pulling."""
        with self._calling('failed to look up %s in its registry' % reference):
            return self.api.inspect_distribution(str(reference), auth_config=auth_config or self.auth_config(reference))

    def remote_digest(self, reference):
        """The manifest digest the registry holds for ``reference`` now, or None when it has no such tag."""
        registry = parse_reference(str(reference)).registry
        action = 'failed to look up %s in registry %s' % (reference, registry)
        with self._calling(action), self._waiting_on(action, registry):
            try:
                answer = self.api.inspect_distribution(str(reference), auth_config=self.auth_config(reference))
            except docker_errors.NotFound:
                return None
            return answer['Descriptor']['digest']

    def pull(self, reference, platform=None, auth_config=None):
        """``docker pull``; fails when the daemon reports no progress for ``timeout`` seconds."""
        action = 'failed to pull %s' % reference
        params = {'fromImage': reference.repository, 'tag': reference.digest or reference.tag}
        if platform:
            params['platform'] = platform
        return self._registry_stream(action, reference.registry, '/images/create', params,
                                     auth_config or self.auth_config(reference))

    def _registry_stream(self, action, registry, path, params, auth_config):
        """The progress of a pull or push (``path``), with the credentials the daemon passes to ``registry``."""
        headers = {'X-Registry-Auth': docker_auth.encode_header(auth_config)}
        with self._calling(action), self._waiting_on(action, registry):
            with self.request('POST', path, params=params, headers=headers, stream=True,
                              timeout=self.params['timeout']) as response:
                return read_stream(self._progress(response), action)

    @contextlib.contextmanager
    def _waiting_on(self, action, registry):
        """A pull or push the daemon reports nothing of for longer than ``timeout`` fails, naming the registry."""
        try:
            yield
        except (requests_errors.ReadTimeout, requests_errors.ConnectionError) as exc:
            read_timeout = isinstance(exc, requests_errors.ReadTimeout) or (
                exc.args and isinstance(exc.args[0], urllib3_errors.ReadTimeoutError))
            if not read_timeout:
                raise
            raise DockerError('%s: no progress for %s seconds (timeout), while the daemon waited for registry %s'
                              % (action, self.params['timeout'], registry), transient=True)

    def push(self, repository, tag, auth_config=None):
        """``docker push REPOSITORY:TAG``; the StreamResult of its progress (its ``aux`` holds the pushed digest)."""
        registry = parse_reference(repository).registry
        action = 'failed to push %s:%s to registry %s' % (repository, tag, registry)
        return self._registry_stream(action, registry, '/images/%s/push' % repository, {'tag': tag},
                                     auth_config or self.auth_config(repository))

    def auth_config(self, name):
        """What the daemon gets as credentials for the registry of image ``name`` (pull, push, look-ups).

        Chosen by ``_registry.credentials``: the task's ``registry_auth``, else the docker CLI's
        config (``config_path``, ``$DOCKER_CONFIG/config.json`` or ``~/.docker/config.json``).
        With none found it is empty, not None, so that the SDK does not look up credentials a second way.
        """
        registry = parse_reference(str(name), default_tag=None).registry
        return self.registry_auth_config(registry)

    def registry_auth_config(self, registry):
        """``auth_config`` for a registry given by name (``host[:port]``, a URL, or Docker Hub)."""
        found = credentials(registry, self.params.get('registry_auth'), self.params.get('config_path'))
        if not found:
            return {}
        return {'username': found[0], 'password': found[1], 'serveraddress': registry_key(registry)}

    def tag(self, source, repository, tag):
        with self._calling('failed to tag %s as %s:%s' % (source, repository, tag)):
            self.api.tag(source, repository, tag=tag, force=True)

    def remove_image(self, name, force=False, prune=True):
        """The daemon's list of ``{'Untagged': ...}`` / ``{'Deleted': ...}`` entries."""
        with self._calling('failed to remove image %s' % name):
            return self.api.remove_image(name, force=force, noprune=not prune) or []

    def prune_images(self, filters=None):
        with self._calling('failed to prune images'):
            return self.api.prune_images(filters=filters or None)

    def save_images(self, names, platform=None):
        """The tar stream of ``docker save NAMES``, in chunks, without holding it in memory.

        ``platform`` (``os[/arch[/variant]]``, API 1.48+) picks one platform of multi-platform images.
        """
        action = 'failed to save %s' % ', '.join(names)
        params = {'names': list(names)}
        if platform:
            parts = platform.split('/')
            params['platform'] = json.dumps(dict(zip(('os', 'architecture', 'variant'), parts)))
        with self._calling(action):
            response = self.request('GET', '/images/get', params=params, stream=True)
        return self._guarded_chunks(action, response.iter_content(STREAM_CHUNK_SIZE))

    def _guarded_chunks(self, action, chunks):
        with self._calling(action):
            yield from chunks

    def load_images(self, fileobj, source):
        action = 'failed to load %s' % source
        with self._calling(action):
            response = self.request('POST', '/images/load', data=fileobj, params={'quiet': '1'},
                                    headers={'Content-Type': 'application/x-tar'}, stream=True)
            return self._stream(action, self._progress(response))

    def import_image(self, source, repository, tag, data=None, changes=None, message=None, platform=None):
        """``docker import``: ``data`` is a file object, or None when ``source`` is a URL the daemon fetches."""
        action = 'failed to import %s as %s:%s' % (source, repository, tag)
        params = {'fromSrc': '-' if data is not None else source, 'repo': repository, 'tag': tag}
        if message:
            params['message'] = message
        if changes:
            params['changes'] = list(changes)
        if platform:
            params['platform'] = platform
        with self._calling(action):
            response = self.request('POST', '/images/create', params=params, data=data,
                                    headers={'Content-Type': 'application/tar'}, stream=True)
            return self._stream(action, self._progress(response))

    def search(self, term, limit=None, filters=None, auth_config=None):
        """``docker search TERM``; ``auth_config`` (username, password, serveraddress) goes to the index."""
        with self._calling('failed to search for %s' % term):
            params = {'term': term}
            if limit:
                params['limit'] = limit
            if filters:
                params['filters'] = convert_filters(filters)
            headers = {'X-Registry-Auth': docker.auth.encode_header(auth_config)} if auth_config else None
            return self.request('GET', '/images/search', params=params, headers=headers).json()

    # --- containers ---------------------------------------------------------

    def inspect_container(self, name):
        with self._calling('failed to inspect container %s' % name):
            try:
                return self.api.inspect_container(name)
            except docker_errors.NotFound:
                return None

    def list_containers(self, filters=None):
        """Every container, running or not."""
        with self._calling('failed to list containers'):
            return self.api.containers(all=True, filters=filters or None)

    def commit(self, container, repository, tag, message=None, author=None, pause=True, changes=None):
        with self._calling('failed to commit container %s as %s:%s' % (container, repository, tag)):
            return self.api.commit(container, repository=repository, tag=tag, message=message, author=author,
                                   pause=pause, changes=list(changes) if changes else None)['Id']

    def export_container(self, name):
        """The tar stream of ``docker export NAME``, in chunks."""
        action = 'failed to export container %s' % name
        with self._calling(action):
            chunks = self.api.export(name, chunk_size=STREAM_CHUNK_SIZE)
        return self._guarded_chunks(action, chunks)

    # --- registries ---------------------------------------------------------

    def login(self, username, password, registry, reauth=True):
        with self._calling('failed to log in to %s as %s' % (registry, username)):
            return self.api.login(username, password=password, registry=registry, reauth=reauth)
