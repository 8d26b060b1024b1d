"""The space check of pulls and loads, against a second real engine whose whole state is a small tmpfs.

The guard compares twice what lands (the layers as the registry's manifest gives them, or the archive's tar)
with the space free in the daemon's data root. The engine of the other tests has a roomy disk, so these tests
start one more engine of the same kind (scripts/engine, on a state directory that is a 32 MiB tmpfs) and give
it a 24 MiB image of random bytes, which no compression makes smaller.
"""

from __future__ import annotations

import os
import re
import subprocess
import tarfile
import tempfile

import pytest
import requests

from conftest import REPO, task
from test_image_archive import human
import secure_registry as registries

pytestmark = pytest.mark.fault

RANDOM_BYTES = 24 * 1024 * 1024
MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json'


class SmallEngine:
    """An engine of the kind the tests run on, with its data root on a tmpfs of ``size``."""

    def __init__(self, size):
        self.state = tempfile.mkdtemp(prefix='dy-small-', dir='/tmp')  # short: unix socket paths hold 107 bytes
        self.size = size
        self.env = dict(os.environ, DOCKYARD_STATE=self.state, DOCKYARD_REGISTRY_PORT=str(registries.free_port()))
        self.host = 'unix://%s/docker.sock' % self.state

    def start(self):
        subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=%s' % self.size, 'tmpfs', self.state], check=True)
        subprocess.run([str(REPO / 'scripts' / 'engine'), 'start'], env=self.env, check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.run([str(REPO / 'scripts' / 'engine'), 'stop'], env=self.env, check=False, stdout=subprocess.DEVNULL)
        subprocess.run(['umount', self.state], check=False)
        os.rmdir(self.state)

    def cli(self, *args):
        return subprocess.run(['docker', '-H', self.host, *args], capture_output=True, text=True, check=False)

    def data_root(self):
        return self.cli('info', '--format', '{{.DockerRootDir}}').stdout.strip()

    def images(self):
        return self.cli('images', '-q', '--no-trunc').stdout.split()


@pytest.fixture(scope='module')
def small_engine():
    engine = SmallEngine('32m')
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture(scope='module')
def big_image(engine):
    """An image of one 24 MiB layer of random bytes in the tests' registry; its reference."""
    reference = '%s/space/big:1.0' % engine.registry
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, 'random'), 'wb') as handle:
            handle.write(os.urandom(RANDOM_BYTES))
        with tarfile.open(os.path.join(workdir, 'rootfs.tar'), 'w') as tar:
            tar.add(os.path.join(workdir, 'random'), arcname='random')
        with open(os.path.join(workdir, 'rootfs.tar'), 'rb') as handle:
            engine.api.import_image_from_data(handle.read(), repository=reference.rsplit(':', 1)[0], tag='1.0')
    for event in engine.api.push(reference.rsplit(':', 1)[0], tag='1.0', stream=True, decode=True):
        assert 'error' not in event, event
    return reference


def free_space(directory):
    stat = os.statvfs(directory)
    return stat.f_bavail * stat.f_frsize


def refusal(action, needed, root, untouched):
    """The words of a refusal, with the free space as a pattern: the engine's own logs share its tmpfs."""
    return re.compile(r'%s: it needs about %s \(%d bytes\) and %s has \S+ \((\d+) bytes\) free; %s '
                      r'\(disk_check: false skips this check\)$'
                      % (re.escape(action), re.escape(human(needed)), needed, re.escape(root), untouched))


def assert_refused(result, pattern, root):
    assert result['failed'] is True
    found = pattern.match(result['msg'])
    assert found, result['msg']
    assert abs(int(found.group(1)) - free_space(root)) < 1024 * 1024, 'the free space the module saw, give or take logs'


def manifest_bytes(engine, reference):
    """The config and layer sizes the registry's manifest gives for ``reference``."""
    path, tag = reference.split('/', 1)[1].rsplit(':', 1)
    manifest = requests.get('http://%s/v2/%s/manifests/%s' % (engine.registry, path, tag), timeout=30,
                            headers={'Accept': MANIFEST_TYPES}).json()
    return manifest['config']['size'] + sum(layer['size'] for layer in manifest['layers'])


def test_a_pull_that_cannot_fit_fails_before_anything_moves(ansible, engine, small_engine, big_image):
    root = small_engine.data_root()
    needed = 2 * manifest_bytes(engine, big_image)
    assert needed > free_space(root) > needed / 4, 'the image fits once, in what arrives, but not unpacked too'
    pattern = refusal('failed to pull %s' % big_image, needed, root, 'nothing was pulled')
    check, apply = ansible.run(task('image_pull', check=True, name=big_image, docker_host=small_engine.host),
                               task('image_pull', name=big_image, docker_host=small_engine.host)).results
    for result in (check, apply):
        assert_refused(result, pattern, root)
    assert small_engine.images() == []
    unchecked = ansible.module('image_pull', name=big_image, docker_host=small_engine.host, disk_check=False)
    assert unchecked['failed'] is True
    assert 'no space left on device' in unchecked['msg'], 'the guard refused what the daemon cannot do'


def test_a_load_that_cannot_fit_fails_before_anything_is_sent(ansible, engine, small_engine, big_image, tmp_path):
    archive = tmp_path / 'big.tar'
    with archive.open('wb') as handle:
        for chunk in engine.api.get_image(big_image):
            handle.write(chunk)
    with tarfile.open(str(archive)) as tar:
        content = max(member.offset_data + member.size for member in tar.getmembers())
    subprocess.run(['docker', '-H', small_engine.host, 'image', 'prune', '-af'], check=True, capture_output=True)
    root = small_engine.data_root()
    pattern = refusal('failed to load %s' % archive, 2 * content, root, 'nothing was loaded')
    check, apply = ansible.run(task('image_load', check=True, path=str(archive), docker_host=small_engine.host),
                               task('image_load', path=str(archive), docker_host=small_engine.host)).results
    for result in (check, apply):
        assert_refused(result, pattern, root)
    assert small_engine.images() == []
