"""The engine: check → extract, normalize and load overlapped → verify, over one staging store.

Extraction runs in a background thread (extract.Feed) while this thread stages its pages with
their cursors, normalizes them and loads what is ready (flow.py): a record once everything it
references is written, a ticket once its comments can be relied on, its comments after it.

Every step is restartable from the store alone. A run left unfinished (Ctrl-C, kill -9, power
loss, a fatal API error) is resumed by running the same plan again: extraction continues from the
committed cursors, normalization from the raw rows not yet normalized, and loading from the id
map, where a write is marked `pending` before it is sent and `done` after, so at most the writes
in flight are looked up again (`find_existing`) and none is repeated or skipped.

The steps live one module each (extract, normalize, flow, selection, load, write, resolve, delta,
checks), mixed into `Engine` (run.py); the load context and the worker lanes have their own.
"""

from .common import (COUNT_KEYS, DEFAULT_MAX_ATTACHMENT_BYTES, ORDERED_KINDS, SERIAL_KINDS, STEPS,
                     TICKET_PARTS, Counts, Interrupted)
from .context import _LoadContext
from .lanes import _Lanes
from .run import Engine, run_plan

__all__ = ["COUNT_KEYS", "DEFAULT_MAX_ATTACHMENT_BYTES", "ORDERED_KINDS", "SERIAL_KINDS", "STEPS", "TICKET_PARTS",
           "Counts", "Engine", "Interrupted", "run_plan", "_LoadContext", "_Lanes"]
