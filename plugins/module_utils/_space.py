# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Whether an image fits where the daemon keeps its images, asked before a pull or a load moves anything.

While an image lands, the daemon holds each layer twice: as it arrives (a download, or the archive a load
sends, kept in the data root until it is unpacked; the containerd store keeps it for good) and unpacked.
Unpacked takes at least what arrived, so LANDING_COPIES times the bytes that arrive is the least the job
needs free. Only a daemon on this host (a unix socket) has a data root the module can look at; with the
containerd image store the images go to containerd's root, which the daemon does not name, and which a
default installation keeps on the same filesystem (``/var/lib``).
"""

from __future__ import annotations

from ansible_collections.dockyard.docker.plugins.module_utils._errors import DockerError
from ansible_collections.dockyard.docker.plugins.module_utils._files import check_space

LANDING_COPIES = 2


def check_load(client, archive_bytes, action):
    """Fail with both numbers when an archive of ``archive_bytes`` (its tar, uncompressed) cannot be loaded."""
    root = client.local_data_root()
    if root is not None:
        check_space(root, LANDING_COPIES * archive_bytes, action, 'nothing was loaded')


def check_pull(client, reference, platform, present):
    """Fail with both numbers when the image ``reference`` names in its registry cannot be pulled into the data root.

    The sizes come from the registry's manifest (every layer, also those the engine holds already). A
    pull the daemon would not move anything for (``present`` holds the digest served) is not checked;
    when the manifest cannot be read the pull goes on unchecked, with a warning saying why (none for a
    tag the registry lacks, which the pull reports).
    """
    root = client.local_data_root()
    if root is None:
        return
    try:
        digest, size = client.registry(reference.registry).image_size(
            reference.path, reference.digest or reference.tag, platform or client.daemon_platform())
    except DockerError as exc:
        if exc.status != 404:  # a tag the registry lacks: the pull itself reports that
            client.module.warn('disk_check: %s; %s is pulled without checking the free space' % (exc, reference))
        return
    if present and '%s@%s' % (reference.repository, digest) in (present.get('RepoDigests') or []):
        return
    check_space(root, LANDING_COPIES * size, 'failed to pull %s' % reference, 'nothing was pulled')
