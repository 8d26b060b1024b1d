# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""What image_commit and image_import share: the ``changes`` lines and the name they write.

``parse_changes`` checks each line (``CMD``, ``ENV``, ``EXPOSE``, ...) as the daemon
would and names the bad one (``changes[2]: ...``); each ``Change`` knows what it
sets in an image config, so ``expected_settings`` predicts the config a commit
leaves and check mode stays exact.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._reference import parse_reference, with_tag

INSTRUCTIONS = ('CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'USER', 'VOLUME', 'WORKDIR')
_PORT = re.compile(r'^([0-9]{1,5})(?:-([0-9]{1,5}))?(?:/([A-Za-z]+))?$')


class Change:
    """One ``changes`` line: its instruction, its argument, and what it sets in the image config."""

    def __init__(self, index, line, taker='a commit'):
        self.where = 'changes[%d]' % index
        words = (line or '').strip().split(None, 1)
        instruction, self.argument = (words + ['', ''])[:2] if words else ('', '')
        self.instruction = instruction.upper()
        if not instruction:
            raise DockerError('%s: the line is empty' % self.where)
        if self.instruction not in INSTRUCTIONS:
            raise DockerError('%s: %s is not an instruction %s accepts; use one of %s'
                              % (self.where, instruction, taker, ', '.join(INSTRUCTIONS)))
        if not self.argument:
            raise DockerError('%s: %s needs an argument' % (self.where, self.instruction))
        getattr(self, '_check_' + self.instruction.lower(), lambda: None)()

    def _words(self):
        try:
            return shlex.split(self.argument)
        except ValueError as exc:
            raise DockerError("%s: %s '%s': %s" % (self.where, self.instruction, self.argument, exc))

    def pairs(self):
        """``[(key, value)]`` of ENV and LABEL, in either ``KEY=VALUE ...`` or ``KEY VALUE`` form."""
        words = self._words()
        if '=' not in words[0]:
            key_value = self.argument.split(None, 1)
            if len(key_value) < 2:
                raise DockerError('%s: %s needs KEY=VALUE pairs or KEY VALUE' % (self.where, self.instruction))
            return [tuple(key_value)]
        for word in words:
            if '=' not in word or word.startswith('='):
                raise DockerError("%s: '%s' is not of the form KEY=VALUE" % (self.where, word))
        return [tuple(word.split('=', 1)) for word in words]

    def _check_env(self):
        self.pairs()

    _check_label = _check_env

    def ports(self):
        ports = []
        for word in self.argument.split():
            match = _PORT.match(word)
            first, last = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
            if not match or not 0 < first <= last <= 65535:
                raise DockerError("%s: '%s' is not a port, a port range or either with /tcp, /udp or /sctp"
                                  % (self.where, word))
            protocol = (match.group(3) or 'tcp').lower()
            if protocol not in ('tcp', 'udp', 'sctp'):
                raise DockerError("%s: '%s' names protocol %s; use tcp, udp or sctp" % (self.where, word, protocol))
            ports.extend('%d/%s' % (port, protocol) for port in range(first, last + 1))
        return ports

    _check_expose = ports

    def _check_onbuild(self):
        trigger = self.argument.split()[0].upper()
        if trigger in ('ONBUILD', 'FROM', 'MAINTAINER'):
            raise DockerError('%s: ONBUILD cannot trigger %s' % (self.where, trigger))

    def command(self):
        """CMD and ENTRYPOINT: the JSON (exec) form as it is, the shell form run by /bin/sh -c."""
        try:
            value = json.loads(self.argument)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return value
        return ['/bin/sh', '-c', self.argument]

    def volumes(self):
        value = self.command()
        return value if value[:2] != ['/bin/sh', '-c'] else self.argument.split()

    def apply(self, config):
        """Set in a normalized config (see ``settings``) what this line sets, as the daemon does."""
        if self.instruction == 'CMD':
            config['Cmd'], config['cmd_set'] = self.command(), True
        elif self.instruction == 'ENTRYPOINT':
            config['Entrypoint'] = self.command()
            if not config['cmd_set']:
                config['Cmd'] = []
        elif self.instruction in ('ENV', 'LABEL'):
            config['Env' if self.instruction == 'ENV' else 'Labels'].update(self.pairs())
        elif self.instruction == 'EXPOSE':
            config['ExposedPorts'].update(self.ports())
        elif self.instruction == 'VOLUME':
            config['Volumes'].update(self.volumes())
        elif self.instruction == 'USER':
            config['User'] = self.argument
        elif self.instruction == 'WORKDIR':
            config['WorkingDir'] = posixpath.normpath(posixpath.join('/', config['WorkingDir'] or '/', self.argument))
        else:
            config['OnBuild'].append(self.argument)


def settings(config):
    """The parts of an image or container config a commit and its changes decide, normalized."""
    config = config or {}
    return {
        'Cmd': list(config.get('Cmd') or []),
        'Entrypoint': list(config.get('Entrypoint') or []),
        'Env': dict(item.split('=', 1) if '=' in item else (item, '') for item in config.get('Env') or []),
        'Labels': dict(config.get('Labels') or {}),
        'ExposedPorts': set(config.get('ExposedPorts') or {}),
        'Volumes': set(config.get('Volumes') or {}),
        'User': config.get('User') or '',
        'WorkingDir': config.get('WorkingDir') or '',
        'OnBuild': list(config.get('OnBuild') or []),
    }


def expected_settings(container_config, changes):
    """What the image config will hold: the container's config with the changes applied in order."""
    config = dict(settings(container_config), cmd_set=False)
    for change in changes:
        change.apply(config)
    del config['cmd_set']
    return config


def parse_changes(lines, taker):
    """The ``changes`` option as Change objects; ``taker`` (V(a commit), V(an import)) words the errors."""
    return [Change(index, line, taker) for index, line in enumerate(lines or [])]


def target_reference(repository, tag):
    """The name a commit or an import writes: ``repository`` without tag or digest, and the tag option."""
    parsed = parse_reference(repository, default_tag=None)
    if parsed.tag or parsed.digest:
        raise DockerError("repository '%s' holds a %s; give the tag in the tag option"
                          % (repository, 'tag' if parsed.tag else 'digest'))
    return with_tag(repository, tag)
