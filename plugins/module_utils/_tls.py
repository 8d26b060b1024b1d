# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Which files a TLS connection to the daemon uses, decided from the options and the environment alone.

The rules are the docker CLI's: ``validate_certs`` checks the daemon's certificate against ``ca_path``, else
``ca.pem`` in DOCKER_CERT_PATH when that is set, else the CAs the system trusts; ``tls`` alone speaks TLS
without checking it. ``cert.pem`` and ``key.pem`` of DOCKER_CERT_PATH are used when both are there; a file
named in an option, and the CA of DOCKER_CERT_PATH when verifying, must exist.
"""

from __future__ import annotations

import os
from collections import namedtuple

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError

# verify: check the daemon's certificate; ca_path: the CA file to check it with (None: the system's CAs);
# client_cert: (certificate, key) or None; hostname: the name the certificate must be valid for, or None.
TLSPlan = namedtuple('TLSPlan', 'verify ca_path client_cert hostname')

CERT_PATH_FILES = {'ca_path': 'ca.pem', 'client_cert': 'cert.pem', 'client_key': 'key.pem'}
KINDS = {'ca_path': 'CA certificate', 'client_cert': 'client certificate', 'client_key': 'client key'}


def _problem(path, kind, source):
    if os.path.isfile(path):
        return None
    what = 'does not exist' if not os.path.exists(path) else 'is not a file'
    return 'the %s %s (%s) %s' % (kind, path, source, what)


def _pick(option, params, cert_dir, required):
    """(path, where it came from) for ``option``: the option's own value, else its file of DOCKER_CERT_PATH.

    A file named in the option must exist; one of DOCKER_CERT_PATH only when ``required``, else a missing one
    counts as not given, as the docker CLI reads that directory.
    """
    if params.get(option):
        path, source, must = params[option], option, True
    elif cert_dir:
        path, source, must = os.path.join(cert_dir, CERT_PATH_FILES[option]), 'DOCKER_CERT_PATH', required
    else:
        return None, None
    problem = _problem(path, KINDS[option], source)
    if problem and must:
        raise DockerError(problem)
    return (None, None) if problem else (path, source)


def tls_plan(params, environ):
    """The TLSPlan for the connection options ``params``, None for a connection without TLS.

    Raises DockerError naming a file that is missing or a client certificate without its key.
    """
    verify = bool(params.get('validate_certs'))
    if not (verify or params.get('tls')):
        return None
    cert_dir = environ.get('DOCKER_CERT_PATH') or None
    ca_path = _pick('ca_path', params, cert_dir, required=True)[0] if verify else None
    cert, cert_source = _pick('client_cert', params, cert_dir, required=False)
    key, key_source = _pick('client_key', params, cert_dir, required=False)
    if bool(cert) != bool(key):
        if cert:
            given, path, source, missing = 'client_cert', cert, cert_source, 'client_key'
        else:
            given, path, source, missing = 'client_key', key, key_source, 'client_cert'
        raise DockerError('the %s %s (%s) has no %s: give %s too'
                          % (KINDS[given], path, source, KINDS[missing], missing))
    return TLSPlan(verify, ca_path, (cert, key) if cert else None,
                   (params.get('tls_hostname') or None) if verify else None)
