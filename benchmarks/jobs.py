"""Every job of the performance issue, three ways in one run: dockyard.docker, community.docker, the docker CLI.

Each job is done against the same real engine and registry by one dockyard.docker task over the whole
list, by community.docker's module (looped where it takes one name), and by the docker CLI (four commands
at a time where the job allows), several rounds each. The limit of a job is what the engine itself needs
(the CLI's time) plus the floor, an empty ``ansible-playbook`` run: no playbook can do better. A no-op
re-run has no CLI counterpart; its cost is read as time over the floor.

Results: ``jobs.json`` (every sample), ``jobs.md`` (medians with min-max, the ratios, the machine and the
engine) and ``jobs.png`` (the ratios against the limit), in ``--output``. Run through ``benchmarks/run``,
which prepares the engine and the peer virtualenv; ``--smoke`` is the small, one-round run CI makes.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
CLI_PARALLEL = 4
US, PEER, CLI = 'dockyard.docker', 'community.docker', 'docker CLI'


class Random:
    """A file object of ``size`` random bytes, read in chunks: big payloads never sit in memory."""

    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return os.urandom(size)


def rootfs(path, marker, payload_bytes):
    with tarfile.open(path, 'w') as tar:
        tar.add('/bin/busybox', arcname='bin/busybox')
        for name, size, content in (('etc/marker', len(marker), io.BytesIO(marker.encode())),
                                    ('var/payload', payload_bytes, Random(payload_bytes))):
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, content)


class Job:
    """One row: ``runs`` maps each way to (prepare, work); ``noop`` jobs are read against the floor.

    ``module`` is the dockyard.docker module ours runs, whose imports the profile times.
    """

    def __init__(self, title, module, runs, noop=False):
        self.title = title
        self.module = module
        self.runs = runs
        self.noop = noop


class Bench:
    def __init__(self, args):
        self.args = args
        self.host = os.environ['DOCKER_HOST']
        self.registry = os.environ['DOCKYARD_REGISTRY']
        self.api = docker.APIClient(base_url=self.host, version='auto', timeout=600)
        self.python = Path(args.peer_venv, 'bin', 'python')
        self.playbook = Path(args.peer_venv, 'bin', 'ansible-playbook')
        self.workdir = Path(tempfile.mkdtemp(prefix='dockyard-bench-', dir=args.workdir))
        self.names = []
        self.tags = []
        self.big = '%s/bench/big:1.0' % self.registry
        self.serial = 0

    # --- the images the jobs work on -----------------------------------------------------------------

    def make_image(self, reference, payload_bytes):
        path = self.workdir / 'rootfs.tar'
        rootfs(str(path), reference + str(time.time()), payload_bytes)
        repository, tag = reference.rsplit(':', 1)
        self.api.import_image_from_file(str(path), repository=repository, tag=tag)
        path.unlink()

    def prepare_images(self):
        for number in range(self.args.images):
            name = '%s/bench/image-%02d:1.0' % (self.registry, number)
            self.make_image(name, self.args.payload_mib << 20)
            for event in self.api.push(name.rsplit(':', 1)[0], tag='1.0', stream=True, decode=True):
                if 'error' in event:
                    raise SystemExit('push failed: %s' % event['error'])
            self.names.append(name)
        self.make_image(self.big, self.args.big_mib << 20)
        self.inspected = [self.big] + self.names
        for number in range(max(0, self.args.inspect - len(self.inspected))):
            name = 'bench/inspect-%03d:1.0' % number
            self.make_image(name, 0)
            self.inspected.append(name)

    def drop(self, names):
        for name in names:
            try:
                self.api.remove_image(name, force=True)
            except docker.errors.NotFound:
                pass

    # --- the three ways -------------------------------------------------------------------------------

    def play(self, *tasks):
        with tempfile.NamedTemporaryFile('w', suffix='.yml', dir=str(self.workdir)) as handle:
            json.dump([{'hosts': 'localhost', 'gather_facts': False, 'tasks': list(tasks)}], handle)
            handle.flush()
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.args.collections, ANSIBLE_LOCALHOST_WARNING='0',
                       ANSIBLE_INVENTORY_UNPARSED_WARNING='0', ANSIBLE_DEPRECATION_WARNINGS='0')
            completed = subprocess.run(
                [str(self.playbook), '-i', 'localhost,', '-c', 'local', '-e',
                 'ansible_python_interpreter=%s' % self.python, handle.name],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
            if completed.returncode:
                raise SystemExit('a benchmark play failed:\n%s' % completed.stdout[-3000:])

    def cli(self, *args):
        subprocess.run(['docker', '-H', self.host, *args], check=True, stdout=subprocess.DEVNULL)

    def cli_each(self, command, names):
        """``docker COMMAND NAME`` for each name, CLI_PARALLEL at a time."""
        with concurrent.futures.ThreadPoolExecutor(CLI_PARALLEL) as pool:
            list(pool.map(lambda name: self.cli(*command, name), names))

    @staticmethod
    def loop(module, names, **args):
        return {module: dict(args, name='{{ item }}'), 'loop': names}

    def fresh_tags(self, way):
        """New tags of the small images, for a push or a remove: their names."""
        self.serial += 1
        tags = ['%s:%s-%d' % (name.rsplit(':', 1)[0], way.split('.')[0].replace(' ', ''), self.serial)
                for name in self.names]
        for name, tag in zip(self.names, tags):
            self.api.tag(name, *tag.rsplit(':', 1))
        self.tags += tags
        return tags

    # --- the jobs --------------------------------------------------------------------------------------

    def jobs(self):
        names, count = self.names, len(self.names)
        archive = str(self.workdir / 'big.tar')
        pull = {US: (lambda: self.drop(names), lambda: self.play({'dockyard.docker.image_pull': {'name': names}})),
                PEER: (lambda: self.drop(names), lambda: self.play(self.loop('community.docker.docker_image_pull', names))),
                CLI: (lambda: self.drop(names), lambda: self.cli_each(('pull', '-q'), names))}
        yield Job('pull %d × %d MiB, absent' % (count, self.args.payload_mib), 'image_pull', pull)
        yield Job('same, all present', 'image_pull', {way: (None, work) for way, (_prepare, work) in pull.items() if way != CLI}, noop=True)
        pushed = {}

        def push_prepare(way):
            return lambda: pushed.__setitem__(way, self.fresh_tags(way))

        yield Job('push %d new tags' % count, 'image_push', {
            US: (push_prepare(US), lambda: self.play({'dockyard.docker.image_push': {'name': pushed[US]}})),
            PEER: (push_prepare(PEER), lambda: self.play(self.loop('community.docker.docker_image_push', pushed[PEER]))),
            CLI: (push_prepare(CLI), lambda: self.cli_each(('push', '-q'), pushed[CLI]))})
        yield Job('same again (registry has them)', 'image_push', {
            US: (None, lambda: self.play({'dockyard.docker.image_push': {'name': pushed[US]}})),
            PEER: (None, lambda: self.play(self.loop('community.docker.docker_image_push', pushed[PEER])))}, noop=True)
        yield Job('remove %d tags' % count, 'image_remove', {
            US: (push_prepare(US), lambda: self.play({'dockyard.docker.image_remove': {'name': pushed[US]}})),
            PEER: (push_prepare(PEER), lambda: self.play(self.loop('community.docker.docker_image_remove', pushed[PEER]))),
            CLI: (push_prepare(CLI), lambda: self.cli_each(('rmi',), pushed[CLI]))})
        big_mb = '%d MB' % (self.api.inspect_image(self.big)['Size'] / 1e6)

        def no_archive():
            if os.path.exists(archive):
                os.unlink(archive)

        save_us = {'dockyard.docker.image_archive': {'names': [self.big], 'path': archive}}
        save_peer = {'community.docker.docker_image_export': {'names': [self.big], 'path': archive}}
        yield Job('save a %s image' % big_mb, 'image_archive', {
            US: (no_archive, lambda: self.play(save_us)),
            PEER: (no_archive, lambda: self.play(save_peer)),
            CLI: (no_archive, lambda: self.cli('save', '-o', archive, self.big))})
        yield Job('save again, unchanged', 'image_archive', {
            US: (None, lambda: self.play(save_us)),
            PEER: (None, lambda: self.play(save_peer))}, noop=True)

        def no_big():
            self.drop([self.big])

        load_us = {'dockyard.docker.image_load': {'path': archive}}
        load_peer = {'community.docker.docker_image_load': {'path': archive}}
        yield Job('load that archive', 'image_load', {
            US: (no_big, lambda: self.play(load_us)),
            PEER: (no_big, lambda: self.play(load_peer)),
            CLI: (no_big, lambda: self.cli('load', '-q', '-i', archive))})
        yield Job('load again (present)', 'image_load', {
            US: (None, lambda: self.play(load_us)),
            PEER: (None, lambda: self.play(load_peer))}, noop=True)
        every = self.inspected
        yield Job('inspect all of %d images' % len(every), 'image_info', {
            US: (None, lambda: self.play({'dockyard.docker.image_info': {'name': every}})),
            PEER: (None, lambda: self.play({'community.docker.docker_image_info': {'name': every}})),
            CLI: (None, lambda: self.cli('image', 'inspect', *every))})

    # --- measuring ------------------------------------------------------------------------------------

    def samples(self, prepare, work):
        seconds = []
        for _round in range(self.args.rounds):
            if prepare:
                prepare()
            start = time.perf_counter()
            work()
            seconds.append(time.perf_counter() - start)
        return seconds

    def import_seconds(self, module):
        """How long a fresh Python takes to import ``module`` of the collection beyond what any module imports.

        ``ansible.module_utils.basic`` is imported first, untimed: a ping task pays for it too.
        """
        code = ('import time, ansible.module_utils.basic; start = time.perf_counter(); '
                'import ansible_collections.dockyard.docker.plugins.modules.%s; print(time.perf_counter() - start)' % module)
        env = dict(os.environ, PYTHONPATH=self.args.collections)
        seconds = [float(subprocess.run([str(self.python), '-c', code], env=env, check=True, stdout=subprocess.PIPE,
                                        text=True).stdout) for _attempt in range(5)]
        return statistics.median(seconds)

    def run(self):
        self.prepare_images()
        self.store_size = len(self.api.images())
        floor = self.samples(None, self.play)
        trivial = self.samples(None, lambda: self.play({'ansible.builtin.ping': {}}))
        rows, imports = [], {}
        for job in self.jobs():
            if job.module not in imports:
                imports[job.module] = self.import_seconds(job.module)
            rows.append({'job': job.title, 'noop': job.noop, 'module': job.module,
                         'seconds': {way: self.samples(prepare, work) for way, (prepare, work) in job.runs.items()}})
            medians = ', '.join('%s %.2fs' % (way, statistics.median(times)) for way, times in rows[-1]['seconds'].items())
            print('  %s: %s' % (job.title, medians), flush=True)
        return {'floor': floor, 'trivial': trivial, 'imports': imports, 'rows': rows, 'store': self.store_size,
                'machine': machine(), 'engine': engine(self.api),
                'rounds': self.args.rounds, 'date': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}


def machine():
    model = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                  if line.startswith('model name')), platform.machine())
    memory = next(int(line.split()[1]) for line in Path('/proc/meminfo').read_text().splitlines()
                  if line.startswith('MemTotal'))
    return '%s, %d cores, %.0f GiB RAM, Python %s' % (model, os.cpu_count(), memory / 1024 / 1024, platform.python_version())


def engine(api):
    version, info = api.version(), api.info()
    status = dict(info.get('DriverStatus') or [])
    store = 'containerd image store' if status.get('driver-type') == 'io.containerd.snapshotter.v1' else 'classic store'
    return 'Docker %s (API %s), %s, storage driver %s' % (version['Version'], version['ApiVersion'], store, info['Driver'])


def spread(times):
    return '%.2f s (%.2f–%.2f)' % (statistics.median(times), min(times), max(times)) if len(times) > 1 else '%.2f s' % times[0]


def verdict(row, floor):
    """What ours costs against the job's limit: a ratio to CLI + floor, or the time over the floor for a no-op."""
    ours = statistics.median(row['seconds'][US])
    if row['noop'] or CLI not in row['seconds']:
        return ours - floor, 'floor + %.2f s' % (ours - floor)
    limit = statistics.median(row['seconds'][CLI]) + floor
    return ours / limit, '%.2f×' % (ours / limit)


def markdown(results):
    floor = statistics.median(results['floor'])
    lines = ['# Benchmark: dockyard.docker beside community.docker and the docker CLI', '',
             '- Machine: %s' % results['machine'],
             '- Engine: %s, %d images in its store during the run' % (results['engine'], results['store']),
             '- When: %s, %d round(s) per cell, medians with min–max' % (results['date'], results['rounds']),
             '- Floor (an empty `ansible-playbook` run): %s' % spread(results['floor']),
             '- Limit of a job: the docker CLI doing it (%d commands at a time where the job allows) + the floor'
             % CLI_PARALLEL, '',
             '| job | docker CLI | community.docker | dockyard.docker | ours against the limit |',
             '|---|---|---|---|---|']
    for row in results['rows']:
        seconds = row['seconds']
        lines.append('| %s | %s | %s | %s | %s |' % (
            row['job'], spread(seconds[CLI]) if CLI in seconds else '—', spread(seconds[PEER]),
            spread(seconds[US]), verdict(row, floor)[1]))
    task = statistics.median(results['trivial']) - floor
    lines += ['', '## Where the time of ours goes', '',
              'A profile of each run of ours, from the same run: the floor; what Ansible spends on any one task '
              '(an `ansible.builtin.ping` task costs the floor + %.2f s); the time a fresh Python takes to import the '
              'module beyond what ping imports (its module_utils, the Docker SDK, requests); and the rest, the module\'s calls to the daemon '
              'and the registry and its own work, against what the docker CLI needs for the job.' % task, '',
              '| job | ours | floor | one task | imports | the rest | docker CLI |', '|---|---|---|---|---|---|---|']
    for row in results['rows']:
        ours = statistics.median(row['seconds'][US])
        imports = results['imports'][row['module']]
        lines.append('| %s | %.2f s | %.2f s | %.2f s | %.2f s (%s) | %.2f s | %s |' % (
            row['job'], ours, floor, task, imports, row['module'], ours - floor - task - imports,
            '%.2f s' % statistics.median(row['seconds'][CLI]) if CLI in row['seconds'] else '—'))
    return '\n'.join(lines) + '\n'


def chart(results, path):
    import matplotlib
    matplotlib.use('Agg')
    from matplotlib import pyplot

    floor = statistics.median(results['floor'])
    rows = [row for row in results['rows'] if CLI in row['seconds'] and not row['noop']]
    labels = [row['job'] for row in rows]
    limits = [statistics.median(row['seconds'][CLI]) + floor for row in rows]
    figure, axes = pyplot.subplots(figsize=(9, 0.6 * len(rows) + 1.8))
    positions = range(len(rows))
    for offset, way in ((-0.2, US), (0.2, PEER)):
        axes.barh([p + offset for p in positions], [statistics.median(row['seconds'][way]) / limit
                                                    for row, limit in zip(rows, limits)], height=0.38, label=way)
    axes.axvline(1.0, color='black', linewidth=0.8)
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xscale('log')
    axes.set_xlabel('time against the limit (docker CLI + empty ansible-playbook), log scale; 1 = the limit')
    axes.set_title('%s\n%s' % (results['engine'], results['date']), fontsize=9)
    axes.legend()
    figure.tight_layout()
    figure.savefig(str(path), dpi=110)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--payload-mib', type=int, default=5, help='random data in each small image')
    parser.add_argument('--big-mib', type=int, default=300, help='random data in the image saved and loaded')
    parser.add_argument('--inspect', type=int, default=240, help='images in the store for the inspect job')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--smoke', action='store_true', help='one round of small sizes: that every job still runs')
    parser.add_argument('--peer-venv', default=str(REPO / '.venv-peer'))
    parser.add_argument('--collections', default=str(REPO / '.build'))
    parser.add_argument('--workdir', default=None, help='where the archives and root filesystems are written')
    parser.add_argument('--output', default=str(REPO / 'benchmarks' / 'results'))
    args = parser.parse_args()
    if args.smoke:
        args.images, args.payload_mib, args.big_mib, args.inspect, args.rounds = 3, 1, 8, 8, 1
    bench = Bench(args)
    try:
        results = bench.run()
    finally:
        bench.drop(bench.tags + getattr(bench, 'inspected', []) + bench.names)
        subprocess.run(['rm', '-rf', str(bench.workdir)], check=False)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / 'jobs.json').write_text(json.dumps(results, indent=2) + '\n')
    (output / 'jobs.md').write_text(markdown(results))
    chart(results, output / 'jobs.png')
    print(markdown(results))
    return 0


if __name__ == '__main__':
    sys.exit(main())
