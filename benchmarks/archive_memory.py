"""Peak memory of archiving and loading a big image: dockyard.docker beside community.docker and the docker CLI.

image_archive streams ``docker save`` from the daemon to disk and image_load streams the file to the
daemon, so their memory must stay flat whatever the image size. This makes images of random data
(``/dev/urandom`` in a root filesystem tar, imported with ``docker import``): a small one and one of at
least 1 GiB. Each is archived and loaded three ways, each in its own process, and the peak resident
set size (``ru_maxrss`` of exactly that process, from ``wait4``) is reported, with ratios:

- the module process itself (the module file run with its arguments, as AnsiballZ runs it on a host),
- community.docker's docker_image_export / docker_image_load the same way (when its venv has it),
- ``docker save -o`` / ``docker load -i`` (the CLI process; the daemon does the work for all three).

Run it with ``benchmarks/run archive``; it is never part of the test suite (it writes several GiB).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024


def random_rootfs(path, payload_mib):
    """A root filesystem tar with ``payload_mib`` MiB of random data, in 64 MiB files, written in a stream."""
    with tarfile.open(str(path), mode='w') as tar, open('/dev/urandom', 'rb') as noise:
        remaining = payload_mib
        number = 0
        while remaining > 0:
            size = min(64, remaining)
            info = tarfile.TarInfo('payload/%03d.bin' % number)
            info.size, info.mode = size * MIB, 0o644
            tar.addfile(info, noise)
            remaining -= size
            number += 1


def run_measured(command, env=None):
    """``(peak RSS in MiB, seconds, stdout)`` of one process, waited for with wait4."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env)
        # communicate() would reap the child itself: read its output, then wait4 for its own rusage.
        stdout = process.stdout.read()
        process.stdout.close()
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        stderr = errors.read()
    seconds = time.perf_counter() - start
    if process.returncode:
        raise SystemExit('%s failed (%d):\n%s\n%s' % (
            ' '.join(command), process.returncode, stdout.decode()[-2000:], stderr.decode()[-2000:]))
    return usage.ru_maxrss / 1024.0, seconds, stdout.decode()


class Bench:
    def __init__(self, args):
        self.args = args
        self.host = os.environ['DOCKER_HOST']
        self.api = docker.APIClient(base_url=self.host, version='auto', timeout=600)
        self.python = sys.executable
        self.workdir = Path(tempfile.mkdtemp(prefix='dockyard-archive-bench-', dir=args.workdir))
        self.collections = [args.collections] + [path for path in sys.path if Path(path, 'ansible_collections').is_dir()]

    def module_file(self, collection, name):
        for root in self.collections:
            path = Path(root, 'ansible_collections', collection.replace('.', '/'), 'plugins', 'modules', name + '.py')
            if path.exists():
                return path
        return None

    def run_module(self, path, arguments):
        """Run a module file as AnsiballZ runs it on the host: one process, its arguments in a JSON file."""
        args_file = self.workdir / 'args.json'
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': dict(arguments, docker_host=self.host)}))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(self.collections))
        rss, seconds, stdout = run_measured([self.python, str(path), str(args_file)], env=env)
        result = json.loads(stdout[stdout.index('{'):])
        if result.get('failed'):
            raise SystemExit('%s failed: %s' % (path.name, result.get('msg')))
        return rss, seconds

    def cli(self, *args):
        return run_measured(['docker', '-H', self.host, *args])[:2]

    def make_image(self, payload_mib):
        reference = 'bench/archive-%dmib:1.0' % payload_mib
        rootfs = self.workdir / 'rootfs.tar'
        random_rootfs(rootfs, payload_mib)
        subprocess.run(['docker', '-H', self.host, 'import', str(rootfs), reference], check=True,
                       stdout=subprocess.DEVNULL)
        rootfs.unlink()
        return reference

    def drop(self, reference):
        try:
            self.api.remove_image(reference, force=True)
        except docker.errors.NotFound:
            pass

    def measure(self, payload_mib):
        reference = self.make_image(payload_mib)
        archive = self.workdir / 'image.tar'
        rows = {}
        contenders = {
            'dockyard.docker': (self.module_file('dockyard.docker', 'image_archive'),
                                self.module_file('dockyard.docker', 'image_load'),
                                dict(names=[reference], path=str(archive), force=True), dict(path=str(archive))),
            'community.docker': (self.module_file('community.docker', 'docker_image_export'),
                                 self.module_file('community.docker', 'docker_image_load'),
                                 dict(names=[reference], path=str(archive), force=True), dict(path=str(archive))),
        }
        for who, (export_module, load_module, export_args, load_args) in contenders.items():
            if export_module is None or load_module is None:
                print('benchmarks: %s not found next to %s, left out' % (who, self.python), file=sys.stderr)
                continue
            save = self.run_module(export_module, export_args)
            size = archive.stat().st_size
            self.drop(reference)
            load = self.run_module(load_module, load_args)
            archive.unlink()
            rows[who] = {'save': save, 'load': load}
        save = self.cli('save', '-o', str(archive), reference)
        size = archive.stat().st_size
        self.drop(reference)
        load = self.cli('load', '-i', str(archive))
        archive.unlink()
        rows['docker CLI'] = {'save': save, 'load': load}
        self.drop(reference)
        return {
            'payload_mib': payload_mib,
            'archive_mib': round(size / MIB, 1),
            'peak_rss_mib': {who: {verb: round(value[0], 1) for verb, value in row.items()} for who, row in rows.items()},
            'seconds': {who: {verb: round(value[1], 2) for verb, value in row.items()} for who, row in rows.items()},
        }

    def run(self):
        try:
            results = [self.measure(mib) for mib in self.args.sizes_mib]
        finally:
            for leftover in self.workdir.iterdir():
                leftover.unlink()
            self.workdir.rmdir()
        small, big = results[0], results[-1]
        ratios = {}
        for verb in ('save', 'load'):
            mine = big['peak_rss_mib']['dockyard.docker'][verb]
            ratios[verb] = {
                'dockyard_vs_cli': round(mine / big['peak_rss_mib']['docker CLI'][verb], 2),
                'dockyard_big_vs_small': round(mine / small['peak_rss_mib']['dockyard.docker'][verb], 2),
            }
            if 'community.docker' in big['peak_rss_mib']:
                ratios[verb]['dockyard_vs_community'] = round(mine / big['peak_rss_mib']['community.docker'][verb], 2)
        return {'runs': results, 'ratios_at_largest_size': ratios}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes-mib', type=int, nargs='+', default=[64, 1100],
                        help='random payload of each image, smallest first; the last must be at least 1024')
    parser.add_argument('--collections', default=str(REPO / '.build'))
    parser.add_argument('--workdir', default=None, help='where the rootfs and archives are written (default: TMPDIR)')
    parser.add_argument('--output', default=str(REPO / 'benchmarks' / 'results'),
                        help='where archive.json and archive.md are written')
    args = parser.parse_args()
    if args.sizes_mib[-1] < 1024:
        parser.error('the largest image must hold at least 1024 MiB')
    bench = Bench(args)
    report = dict(bench.run(), engine=engine_line(bench.api),
                  date=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    (output / 'archive.json').write_text(json.dumps(report, indent=2) + '\n')
    (output / 'archive.md').write_text(markdown(report))
    print(markdown(report))
    return 0


def engine_line(api):
    version = api.version()
    status = dict(api.info().get('DriverStatus') or [])
    store = 'containerd image store' if status.get('driver-type') == 'io.containerd.snapshotter.v1' else 'classic store'
    return 'Docker %s (API %s), %s' % (version['Version'], version['ApiVersion'], store)


def markdown(report):
    """The report as the table the docs include: for each size and way, peak memory and seconds."""
    lines = ['# Archive benchmark: peak memory and time of save and load', '',
             '- Engine: %s' % report['engine'], '- When: %s, one run per cell' % report['date'],
             '- Peak memory: the resident set size of the one process doing the work (the module process, as on a '
             'managed host, or the docker CLI; the daemon works for all three)', '',
             '| image | way | save: peak MiB | save: s | load: peak MiB | load: s |', '|---|---|---|---|---|---|']
    for run in report['runs']:
        for who, rss in run['peak_rss_mib'].items():
            seconds = run['seconds'][who]
            lines.append('| %d MiB (archive %.0f MiB) | %s | %.1f | %.2f | %.1f | %.2f |' % (
                run['payload_mib'], run['archive_mib'], who, rss['save'], seconds['save'], rss['load'], seconds['load']))
    big = report['runs'][-1]['seconds']
    lines += ['', 'At the largest size, dockyard.docker against the docker CLI: save %.2f× the time, load %.2f×; '
              'peak memory against its own at the smallest size: save %.2f×, load %.2f×.' % (
                  big['dockyard.docker']['save'] / big['docker CLI']['save'],
                  big['dockyard.docker']['load'] / big['docker CLI']['load'],
                  report['ratios_at_largest_size']['save']['dockyard_big_vs_small'],
                  report['ratios_at_largest_size']['load']['dockyard_big_vs_small']), '']
    return '\n'.join(lines)


if __name__ == '__main__':
    sys.exit(main())
