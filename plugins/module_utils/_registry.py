# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Registry keys, credentials, and what the collection does with registries without the daemon.

``registry_key`` is the one spelling of a registry the collection compares and
files credentials under. ``credentials`` is the one look-up pull, push, search
and login use: the task's ``registry_auth``, else what ``docker login`` stored.

``DockerConfig`` reads and writes the docker CLI's credentials the way the CLI
does: ``auths`` in ``config.json`` (base64 ``user:password``), or the
credential helper ``config.json`` names (``credsStore``, ``credHelpers``),
spoken to through the Docker SDK's ``docker.credentials.Store``.

``RegistryClient`` speaks the registry's v2 HTTP API (catalog, tags, manifests) with Basic
or Bearer-token authentication and the caller's certificate checking.

All raise only DockerError, and no message ever carries a password.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import re
import socket
import ssl
import tempfile
import traceback
import warnings
from urllib.parse import urljoin, urlsplit

from ansible_collections.dockyard.docker.plugins.module_utils._errors import (
    DockerError, causes, retry_after_seconds, transient_status)
from ansible_collections.dockyard.docker.plugins.module_utils._reference import HUB_ALIASES

try:
    import requests
    from requests import exceptions as requests_errors
except ImportError:
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
    HAS_REQUESTS = False
else:
    REQUESTS_IMPORT_ERROR = None
    HAS_REQUESTS = True

try:
    from docker import credentials as docker_credentials
except ImportError:
    HAS_DOCKER_CREDENTIALS = False
else:
    HAS_DOCKER_CREDENTIALS = True

DOCKER_HUB_KEY = 'https://index.docker.io/v1/'
# Where Docker Hub's v2 API answers, for the names the daemon pulls from docker.io.
DOCKER_HUB_REGISTRY = 'registry-1.docker.io'
# Docker Hub's registry answers as HUB_ALIASES; a registry option may also name its web address.
DOCKER_HUB_NAMES = HUB_ALIASES + ('registry.hub.docker.com',)
CATALOG_PAGE_SIZE = 100
INDEX_TYPES = ('application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json')
MANIFEST_TYPES = INDEX_TYPES + ('application/vnd.oci.image.manifest.v1+json',
                                'application/vnd.docker.distribution.manifest.v2+json')
_SCHEME = re.compile(r'^[a-z][a-z0-9+.-]*://', flags=re.IGNORECASE)


def registry_key(registry):
    """The key the docker CLI files ``registry``'s credentials under: Hub's URL, else ``host[:port]``.

    ``registry`` may be a host, ``host:port``, or a URL with scheme and path; none means Docker Hub.
    """
    text = (registry or '').strip()
    host = _SCHEME.sub('', text).split('/', 1)[0].lower()
    if not host or host in DOCKER_HUB_NAMES:
        return DOCKER_HUB_KEY
    return host


def _addresses(hostname):
    try:
        return set(info[4][0] for info in socket.getaddrinfo(hostname, None))
    except (socket.gaierror, UnicodeError):
        return set()


def insecure_registry(key, registry_config, resolve=_addresses):
    """Whether the daemon talks to registry ``key`` (``host[:port]``) as an insecure one, by its ``docker info``.

    As the daemon decides: the registry's own entry in ``IndexConfigs`` when it has one, else whether
    an address of its host lies in ``InsecureRegistryCIDRs`` (by default 127.0.0.0/8 and ::1).
    """
    index = (registry_config.get('IndexConfigs') or {}).get(key)
    if index is not None:
        return not index.get('Secure', True)
    hostname = re.sub(r':[0-9]+$', '', key).strip('[]')
    networks = [ipaddress.ip_network(cidr, strict=False) for cidr in registry_config.get('InsecureRegistryCIDRs') or []]
    for address in resolve(hostname):
        ip = ipaddress.ip_address(address.split('%', 1)[0])
        if any(ip.version == network.version and ip in network for network in networks):
            return True
    return False


def default_config_path():
    """``config.json`` in E(DOCKER_CONFIG) when set, else in ``~/.docker``, as the docker CLI looks."""
    return os.path.join(os.environ.get('DOCKER_CONFIG') or os.path.expanduser('~/.docker'), 'config.json')


def credentials(registry, registry_auth=None, config_path=None):
    """``(username, password)`` for ``registry``, or None: the one look-up of pull, push, search and login.

    The task's ``registry_auth`` wins when it names that registry or names none; otherwise what
    ``docker login`` stored in ``config_path`` (default: the docker CLI's ``config.json``).
    """
    key = registry_key(registry)
    if registry_auth and (not registry_auth.get('registry') or registry_key(registry_auth['registry']) == key):
        return registry_auth['username'], registry_auth['password']
    return DockerConfig(config_path).get(key)


def _hide(text, secret):
    return text.replace(secret, '********') if secret else text


class DockerConfig:
    """The docker CLI's ``config.json``: credentials per registry, in the file or in a helper."""

    def __init__(self, path=None):
        self.path = os.path.expanduser(path or default_config_path())
        self.data = self._load()

    def _load(self):
        try:
            with open(self.path, 'rb') as handle:
                text = handle.read().decode('utf-8')
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as exc:
            raise DockerError('failed to read the docker config %s: %s' % (self.path, exc))
        if not text.strip():
            return {}
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DockerError('failed to read the docker config %s: it is not JSON (%s)' % (self.path, exc))
        if not isinstance(data, dict) or not isinstance(data.get('auths', {}), dict):
            raise DockerError('failed to read the docker config %s: it is not a docker CLI config' % self.path)
        return data

    @property
    def auths(self):
        return self.data.setdefault('auths', {})

    def helper(self, key):
        """The credential helper for ``key`` (``credHelpers`` first, then ``credsStore``), or None."""
        helpers = self.data.get('credHelpers') or {}
        return helpers.get(key) or self.data.get('credsStore') or None

    def _matching_keys(self, key):
        """Keys of ``auths`` that mean the same registry as ``key`` (``https://host:port``, ``host:port/v1/``...)."""
        return [name for name in self.auths if name == key or registry_key(name) == key]

    def _call_helper(self, helper, verb, key, *arguments):
        """``docker-credential-HELPER VERB`` through the SDK; its answer, or None when it knows no ``key``."""
        program = 'docker-credential-%s' % helper
        if not HAS_DOCKER_CREDENTIALS:
            raise DockerError('failed to %s the credentials for %s with %s: the Docker SDK for Python is missing'
                              % (verb, key, program))
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # the SDK warns of a missing program; its StoreError says it again
            store = docker_credentials.Store(helper)
        try:
            return getattr(store, verb)(key, *arguments)
        except docker_credentials.CredentialsNotFound:
            return None
        except (docker_credentials.StoreError, ValueError, KeyError) as exc:
            secret = arguments[-1] if arguments else None
            raise DockerError(_hide('failed to %s the credentials for %s with %s: %s'
                                    % (verb, key, program, str(exc) or type(exc).__name__), secret))

    def get(self, key):
        """``(username, password)`` stored for ``key``, or None."""
        helper = self.helper(key)
        if helper:
            answer = self._call_helper(helper, 'get', key)
            if answer is None:
                return None
            if not isinstance(answer, dict) or 'Username' not in answer or 'Secret' not in answer:
                raise DockerError('failed to get the credentials for %s with docker-credential-%s: '
                                  'it did not answer with Username and Secret' % (key, helper))
            return answer['Username'], answer['Secret']
        for name in self._matching_keys(key):
            entry = self.auths.get(name) or {}
            if entry.get('auth'):
                try:
                    username, _sep, password = base64.b64decode(entry['auth']).decode('utf-8').partition(':')
                except (ValueError, UnicodeDecodeError):
                    raise DockerError('failed to read the credentials for %s from %s: its auth is not base64 of '
                                      'user:password' % (key, self.path))
                return username, password
            if entry.get('username') and entry.get('password'):
                return entry['username'], entry['password']
        return None

    def entry_present(self, key):
        """Whether ``auths`` names the registry (a helper's registries carry an empty entry there)."""
        return bool(self._matching_keys(key))

    def store(self, key, username, password):
        """Keep the credentials like ``docker login``: in the helper (and an empty ``auths`` entry), or in the file.

        Entries under other spellings of the same registry (``https://host:port``) are replaced.
        """
        helper = self.helper(key)
        if helper:
            self._call_helper(helper, 'store', key, username, password)
        for name in self._matching_keys(key):
            del self.auths[name]
        if helper:
            self.auths[key] = {}
        else:
            self.auths[key] = {'auth': base64.b64encode(('%s:%s' % (username, password)).encode('utf-8')).decode()}
        self.save()

    def erase(self, key):
        """Forget the registry like ``docker logout``: in its helper, and every matching ``auths`` entry."""
        helper = self.helper(key)
        if helper:
            self._call_helper(helper, 'erase', key)
        for name in self._matching_keys(key):
            del self.auths[name]
        self.save()

    def save(self):
        """Write the file atomically, readable by its owner only, as the docker CLI does."""
        directory = os.path.dirname(self.path) or '.'
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=directory, prefix='.config.json.')
            try:
                with os.fdopen(handle, 'w') as stream:
                    json.dump(self.data, stream, indent='\t')
                    stream.write('\n')
                os.chmod(temporary, 0o600)
                os.replace(temporary, self.path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise DockerError('failed to write the docker config %s: %s' % (self.path, exc.strerror or exc))


def _challenge(header):
    """``(scheme, {param: value})`` of a ``WWW-Authenticate`` header."""
    scheme, _sep, rest = (header or '').strip().partition(' ')
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def _registry_words(response):
    """The registry's own error text: its v2 ``errors`` list, else the HTTP reason."""
    try:
        errors = response.json().get('errors') or []
        words = '; '.join(error.get('message') or error.get('code') for error in errors if isinstance(error, dict))
    except (ValueError, AttributeError):
        words = ''
    return '%d %s%s' % (response.status_code, response.reason, ' (%s)' % words if words else '')


def has_scheme(registry):
    return bool(_SCHEME.match(registry.strip()))


class RegistryClient:
    """The v2 API of one registry, given as ``host[:port]`` (HTTPS) or a URL with its scheme.

    ``insecure`` (for ``host[:port]`` the daemon counts as insecure) lets such a registry fall back to
    plain HTTP, as the daemon does, when it does not speak TLS; its certificate, when it has one, is
    checked as ``validate_certs`` says.
    """

    def __init__(self, registry, credentials=None, validate_certs=True, ca_path=None, timeout=60, tls_hint=None,
                 insecure=False):
        if not HAS_REQUESTS:
            raise DockerError('talking to the registry %s needs the Python package requests' % registry)
        text = registry.strip().rstrip('/')
        self.plain_fallback = insecure and not has_scheme(text)
        if not has_scheme(text):
            text = 'https://' + text
        parts = urlsplit(text)
        if parts.scheme not in ('http', 'https') or not parts.netloc:
            raise DockerError('registry %s: give host[:port] or an http(s):// URL' % registry)
        self.url = '%s://%s' % (parts.scheme, parts.netloc)
        self.credentials = credentials
        self.timeout = timeout
        self.tls_hint = tls_hint
        self.session = requests.Session()
        # Given with each request: a session-wide value would lose to REQUESTS_CA_BUNDLE.
        self.verify = (ca_path or True) if validate_certs else False
        self._tokens = {}
        self._basic = False  # the registry asked for Basic credentials once: send them from then on
        self._tried_https = None  # the URL given up for plain HTTP, whose links and pages now go to self.url

    def _send(self, url, **kwargs):
        if self._tried_https and url.startswith(self._tried_https + '/'):
            url = self.url + url[len(self._tried_https):]
        try:
            return self._send_once(url, **kwargs)
        except requests_errors.SSLError as exc:
            # Only a registry that does not speak TLS gets plain HTTP; an untrusted certificate stays an error.
            if any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes(exc)) or not (
                    self.plain_fallback and url.startswith(self.url + '/')):
                raise
        self._tried_https, self.url, self.plain_fallback = self.url, 'http://' + self.url.split('://', 1)[1], False
        return self._send_once(self.url + url[len(self._tried_https):], **kwargs)

    def _send_once(self, url, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # urllib3's InsecureRequestWarning, with validate_certs off
            return self.session.get(url, verify=self.verify, timeout=self.timeout, **kwargs)

    def _token(self, params, scope):
        """A Bearer token from the registry's token service, for ``scope``."""
        if scope in self._tokens:
            return self._tokens[scope]
        query = {'service': params.get('service')} if params.get('service') else {}
        if params.get('scope') or scope:
            query['scope'] = params.get('scope') or scope
        response = self._send(params['realm'], params=query, auth=self.credentials)
        if response.status_code != 200:
            raise _Refused('its token service %s answered %s' % (params['realm'], _registry_words(response)), response)
        try:
            answer = response.json()
            token = answer.get('token') or answer.get('access_token')
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise _Refused('its token service %s gave no token' % params['realm'])
        self._tokens[scope] = token
        return token

    def _get(self, url, scope, accept='application/json'):
        """GET ``url``, answering the registry's challenge: Basic with the credentials, or a Bearer token."""
        headers = {'Accept': accept}
        if scope in self._tokens:
            headers['Authorization'] = 'Bearer %s' % self._tokens[scope]
        response = self._send(url, headers=headers, auth=self.credentials if self._basic else None)
        if response.status_code == 401 and not self._basic and scope not in self._tokens:
            scheme, params = _challenge(response.headers.get('WWW-Authenticate'))
            if scheme == 'bearer' and params.get('realm'):
                headers['Authorization'] = 'Bearer %s' % self._token(params, scope)
                response = self._send(url, headers=headers)
            elif scheme == 'basic' and self.credentials:
                self._basic = True
                response = self._send(url, headers=headers, auth=self.credentials)
        if response.status_code in (401, 403):
            who = 'as %s' % self.credentials[0] if self.credentials else 'without credentials'
            raise _Refused('it refused access %s: %s' % (who, _registry_words(response)), response)
        if response.status_code != 200:
            raise _Refused('it answered %s' % _registry_words(response), response)
        return response

    def _pages(self, path, scope, key):
        """Every item of ``key`` over the pages the registry links with ``Link: <...>; rel="next"``."""
        url = self.url + path
        items = []
        while url:
            response = self._get(url, scope)
            try:
                items.extend(response.json().get(key) or [])
            except (ValueError, AttributeError):
                raise _Refused('its answer to %s is not JSON' % url)
            following = response.links.get('next', {}).get('url')
            url = urljoin(url, following) if following else None
        return items

    def _calling(self, action, operation):
        password = self.credentials[1] if self.credentials else None
        try:
            return operation()
        except _Refused as exc:
            raise DockerError(_hide('%s: %s' % (action, exc), password), transient=transient_status(exc.status),
                              status=exc.status, retry_after=exc.retry_after)
        except requests_errors.SSLError as exc:
            raise DockerError(_hide('%s: %s' % (action, _tls_words(exc, self.tls_hint)), password))
        except requests_errors.ConnectionError as exc:
            raise DockerError(_hide('%s: cannot connect: %s' % (action, _connection_words(exc)), password),
                              transient=True)
        except requests_errors.Timeout:
            raise DockerError('%s: no answer for %s seconds (timeout)' % (action, self.timeout), transient=True)
        except requests_errors.RequestException as exc:
            raise DockerError(_hide('%s: %s' % (action, exc), password))

    def catalog(self):
        """The names of every repository in the registry (``GET /v2/_catalog``, all pages)."""
        return self._calling(
            'failed to list the repositories of %s' % self.url,
            lambda: self._pages('/v2/_catalog?n=%d' % CATALOG_PAGE_SIZE, 'registry:catalog:*', 'repositories'))

    def has_search_api(self):
        """Whether the registry answers the v1 search API the daemon's search asks (v2 registries do not)."""
        return self._calling('failed to ask %s for its search API' % self.url, lambda: self._send(
            self.url + '/v1/search', params={'q': '', 'n': 1}).status_code != 404)

    def _document(self, url, scope):
        response = self._get(url, scope, accept=', '.join(MANIFEST_TYPES))
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise _Refused('its answer to %s is not a JSON manifest' % url)
        return response.headers.get('Docker-Content-Digest'), document

    def image_size(self, path, reference, platform):
        """``(digest, bytes)`` of what the registry serves for ``path`` at ``reference`` (a tag or a digest).

        ``digest`` is that of the manifest or index served; ``bytes`` those of the config and layers of the
        image for ``platform`` (``os/arch[/variant]``), as the manifest declares them (compressed).
        """
        scope = 'repository:%s:pull' % path

        def read():
            digest, document = self._document('%s/v2/%s/manifests/%s' % (self.url, path, reference), scope)
            if document.get('mediaType') in INDEX_TYPES or 'manifests' in document:
                chosen = _for_platform(document.get('manifests') or [], platform)
                if chosen is None:
                    raise _Refused('it serves no image for platform %s' % platform)
                document = self._document('%s/v2/%s/manifests/%s' % (self.url, path, chosen), scope)[1]
            blobs = [document.get('config') or {}] + list(document.get('layers') or [])
            return digest, sum(int(blob.get('size') or 0) for blob in blobs if isinstance(blob, dict))

        return self._calling('failed to read the manifest of %s:%s in %s' % (path, reference, self.url), read)

    def tags(self, repository):
        """The tags of ``repository`` (``GET /v2/NAME/tags/list``, all pages)."""
        return self._calling(
            'failed to list the tags of %s in %s' % (repository, self.url),
            lambda: self._pages('/v2/%s/tags/list' % repository, 'repository:%s:pull' % repository, 'tags'))


def _for_platform(manifests, platform):
    """The digest of the entry of an index that serves ``platform`` (``os/arch[/variant]``), or None."""
    wanted = dict(zip(('os', 'architecture', 'variant'), platform.split('/')))
    for entry in manifests:
        offered = (entry.get('platform') or {}) if isinstance(entry, dict) else {}
        if all(offered.get(key) == value for key, value in wanted.items()):
            return entry.get('digest')
    return None


def registry_client(registry, params, registry_config, validate_certs=None, ca_path=None, tls_hint=None):
    """A RegistryClient for the registry an image name gives, reached as the daemon reaches it.

    With the task's credentials (``registry_auth``, else ``config_path``); where the daemon's
    ``RegistryConfig`` counts the registry as insecure, plain HTTP is allowed and, unless
    ``validate_certs`` says otherwise, a certificate is not checked, as the daemon does not. Docker Hub
    is read from the daemon's first mirror when it has one, else at Hub's v2 address.
    """
    key = registry_key(registry)
    insecure = not has_scheme(registry) and insecure_registry(key, registry_config)
    address = registry
    if key == DOCKER_HUB_KEY:
        address = (registry_config.get('Mirrors') or [DOCKER_HUB_REGISTRY])[0]
    return RegistryClient(address, credentials=credentials(registry, params.get('registry_auth'), params.get('config_path')),
                          validate_certs=not insecure if validate_certs is None else validate_certs, ca_path=ca_path,
                          timeout=params.get('timeout') or 60, tls_hint=tls_hint, insecure=insecure)


class _Refused(Exception):
    """A registry answer that ends the request; its text is the registry's words.

    With the ``response``, ``status`` is its HTTP status and ``retry_after`` the seconds its
    ``Retry-After`` header asks to wait (None without one).
    """

    def __init__(self, message, response=None):
        super().__init__(message)
        self.status = response.status_code if response is not None else None
        self.retry_after = retry_after_seconds(response.headers.get('Retry-After')) if response is not None else None


def _innermost(exc):
    """The exception at the bottom of a requests/urllib3 chain (causes, contexts, wrapped reasons)."""
    seen = []
    while isinstance(exc, BaseException) and exc not in seen:
        seen.append(exc)
        wrapped = [exc.__cause__, exc.__context__, getattr(exc, 'reason', None)] + list(exc.args[:1])
        exc = next((item for item in wrapped if isinstance(item, BaseException)), None)
    return seen[-1]


def _tls_words(exc, hint=None):
    text = str(_innermost(exc))
    if 'CERTIFICATE_VERIFY_FAILED' in text or 'certificate verify failed' in text:
        detail = re.search(r'certificate verify failed: ([^()\]]+)', text)
        words = 'its TLS certificate is not trusted (%s)' % (detail.group(1).strip() if detail else 'certificate verify failed')
        return '%s; %s' % (words, hint) if hint else words
    return 'TLS failed: %s' % text


def _connection_words(exc):
    inner = _innermost(exc)
    return getattr(inner, 'strerror', None) or str(inner)
