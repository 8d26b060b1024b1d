# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller side of dockyard.docker.image_load: send ``src`` only to hosts that lack its images.

With ``path`` the module runs as it is. With ``src`` the archive is read and
checked on the controller; dockyard.docker.image_info then asks the host's daemon
for the archive's images by every ID an engine may report them by (manifest or
index digest on the containerd store, config digest on the classic one), and
``plan_load`` (the same decision the module makes) says whether the host lacks
an image or tag. Only then, and not in check mode, is the file copied into the
task's remote temporary directory and loaded from there by the module with
``path``.
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.dockyard.docker.plugins.module_utils._archive import archive_names, plan_load, read_archive
from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._options import empty_message

MODULE = 'dockyard.docker.image_load'
PROBE = 'dockyard.docker.image_info'


class ActionModule(ActionBase):

    TRANSFERS_FILES = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        src = args.pop('src', None)
        try:
            if src is None:
                result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
                return result
            result.update(self._load_from_controller(src, args, task_vars))
            return result
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _failed(self, msg):
        return dict(failed=True, msg=msg, transferred=False)

    def _load_from_controller(self, src, args, task_vars):
        if args.get('path') is not None:
            return self._failed('parameters are mutually exclusive: path|src')
        if not str(src).strip():
            return self._failed(empty_message('src', {}))
        try:
            local = self._find_needle('files', src)
        except AnsibleError as exc:
            return self._failed('src %s: %s' % (src, to_native(exc)))
        try:
            images = read_archive(local, verify=True).images
        except DockerError as exc:
            return self._failed(str(exc))

        # Every ID the host's engine may report each image by: image_info leaves out those it lacks.
        connection = dict((key, value) for key, value in args.items() if key != 'disk_check')
        probe = self._execute_module(module_name=PROBE, task_vars=task_vars,
                                     module_args=dict(connection, name=[image_id for image in images for image_id in image.ids]))
        if probe.get('failed'):
            return dict(failed=True, msg=probe.get('msg'), transferred=False)
        outcome, missing, listed = plan_load(images, probe.get('images', []))
        if not missing or self._task.check_mode:
            names, entries = archive_names(images, listed)
            if missing:
                outcome.note('Loaded %s from %s' % (', '.join(names), src))
            return outcome.result(self._task.diff, images=entries, image_names=names, stdout='', transferred=False)

        shell = self._connection._shell
        if shell.tmpdir is None:
            self._make_tmp_path()
        remote = shell.join_path(shell.tmpdir, 'archive-' + os.path.basename(local))
        self._transfer_file(local, remote)
        self._fixup_perms2((shell.tmpdir, remote))
        loaded = self._execute_module(module_name=MODULE, module_args=dict(args, path=remote), task_vars=task_vars)
        loaded['transferred'] = True
        loaded['actions'] = [action.replace(remote, src) for action in loaded.get('actions', [])]
        if loaded.get('msg'):
            loaded['msg'] = loaded['msg'].replace(remote, src)
        return loaded
