"""A real fleet: four Docker engines, each a host of one inventory, and an engine on the controller's side.

``scripts/engine`` starts every engine with a state dir of its own under one temporary directory:
``unix-a`` and ``unix-b`` on unix sockets, ``tcp`` also on plain TCP (loopback), ``tls`` also on TCP with
TLS and client certificates made here (the server certificate is for 127.0.0.1 and DAEMON_NAME, reached
through ``tls_hostname``). The controller's engine holds the images the fleet gets, in its registry; the
registry of ``unix-a``'s state serves as the site's mirror. Every run has REQUESTS_CA_BUNDLE and
CURL_CA_BUNDLE naming an unrelated CA, as on a Debian host whose bundle lacks the daemon's CA.

DOCKYARD_FLEET_ENGINE picks the engines' kind (scripts/engine's DOCKYARD_ENGINE, default debian).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'tests' / 'integration'))

from secure_registry import free_port, make_certificates, make_client_certificate  # noqa: E402

DAEMON_NAME = 'daemon.fleet.test'
ENGINE = str(REPO / 'scripts' / 'engine')
PLAYBOOK = REPO / 'playbooks' / 'fleet.yml'
RECORDER = REPO / 'tests' / 'integration' / 'plugins' / 'callback'
HOSTS = ('unix-a', 'unix-b', 'tcp', 'tls')
# What the fleet playbook's roles are given: every host holds APP and TOOL from the registry,
# OFFLINE from the air-gap archive; APP is copied into the mirror. ADHOC is for the ad-hoc runs alone.
APP, TOOL, OFFLINE, ADHOC = 'fleet/app:1.0', 'fleet/tool:1.0', 'fleet/offline:1.0', 'fleet/adhoc:1.0'


class FleetEngine:
    """One engine of scripts/engine, with a state dir, registry port and listeners of its own."""

    def __init__(self, name, root, kind, **listeners):
        self.name = name
        self.state = root / name
        self.registry = '127.0.0.1:%d' % free_port()
        self.environment = dict(os.environ, DOCKYARD_ENGINE=kind, DOCKYARD_STATE=str(self.state),
                                DOCKYARD_REGISTRY_PORT=self.registry.split(':')[1],
                                DOCKYARD_CACHE=str(REPO / '.cache'), **listeners)
        self.host = 'unix://%s/docker.sock' % self.state

    def engine(self, command):
        subprocess.run([ENGINE, command], env=self.environment, check=True, stdout=subprocess.DEVNULL)

    def cli(self, *args, check=True):
        """The docker CLI against this engine, over its unix socket."""
        completed = subprocess.run(['docker', '-H', self.host] + list(args), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True, check=False)
        if check and completed.returncode:
            raise AssertionError('docker %s on %s: %s' % (' '.join(args), self.name, completed.stderr.strip()))
        return completed

    def image_id(self, name):
        completed = self.cli('image', 'inspect', '--format', '{{.Id}}', name, check=False)
        return completed.stdout.strip() if completed.returncode == 0 else None


class Fleet:
    def __init__(self, root, kind):
        self.root = root
        certs = root / 'certs'
        self.ca_path, server_cert, server_key = make_certificates(certs, hosts=('127.0.0.1', DAEMON_NAME))
        self.client_cert, self.client_key = make_client_certificate(certs)
        self.unrelated_ca = make_certificates(root / 'unrelated')[0]
        server_dir = root / 'server'
        server_dir.mkdir()
        for source, name in ((self.ca_path, 'ca.pem'), (server_cert, 'server-cert.pem'),
                             (server_key, 'server-key.pem')):
            shutil.copy(source, server_dir / name)
        tcp_port, tls_port = free_port(), free_port()
        self.controller = FleetEngine('controller', root, kind)
        self.engines = {
            'unix-a': FleetEngine('unix-a', root, kind),
            'unix-b': FleetEngine('unix-b', root, kind),
            'tcp': FleetEngine('tcp', root, kind, DOCKYARD_TCP_PORT=str(tcp_port)),
            'tls': FleetEngine('tls', root, kind, DOCKYARD_TLS_PORT=str(tls_port), DOCKYARD_TLS_DIR=str(server_dir)),
        }
        self.addresses = {'unix-a': self.engines['unix-a'].host, 'unix-b': self.engines['unix-b'].host,
                          'tcp': 'tcp://127.0.0.1:%d' % tcp_port, 'tls': 'tcp://127.0.0.1:%d' % tls_port}
        self.mirror = self.engines['unix-a'].registry
        self.archive = root / 'offline.tar'
        self.inventory = root / 'fleet.yml'
        self.inventory.write_text(json.dumps(self.inventory_data()))

    def all_engines(self):
        return [self.controller] + list(self.engines.values())

    def inventory_data(self):
        hosts = {name: {'docker_host': address} for name, address in self.addresses.items()}
        hosts['tls'].update(docker_validate_certs=True, docker_ca_path=str(self.ca_path),
                            docker_client_cert=str(self.client_cert), docker_client_key=str(self.client_key),
                            docker_tls_hostname=DAEMON_NAME)
        registry = self.controller.registry
        return {'docker_hosts': {'hosts': hosts, 'vars': {
            'ansible_connection': 'local',
            'ansible_python_interpreter': sys.executable,
            'images_present': ['%s/%s' % (registry, APP), '%s/%s' % (registry, TOOL)],
            'airgap_images': ['%s/%s' % (registry, OFFLINE)],
            'airgap_archive': str(self.archive),
            'mirror_images': ['%s/%s' % (registry, APP)],
            'mirror_registry': self.mirror,
        }}}

    def environment(self):
        """What ansible-playbook runs with: the collection, the recorder, the controller's engine, unrelated CAs."""
        return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.environ.get('DOCKYARD_COLLECTIONS') or str(REPO / '.build'),
                    ANSIBLE_CALLBACK_PLUGINS=str(RECORDER), ANSIBLE_CALLBACKS_ENABLED='record',
                    ANSIBLE_NOCOLOR='1', ANSIBLE_RETRY_FILES_ENABLED='0', ANSIBLE_FORKS='4',
                    DOCKER_HOST=self.controller.host, REQUESTS_CA_BUNDLE=str(self.unrelated_ca),
                    CURL_CA_BUNDLE=str(self.unrelated_ca))

    def play(self, *options):
        """Run the fleet playbook; returns every task result by host (with ``_task``), and the output."""
        record = self.root / 'record.json'
        record.unlink(missing_ok=True)
        completed = subprocess.run(
            [str(Path(sys.executable).with_name('ansible-playbook')), '-i', str(self.inventory), str(PLAYBOOK)]
            + list(options), env=dict(self.environment(), DOCKYARD_RECORD=str(record)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=False)
        if not record.exists():
            raise AssertionError('ansible-playbook did not run:\n%s\n%s' % (completed.stdout, completed.stderr))
        results = {name: [] for name in HOSTS}
        for entry in json.loads(record.read_text()):
            results.setdefault(entry['_host'], []).append(entry)
        return results, completed.stdout


@pytest.fixture(scope='session')
def fleet():
    # Short state dirs: unix socket paths are limited to 107 bytes.
    root = Path(tempfile.mkdtemp(prefix='dyf-', dir='/tmp'))
    the_fleet = Fleet(root, os.environ.get('DOCKYARD_FLEET_ENGINE', 'debian'))
    engines = the_fleet.all_engines()
    try:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(lambda engine: engine.engine('start'), engines))
        subprocess.run([str(REPO / 'scripts' / 'seed-images'), APP, TOOL, OFFLINE, ADHOC], env=the_fleet.controller.environment,
                       check=True, stdout=subprocess.DEVNULL)
        yield the_fleet
    finally:
        with ThreadPoolExecutor(len(engines)) as pool:
            list(pool.map(lambda engine: engine.engine('purge'), engines))
        shutil.rmtree(root, ignore_errors=True)
