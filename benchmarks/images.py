"""Pull and inspect many images: dockyard.docker beside community.docker and the docker CLI, in one run.

Each scenario runs the same work three ways against the same real engine and registry, a few
rounds each, and reports the median wall time and the ratios. Run it with ``benchmarks/run``,
which prepares the engine and the peer virtualenv (the PyPI ``ansible`` package, which bundles
community.docker); never part of the test suite.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]


def rootfs_tar(marker, payload_bytes):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode='w') as tar:
        tar.add('/bin/busybox', arcname='bin/busybox')
        for name, content in (('etc/marker', marker.encode()), ('var/payload', os.urandom(payload_bytes))):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


class Bench:
    def __init__(self, args):
        self.args = args
        self.host = os.environ['DOCKER_HOST']
        self.registry = os.environ['DOCKYARD_REGISTRY']
        self.api = docker.APIClient(base_url=self.host, version='auto', timeout=300)
        self.python = Path(args.peer_venv, 'bin', 'python')
        self.playbook = Path(args.peer_venv, 'bin', 'ansible-playbook')
        self.names = []

    def publish(self):
        for number in range(self.args.images):
            repository = '%s/bench/image-%02d' % (self.registry, number)
            self.api.import_image_from_data(rootfs_tar(repository, self.args.payload_mib << 20),
                                            repository=repository, tag='1.0')
            for event in self.api.push(repository, tag='1.0', stream=True, decode=True):
                if 'error' in event:
                    raise SystemExit('push failed: %s' % event['error'])
            self.names.append(repository + ':1.0')

    def drop_local(self):
        for name in self.names:
            try:
                self.api.remove_image(name, force=True)
            except docker.errors.NotFound:
                pass

    def play(self, tasks):
        with tempfile.NamedTemporaryFile('w', suffix='.yml') as handle:
            json.dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}], handle)
            handle.flush()
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.args.collections, ANSIBLE_LOCALHOST_WARNING='0',
                       ANSIBLE_INVENTORY_UNPARSED_WARNING='0')
            subprocess.run([str(self.playbook), '-i', 'localhost,', '-c', 'local', '-e',
                            'ansible_python_interpreter=%s' % self.python, handle.name],
                           env=env, check=True, stdout=subprocess.DEVNULL)

    def cli(self, *args):
        subprocess.run(['docker', '-H', self.host, *args], check=True, stdout=subprocess.DEVNULL)

    def timed(self, prepare, work):
        samples = []
        for _round in range(self.args.rounds):
            prepare()
            start = time.perf_counter()
            work()
            samples.append(time.perf_counter() - start)
        return statistics.median(samples)

    @staticmethod
    def nothing():
        """No preparation: the scenario starts from what the previous one left."""

    def scenarios(self):
        names = self.names
        yield 'pull %d images, none present' % len(names), self.drop_local, {
            'dockyard.docker': lambda: self.play([{'dockyard.docker.image_pull': {'name': names, 'parallel': 4}}]),
            'community.docker': lambda: self.play([{'community.docker.docker_image_pull': {'name': '{{ item }}'},
                                                    'loop': names}]),
            'docker CLI': lambda: [self.cli('pull', '-q', name) for name in names],
        }
        yield 'pull %d images, all present (pull: always)' % len(names), self.nothing, {
            'dockyard.docker': lambda: self.play([{'dockyard.docker.image_pull': {'name': names}}]),
            'community.docker': lambda: self.play([{'community.docker.docker_image_pull': {'name': '{{ item }}'},
                                                    'loop': names}]),
            'docker CLI': lambda: [self.cli('pull', '-q', name) for name in names],
        }
        yield 'inspect %d images' % len(names), self.nothing, {
            'dockyard.docker': lambda: self.play([{'dockyard.docker.image_info': {'name': names}}]),
            'community.docker': lambda: self.play([{'community.docker.docker_image_info': {'name': names}}]),
            'docker CLI': lambda: self.cli('image', 'inspect', *names),
        }

    def run(self):
        self.publish()
        report = []
        for title, prepare, contenders in self.scenarios():
            times = {who: self.timed(prepare, work) for who, work in contenders.items()}
            report.append({'scenario': title, 'seconds': times,
                           'dockyard_vs_community': times['dockyard.docker'] / times['community.docker'],
                           'dockyard_vs_cli': times['dockyard.docker'] / times['docker CLI']})
        return report


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=12)
    parser.add_argument('--payload-mib', type=int, default=8, help='random data in each image')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--peer-venv', default=str(REPO / '.venv-peer'))
    parser.add_argument('--collections', default=str(REPO / '.build'))
    parser.add_argument('--output', default=str(REPO / 'benchmarks' / 'results' / 'images.json'))
    args = parser.parse_args()
    report = Bench(args).run()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(report, indent=2))
    print('%-45s %10s %10s %10s %8s %8s' % ('scenario', 'dockyard', 'community', 'CLI', 'vs comm', 'vs CLI'))
    for row in report:
        seconds = row['seconds']
        print('%-45s %9.2fs %9.2fs %9.2fs %7.2fx %7.2fx' % (
            row['scenario'], seconds['dockyard.docker'], seconds['community.docker'], seconds['docker CLI'],
            row['dockyard_vs_community'], row['dockyard_vs_cli']))
    print('ratios are dockyard time / peer time: below 1 means dockyard is faster')
    return 0


if __name__ == '__main__':
    sys.exit(main())
