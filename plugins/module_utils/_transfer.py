# Copyright (c) dockyard.docker contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils is PRIVATE to the collection: its interface may change
# without notice between releases.

"""Transfer figures: what a pull, push, load or archive moved, as ``{bytes, layers, layers_present, seconds}``.

Pulls and pushes are counted from the daemon's progress stream, per layer ID: a layer is moved when the
stream ends it with ``Pull complete`` / ``Pushed``, present when it says ``Already exists`` /
``Layer already exists`` / ``Mounted from REPOSITORY`` (a registry-side mount moves no bytes). Its bytes
are the last ``progressDetail.total`` of its ``Downloading`` / ``Pushing`` events.

What the engines send differs (recorded in tests/unit/plugins/module_utils/fixtures/streams.json):
Docker's classic store sends sizes for every layer it moves (a pull counts the compressed layer as the
registry serves it; a push the layer's tar stream as the daemon reads it, before compression). The
containerd image store (Docker 28) sends a layer's (compressed) size only when its transfer outlasts one
of its progress ticks; a layer done sooner ends with ``hidecounts`` and no size, and a pull names no
layer that store already has. A moved layer without a size makes ``bytes`` None (unknown), not a guess.

A load sends the whole archive (its size in bytes) and moves the layers of its images the engine
lacked before; an archive writes a file of its size holding the layers of its images. Layers are
told apart by chain ID (``_store.chain_ids``), as the layer store keeps them.
"""

from __future__ import annotations

import time

from ansible_collections.dockyard.docker.plugins.module_utils._store import chain_ids

_PULL = ('Downloading', ('Pull complete',), ('Already exists',))
_PUSH = ('Pushing', ('Pushed',), ('Layer already exists', 'Mounted from'))


class Transfer:
    """The figures of one image's transfer; ``started`` (a clock reading) lets totals span parallel work."""

    def __init__(self, moved_bytes=0, layers=0, layers_present=0, seconds=0.0, started=None):
        self.bytes = moved_bytes
        self.layers = layers
        self.layers_present = layers_present
        self.seconds = seconds
        self.started = started

    def as_dict(self):
        return {'bytes': self.bytes, 'layers': self.layers, 'layers_present': self.layers_present,
                'seconds': round(self.seconds, 3)}


def timed(operation, *args, **kwargs):
    """``(what operation(*args, **kwargs) returns, its start on the monotonic clock, seconds it took)``."""
    started = time.monotonic()
    answer = operation(*args, **kwargs)
    return answer, started, time.monotonic() - started


def _from_stream(events, kind, seconds, started):
    sized, moved_statuses, present_statuses = kind
    totals, moved, present = {}, [], []
    for event in events:
        status, layer = event.get('status'), event.get('id')
        if not isinstance(status, str) or not layer:
            continue
        detail = event.get('progressDetail') if isinstance(event.get('progressDetail'), dict) else {}
        if status == sized and isinstance(detail.get('total'), int) and detail['total'] >= 0:
            totals[layer] = detail['total']
        elif status in moved_statuses and layer not in moved:
            moved.append(layer)
        elif status.startswith(present_statuses) and layer not in present:
            present.append(layer)
    sizes = [totals.get(layer) for layer in moved]
    moved_bytes = None if None in sizes else sum(sizes)
    return Transfer(moved_bytes, len(moved), len(present), seconds, started)


def pull_transfer(events, seconds=0.0, started=None, image_layers=0):
    """The figures of a pull's progress ``events``.

    ``image_layers``, the number of layers of the image pulled (its ``RootFS.Layers``), counts the layers
    the containerd store passes over in silence: every layer of the image not moved was present.
    """
    transfer = _from_stream(events, _PULL, seconds, started)
    transfer.layers_present = max(transfer.layers_present, image_layers - transfer.layers)
    return transfer


def push_transfer(events, seconds=0.0, started=None):
    """The figures of a push's progress ``events``."""
    return _from_stream(events, _PUSH, seconds, started)


def image_layers(inspect):
    """How many layers an image's inspect data lists."""
    return len(((inspect or {}).get('RootFS') or {}).get('Layers') or [])


def layers_of(inspects):
    """The distinct layers of images (inspect data), by chain ID: a layer with the same content on another base
    is another layer, as the layer store keeps it."""
    return set(chain for inspect in inspects if inspect
               for chain in chain_ids(((inspect.get('RootFS') or {}).get('Layers')) or []))


def store_inspects(client):
    """Inspect data of every image the engine holds (one inspect per image: the image list names no layers)."""
    return client.inspect_images(summary['Id'] for summary in client.list_images())


def layers_before(inspects, added):
    """The layers the store held before images were ``added`` (their IDs), from ``inspects`` read at any time since:
    images are immutable and a load only adds, so those read, less the ones added, are the ones there were."""
    return layers_of(inspect for inspect in inspects if inspect and inspect['Id'] not in added)


def file_transfer(size, layers, present=(), seconds=0.0, started=None):
    """The figures of an archive written or loaded: ``size`` bytes, the ``layers`` in it, those of them ``present``."""
    layers = set(layers)
    return Transfer(size, len(layers - set(present)), len(layers & set(present)), seconds, started)


def total(transfers):
    """The figures of many transfers together: sums, ``bytes`` None when one is unknown, and the wall-clock span."""
    transfers = list(transfers)
    sizes = [transfer.bytes for transfer in transfers]
    timed_ones = [transfer for transfer in transfers if transfer.started is not None]
    seconds = 0.0
    if timed_ones:
        seconds = (max(transfer.started + transfer.seconds for transfer in timed_ones)
                   - min(transfer.started for transfer in timed_ones))
    return Transfer(None if None in sizes else sum(sizes), sum(transfer.layers for transfer in transfers),
                    sum(transfer.layers_present for transfer in transfers), seconds).as_dict()
