"""The adapter contract: what a source and a target must offer the engine.

An adapter package exposes one `AdapterSpec` through the entry-point group `hdmigrate.adapters`
(built-ins are registered the same way, in pyproject.toml). Platform quirks live only in the
adapter; the engine knows platforms by their declared capabilities, never by name.

Source side
    fetch(stream, cursor, since) yields Pages of raw payloads; the engine stages each page and
    commits its cursor in one transaction, so a crash re-fetches at most one page.
    to_canonical(stream, payload) is pure: raw payload -> (kind, canonical record) pairs.
    fetch_attachment(record) returns the bytes of one canonical attachment record (the engine
    hashes them, checks a declared sha256 and stores the blob). Downloads through the shared
    HttpClient (and `blobfile.spool_file` for local files) return a BlobFile already on disk
    while the engine stages: return what they return, so no file is ever held whole in memory.

Target side
    The engine resolves every reference first (a broken required reference fails the record before
    the target sees it), records the target's `degradations()` for the record, marks the id map
    row `pending`, calls `write()` (or `write_batch()`), then marks it `done` with the target id.
    On resume a `pending` row is first looked up with `find_existing()` and written again only if
    absent. A target whose API writes a ticket together with its comments and files (Zendesk's
    import) sets `bundles_comments`; its `write("ticket", ...)` reads them from `ctx.comments()`
    and returns their target ids in `WriteResult.children`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from .degradations import Degradation
from .links import WebPages

if TYPE_CHECKING:
    from .blobfile import BlobFile


class Capability(str, enum.Enum):
    INCREMENTAL = "incremental"                  # source: delta runs from a cursor or `since`
    PRESERVE_TIMESTAMPS = "preserve_timestamps"  # target: created_at of tickets and comments kept
    PRESERVE_AUTHORS = "preserve_authors"        # target: comment authors kept
    PRESERVE_CHANNEL = "preserve_channel"        # target: ticket/comment channel kept
    PRIVATE_NOTES = "private_notes"              # private comments stay private
    ATTACHMENTS = "attachments"
    INLINE_IMAGES = "inline_images"
    CUSTOM_FIELDS = "custom_fields"
    CREATE_CUSTOM_FIELDS = "create_custom_fields"
    SATISFACTION_RATINGS = "satisfaction_ratings"
    EXTERNAL_ID_LOOKUP = "external_id_lookup"    # target: finds what it created by a stamp/external id
    BULK_WRITE = "bulk_write"
    ASYNC_WRITES = "async_writes"
    SUPPRESS_NOTIFICATIONS = "suppress_notifications"
    DELETE = "delete"                            # target: rollback can delete what a run created
    UPDATE = "update"                            # target: delta runs update Target.updatable_kinds in place


@dataclass
class Page:
    """One page of a source stream: raw items as (raw_id, payload) and the cursor after it.
    `done=True` marks the stream complete; a cursor given with it is kept, and a delta run of an
    INCREMENTAL source continues from it."""

    items: list[tuple[str, dict]]
    cursor: str | None = None
    done: bool = False


class StreamedPage:
    """A Page whose items are parsed while they are taken (`HttpClient.get_json_items`): an
    export page of 1,000 events is never alive parsed whole. `items` can be gone through once;
    `cursor` and `done` come from the answer's members after its array, so they are known once
    `items` is used up, as every consumer (the feed, read-back) does first. `produce(settle)`
    gives the items and calls `settle(cursor, done)` after the last; `drain()` parses what a
    consumer left (and keeps it for it), for the source to read the answer's end."""

    def __init__(self, produce: Callable[[Callable[[str | None, bool], None]], Iterator[tuple[str, dict]]]):
        self._end: tuple[str | None, bool] | None = None
        self._items = produce(self.settle)

    @property
    def items(self) -> "Iterator[tuple[str, dict]] | list[tuple[str, dict]]":
        return self._items

    def settle(self, cursor: str | None, done: bool) -> None:
        self._end = (cursor, done)

    def drain(self) -> None:
        # what a consumer left (one that collects the pages first) is kept for it, parsed
        self._items = list(self._items)

    @property
    def cursor(self) -> str | None:
        return self._ended()[0]

    @property
    def done(self) -> bool:
        return self._ended()[1]

    def _ended(self) -> tuple[str | None, bool]:
        if self._end is None:
            raise RuntimeError("a streamed page's cursor was asked for before its items were taken")
        return self._end


@dataclass
class WriteResult:
    """What one write did. `matched=True`: the target already held this record (a person found by
    e-mail, a group or company by name) and the write adopted it instead of creating it; it is
    never changed by delta runs nor deleted by rollback. The default (False) means created by this
    tool. A `find_existing` may return a WriteResult too, to say which of the two it found."""

    target_id: str
    children: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, source id) -> target id
    degradations: list[Degradation] = field(default_factory=list)
    matched: bool = False


@dataclass
class Mapped:
    """What an adapter's canonical -> vendor function (its `to_vendor` module, one function per
    kind) returns: the request body and what the target cannot hold of the record written with it,
    together, so the target's `degradations()` (the dry run) and its `write()` use the same call
    and cannot disagree. `body` is None where nothing is sent (a kind the target has no place for)."""

    body: dict | None
    degradations: list[Degradation] = field(default_factory=list)


@dataclass
class AdapterContext:
    """What an adapter is built from: its plan section (secrets resolved apart) and run settings."""

    config: dict                      # the plan's [source] or [target] table, without secrets
    secrets: dict = field(default_factory=dict)   # "token" for token_env = "X", etc.
    options: dict = field(default_factory=dict)   # the plan's [options]
    mapping: dict = field(default_factory=dict)   # the plan's [mapping]
    workdir: Path | None = None
    # the budget's RatePolicy from [run] rate_limit and the documented default (or a plain
    # requests-per-minute number where an adapter is built by hand): give it to HttpClient
    rate_limit: Any = None
    workers: int = 1
    log: Callable[[str], None] = lambda message: None   # human messages (stderr)
    role: str = "source"              # "source" or "target"


class LoadContext(Protocol):
    """Given to a target on every write; resolves references through the id map."""

    options: dict
    mapping: dict
    source_info: dict                 # Source.describe() of this run's source
    dry_run: bool

    def target_id(self, kinds: tuple[str, ...] | str, source_id: str | None) -> str | None: ...
    def person(self, source_id: str | None) -> tuple[str, str] | None:
        """(kind, target id) of an agent or contact."""
    def record(self, kind: str, source_id: str) -> dict | None: ...
    def custom_field(self, entity: str, key: str) -> tuple[dict, str | None] | None:
        """The staged custom_field of (entity, key) and its target id (None while unwritten)."""
    def comments(self, ticket_id: str) -> list[dict]:
        """The staged comments of a ticket in created_at order (for bundles_comments targets)."""
    def release(self, ticket_id: str) -> None:
        """A bundles_comments target has built its request for this ticket: the comments the
        engine holds for it may go (the write may then wait seconds on a job; memory stays flat)."""
    def attachments(self, comment: dict) -> list[tuple[dict, Path]]:
        """The attachment records of a comment, in attachment_ids order, with their blob paths."""


class Source:
    name = "?"
    capabilities: frozenset[Capability] = frozenset()
    default_rate_limit: float | None = None   # requests per minute when the plan gives none
    # Streams `since` narrows (tickets and what hangs off them); every other stream is fetched
    # whole, so what in-scope tickets reference is there. None: every stream gets `since`.
    since_streams: frozenset[str] | None = None
    # Streams that serve a ticket's records in their order (Zendesk's ticket events): while one
    # is still running, a ticket whose first comment is staged may load (docs/design.md, the flow).
    ordered_streams: frozenset[str] = frozenset()
    # Attachment downloads normalize may run at once (fetch_attachment called from that many
    # threads). More than 1 only where files come from hosts outside the API's rate limit and
    # fetch_attachment is thread-safe; the HTTP layer's limiter still paces each host.
    download_workers: int = 1

    def __init__(self, ctx: AdapterContext):
        self.ctx = ctx

    def check(self) -> None:
        """Raise ConfigError / FatalApiError with a clear message when the source is unusable."""

    def discover(self) -> dict:
        """What the wizard shows: {"statuses", "priorities", "groups", "agents", "fields", "counts"}."""
        return {}

    def streams(self) -> list[str]:
        raise NotImplementedError

    def fetch(self, stream: str, cursor: str | None = None, since: str | None = None) -> Iterator[Page]:
        raise NotImplementedError

    def to_canonical(self, stream: str, payload: dict) -> Iterator[tuple[str, dict]]:
        raise NotImplementedError

    def fetch_attachment(self, record: dict) -> "bytes | BlobFile":
        raise NotImplementedError

    def parts_served(self, ticket: dict, positions: dict[str, str | None]) -> bool:
        """Whether every comment and rating of this staged (canonical) ticket has been served
        already, judged from the committed cursor of each other stream still running
        (`positions`: stream -> cursor). True lets a target that writes a ticket together with
        its comments load it before those streams end; a part served later would be lost to such
        a target, so say True only where the vendor's ordering guarantees it. Default: False (the
        ticket waits for the streams' end)."""
        return False

    def describe(self) -> dict:
        """Provenance the target may record (the jsonl target writes `source` into its manifest)."""
        return {"source": self.name}

    def close(self) -> None:
        pass


class Target:
    name = "?"
    capabilities: frozenset[Capability] = frozenset()
    default_rate_limit: float | None = None
    bundles_comments = False          # write("ticket") writes its comments and attachments too
    # Kinds update() brings up to date (with Capability.UPDATE). A changed record of any other kind
    # is reported "not updated" by the engine, never counted as updated.
    updatable_kinds: frozenset[str] = frozenset()
    batch_sizes: dict[str, int] = {}  # kinds written through write_batch, and how many per call
    max_file_name_bytes = 255
    # Where the records this target writes carry the tool's stamp, for `verify` to read back:
    # "external" (an external id), "stamp" (extra.stamp of the read-back record), "tags", "body"
    # (an origin line opening a comment).
    stamp_places: frozenset[str] = frozenset({"external", "stamp"})
    # A target that cannot backdate writes each ticket's original times into ticket fields
    # (hdmigrate.cx.original_time_fields names them): True where it does; False where it creates
    # none itself and an admin must (the dry run then says so instead of counting creates).
    keeps_original_times = False
    creates_original_time_fields = True

    def __init__(self, ctx: AdapterContext):
        self.ctx = ctx

    def check(self) -> None:
        pass

    def file_name(self, attachment: dict) -> str:
        """The name to send for an attachment: without path parts, reserved or control characters,
        length-capped (hdmigrate.filenames). The engine records a rename as `file_name_changed`.
        Only a target that never uses the name as a path (the jsonl archive) keeps it as it is."""
        from .filenames import safe_file_name
        return safe_file_name(attachment.get("file_name"), self.max_file_name_bytes)

    def discover(self) -> dict:
        """What the wizard shows and offers: option lists ("statuses", "priorities", "types",
        "channels": code -> label or a list), "agents", "groups", "fields", and "defaults"
        ({field: {canonical value: what is written without a mapping, None: nothing}})."""
        return {}

    @classmethod
    def person_effect(cls, kind: str, record: dict) -> str | None:
        """Pure: what writing a source person this target has no account for creates — "agent",
        "contact" (tickets assigned to it are then left unassigned) or None (nothing). The wizard
        shows it per row of its agent table."""
        return kind

    def degradations(self, kind: str, record: dict, ctx: LoadContext) -> list[Degradation]:
        """Pure: what of `record` this target cannot hold. Used by the dry run and by load."""
        return []

    def find_existing(self, kind: str, record: dict, ctx: LoadContext) -> "str | WriteResult | None":
        """The target id of this record if an earlier (interrupted) write already created it. A
        plain id counts as created by this tool; a target that can also find records it did not
        create (by e-mail or name, without its stamp) returns WriteResult(id, matched=True) for those."""
        return None

    def write(self, kind: str, record: dict, ctx: LoadContext) -> WriteResult:
        raise NotImplementedError

    def write_batch(self, kind: str, records: list[dict], ctx: LoadContext) -> list[WriteResult | Exception]:
        """Per-item results, in order; an item's Exception fails only that record."""
        out: list[WriteResult | Exception] = []
        for record in records:
            try:
                out.append(self.write(kind, record, ctx))
            except Exception as e:  # noqa: BLE001 - per-item outcome; the engine classifies it
                out.append(e)
        return out

    def can_update(self, kind: str) -> bool:
        return Capability.UPDATE in self.capabilities and kind in self.updatable_kinds

    def update(self, kind: str, target_id: str, record: dict, ctx: LoadContext) -> WriteResult:
        """Delta runs: bring an existing target record (a kind in `updatable_kinds`) up to date.
        Apply what the API allows and report the rest per record: a degradation in the result for
        a change left unapplied, an exception (the record fails) when leaving it would expose data,
        e.g. a comment made private that the target cannot make private. Files added to a comment
        are written and named in `children`; the engine reports any that are in neither."""
        raise NotImplementedError(f"the {self.name} target does not update {kind} records")

    def delete(self, kind: str, target_id: str) -> None:
        """Rollback: remove (or tag) one record this tool created (never a matched one). Raise
        NotImplementedError for a kind the target's API cannot delete: rollback reports it as left
        in the target instead of counting it removed."""
        raise NotImplementedError

    def count(self, kind: str) -> int | None:
        return None

    def finish(self, ctx: "LoadContext | None" = None) -> None:
        """Called once after load (flush, compaction, job confirmation). `ctx` is the run's load
        context (None after a rollback): a run that had nothing left to write still has its
        provenance (`ctx.source_info`) there."""

    def close(self) -> None:
        pass


class Sandbox(Protocol):
    """A local emulation of a vendor API on loopback (hdmigrate sandbox PLATFORM)."""

    url: str
    env: dict[str, str]        # environment variables holding the credentials to use
    plan_section: dict         # a plan [source]/[target] table pointing at this sandbox

    def start(self) -> "Sandbox": ...
    def stop(self) -> None: ...


def is_opening(comment: dict, ctx) -> bool:
    """Whether a comment is its ticket's first (the opening message), from the LoadContext; False
    where the context offers no comments (some dry-run contexts)."""
    try:
        siblings = ctx.comments(comment["ticket_id"])
    except Exception:  # noqa: BLE001 - a context without siblings: not known to be the opening one
        return False
    return bool(siblings) and str(siblings[0].get("id")) == str(comment.get("id"))


@dataclass
class AdapterSpec:
    """What an entry point of the group `hdmigrate.adapters` names."""

    name: str
    description: str
    source: type[Source] | None = None
    target: type[Target] | None = None
    config_schema: dict = field(default_factory=lambda: {"type": "object"})
    # "module:function" building a Sandbox: f(data=None, port=0, rate_limit=None, faults=None, seed=None)
    sandbox: str | None = None
    # The platform's web pages per kind (hdmigrate/links.py): the id map's old and new URLs, and
    # the links between tickets that bodies carry.
    web_pages: WebPages | None = None

    def info(self) -> dict[str, Any]:
        caps = set()
        for side in (self.source, self.target):
            if side is not None:
                caps |= {c.value for c in side.capabilities}
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source is not None,
            "target": self.target is not None,
            "capabilities": {
                "source": sorted(c.value for c in self.source.capabilities) if self.source else [],
                "target": sorted(c.value for c in self.target.capabilities) if self.target else [],
            },
            "sandbox": self.sandbox is not None,
        }
