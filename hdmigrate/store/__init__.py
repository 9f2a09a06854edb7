"""The staging store: one SQLite database per work directory, plus attachment blobs by SHA-256.

Everything a migration knows lives here: raw payloads as fetched, canonical records with their
content hash, the id map (source id -> target id and state), run and step state, extraction
cursors, failures, degradations and blobs. The database holds customer data: it is created
owner-only (0600, directory 0700) and never holds a secret.

Schema changes go through sqlite-utils `Migrations`; a database written by a newer hdmigrate is
refused (StateError) rather than silently misread.
"""

from .core import Store, _parent, _sort_key, _utc_sortable, raw_rows
from .queries import ROLLED_BACK, StagingReader
from .schema import DB_NAME, make_workdir, migrations, now

__all__ = ["DB_NAME", "Store", "raw_rows", "make_workdir", "migrations", "now", "ROLLED_BACK", "StagingReader",
           "_parent", "_sort_key", "_utc_sortable"]
