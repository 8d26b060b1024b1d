"""Fixtures that run the real modules through Ansible against the real engine and registry.

The engine and registry are the project's own (``scripts/engine``); ``scripts/test``
exports ``DOCKER_HOST`` and ``DOCKYARD_REGISTRY`` for them. Run alone, this file
starts them itself.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import uuid
from pathlib import Path

import docker
import pytest

import reliability
from reliability import answered

REPO = Path(__file__).resolve().parents[2]
# The fault suite's record (reliability.py) hooks into every run of these tests.
pytest_configure = reliability.pytest_configure
pytest_runtest_call = reliability.pytest_runtest_call
pytest_runtest_makereport = reliability.pytest_runtest_makereport
pytest_sessionfinish = reliability.pytest_sessionfinish
HERE = Path(__file__).resolve().parent
BUSYBOX = '/bin/busybox'


def _engine_environment():
    if os.environ.get('DOCKER_HOST') and os.environ.get('DOCKYARD_REGISTRY'):
        return os.environ['DOCKER_HOST'], os.environ['DOCKYARD_REGISTRY']
    engine = str(REPO / 'scripts' / 'engine')
    subprocess.run([engine, 'start'], check=True)
    exported = dict(
        line.replace('export ', '', 1).split('=', 1)
        for line in subprocess.run([engine, 'env'], check=True, stdout=subprocess.PIPE, text=True).stdout.splitlines()
        if line.startswith('export ')
    )
    os.environ.update({key: value.strip('"\'') for key, value in exported.items()})
    return os.environ['DOCKER_HOST'], os.environ['DOCKYARD_REGISTRY']


def rootfs_tar(marker):
    """A root filesystem with busybox as /bin/sh and a file that makes each image distinct."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        for directory in ('bin', 'etc'):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add(BUSYBOX, arcname='bin/busybox')
        link = tarfile.TarInfo('bin/sh')
        link.type, link.linkname = tarfile.SYMTYPE, 'busybox'
        tar.addfile(link)
        content = marker.encode() + b'\n'
        info = tarfile.TarInfo('etc/dockyard-seed')
        info.size, info.mode = len(content), 0o644
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class Engine:
    """The real daemon and registry, with the setup steps tests share."""

    def __init__(self, host, registry):
        self.host = host
        self.registry = registry
        self.api = docker.APIClient(base_url=host, version='auto', timeout=120)

    def cli(self, *args, check=True):
        """Run the docker CLI against the engine and return its stdout."""
        return self._stdout('docker', *args, check=check)

    def run_output(self, *args):
        """What a container of ``docker run --rm --network none ARGS`` printed to stdout (scripts/run-output)."""
        return self._stdout(str(REPO / 'scripts' / 'run-output'), *args)

    def _stdout(self, program, *args, check=True):
        completed = subprocess.run([program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   check=False, env=dict(os.environ, DOCKER_HOST=self.host))
        if check and completed.returncode:
            raise AssertionError('%s %s failed: %s' % (os.path.basename(program), ' '.join(args), completed.stderr))
        return completed.stdout

    def make_image(self, reference, marker=None):
        """Import a fresh busybox image as ``reference`` and return its ID."""
        repository, _colon, tag = reference.rpartition(':')
        self.api.import_image_from_data(rootfs_tar(marker or reference), repository=repository, tag=tag,
                                        changes=['CMD ["/bin/sh"]'])
        return self.api.inspect_image(reference)['Id']

    def make_child(self, reference, base):
        """Build ``reference`` from image ``base`` with one layer more (a file of its own); return its ID."""
        dockerfile = 'FROM %s\nRUN echo %s > /etc/dockyard-child\n' % (base, reference)
        for event in self.api.build(fileobj=io.BytesIO(dockerfile.encode()), tag=reference, rm=True, decode=True):
            assert 'error' not in event, event
        return self.api.inspect_image(reference)['Id']

    def publish(self, path, tag='1.0', marker=None):
        """Make an image, push it to the registry as ``REGISTRY/path:tag``, drop it locally; return the reference."""
        reference = '%s/%s:%s' % (self.registry, path, tag)
        image_id = self.make_image(reference, marker)
        for event in self.api.push('%s/%s' % (self.registry, path), tag=tag, stream=True, decode=True):
            assert 'error' not in event, event
        self.api.remove_image(reference, force=True)
        return reference, image_id

    @property
    def containerd(self):
        """True when the engine keeps its images in containerd (IDs are manifest digests there)."""
        status = dict(self.api.info().get('DriverStatus') or [])
        return status.get('driver-type') == 'io.containerd.snapshotter.v1'

    def prefix_twins(self, repository, digits=8):
        """Load two images, ``repository:a`` and ``repository:b``, whose IDs share their first ``digits`` hex digits.

        The images are written as a docker save archive (classic manifest.json and OCI index.json), with a label
        varied until the two IDs (config digests on the classic store, manifest digests on containerd) collide.
        Returns (ID of a, ID of b, the shared prefix).
        """
        layer = rootfs_tar('twins ' + repository)
        layer_digest = 'sha256:' + hashlib.sha256(layer).hexdigest()
        seen, blobs, containerd = {}, {layer_digest: layer}, self.containerd
        for serial in range(1 << 24):
            config = json.dumps({'architecture': 'amd64', 'os': 'linux', 'created': '2026-01-01T00:00:00Z',
                                 'config': {'Cmd': ['/bin/sh'], 'Labels': {'twin': str(serial)}},
                                 'rootfs': {'type': 'layers', 'diff_ids': [layer_digest]}}).encode()
            config_digest = 'sha256:' + hashlib.sha256(config).hexdigest()
            manifest = json.dumps({'schemaVersion': 2, 'mediaType': 'application/vnd.oci.image.manifest.v1+json',
                                   'config': {'mediaType': 'application/vnd.oci.image.config.v1+json',
                                              'digest': config_digest, 'size': len(config)},
                                   'layers': [{'mediaType': 'application/vnd.oci.image.layer.v1.tar',
                                               'digest': layer_digest, 'size': len(layer)}]}).encode()
            manifest_digest = 'sha256:' + hashlib.sha256(manifest).hexdigest()
            image_id = manifest_digest if containerd else config_digest
            prefix = image_id[7:7 + digits]
            if prefix in seen and seen[prefix][0] != image_id:
                break
            seen[prefix] = (image_id, config_digest, config, manifest_digest, manifest)
        pair = [seen[prefix], (image_id, config_digest, config, manifest_digest, manifest)]
        index, classic = [], []
        for tag, (_image_id, config_digest, config, manifest_digest, manifest) in zip('ab', pair):
            blobs.update({config_digest: config, manifest_digest: manifest})
            name = '%s:%s' % (repository, tag)
            index.append({'mediaType': 'application/vnd.oci.image.manifest.v1+json', 'digest': manifest_digest,
                          'size': len(manifest), 'annotations': {'io.containerd.image.name': 'docker.io/' + name,
                                                                 'org.opencontainers.image.ref.name': tag}})
            classic.append({'Config': 'blobs/sha256/' + config_digest[7:], 'RepoTags': [name],
                            'Layers': ['blobs/sha256/' + layer_digest[7:]]})
        files = {'oci-layout': json.dumps({'imageLayoutVersion': '1.0.0'}).encode(),
                 'index.json': json.dumps({'schemaVersion': 2, 'manifests': index}).encode(),
                 'manifest.json': json.dumps(classic).encode()}
        files.update(('blobs/sha256/' + digest[7:], data) for digest, data in blobs.items())
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode='w') as tar:
            for path, data in sorted(files.items()):
                info = tarfile.TarInfo(path)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        for event in self.api.load_image(buffer.getvalue()):
            assert 'error' not in event, event
        ids = [self.image_id('%s:%s' % (repository, tag)) for tag in 'ab']
        assert ids == [pair[0][0], pair[1][0]], (ids, pair[0][0], pair[1][0])
        return ids[0], ids[1], prefix

    def image_id(self, reference):
        try:
            return self.api.inspect_image(reference)['Id']
        except docker.errors.NotFound:
            return None


class Run:
    def __init__(self, results, stdout, stderr):
        self.results = results
        self.stdout = stdout
        self.stderr = stderr

    def __getitem__(self, index):
        return self.results[index]

    def __len__(self):
        return len(self.results)


def task(module, check=False, diff=True, **args):
    """One task of a test playbook; failures are recorded, not fatal, so every task reports."""
    name = module if '.' in module else 'dockyard.docker.' + module
    return {'name': '%s %s' % (name, 'check' if check else 'apply'), name: args,
            'check_mode': check, 'diff': diff, 'ignore_errors': True}


class Ansible:
    """Runs playbooks with ansible-playbook, the way users do, and records every task result."""

    def __init__(self, collections_root, environment):
        self.collections_root = collections_root
        self.environment = environment

    def run(self, *tasks, verbosity=0, extra_env=None, play=None):
        with tempfile.TemporaryDirectory() as workdir:
            playbook = Path(workdir, 'play.yml')
            record = Path(workdir, 'record.json')
            playbook.write_text(json.dumps([dict(hosts='localhost', gather_facts=False, tasks=list(tasks),
                                                 **(play or {}))]))
            env = dict(os.environ)
            env.update(self.environment, DOCKYARD_RECORD=str(record))
            env.update(extra_env or {})
            command = [str(Path(sys.executable).with_name('ansible-playbook')), '-i', 'localhost,', '-c', 'local',
                       '-e', 'ansible_python_interpreter=%s' % sys.executable, str(playbook)]
            if verbosity:
                command.append('-' + 'v' * verbosity)
            completed = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       check=False)
            if not record.exists():
                raise AssertionError('ansible-playbook did not run:\n%s\n%s' % (completed.stdout, completed.stderr))
            results = json.loads(record.read_text())
            answered(results)
            return Run(results, completed.stdout, completed.stderr)

    def module(self, module, check=False, diff=True, **args):
        """Run one module once and return its result."""
        return self.run(task(module, check=check, diff=diff, **args))[0]

    def sequence(self, module, **args):
        """The four runs every module must pass: check, apply, idempotent check, idempotent apply."""
        return self.run(task(module, check=True, **args), task(module, **args),
                        task(module, check=True, **args), task(module, **args)).results


@pytest.fixture(scope='session')
def engine():
    host, registry = _engine_environment()
    return Engine(host, registry)


@pytest.fixture(scope='session')
def ansible(engine):
    collections_root = os.environ.get('DOCKYARD_COLLECTIONS') or str(REPO / '.build')
    return Ansible(collections_root, {
        'ANSIBLE_COLLECTIONS_PATH': collections_root,
        'ANSIBLE_CALLBACK_PLUGINS': str(HERE / 'plugins' / 'callback'),
        'ANSIBLE_CALLBACKS_ENABLED': 'record',
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_LOCALHOST_WARNING': '0',
        'ANSIBLE_INVENTORY_UNPARSED_WARNING': '0',
        'DOCKER_HOST': engine.host,
        'TZ': 'UTC',
    })


@pytest.fixture
def unique():
    """A short name part no other test uses, so tests never share images."""
    return uuid.uuid4().hex[:8]
