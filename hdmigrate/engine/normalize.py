"""Normalize: raw payloads into validated canonical records (attachment bytes staged as blobs)."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor

from .. import degradations as codes
from ..adapter import Degradation, Source
from ..canonical import loads, validation_error
from ..errors import ApiError, FatalApiError, RecordError
from ..blobfile import BlobFile, spool_downloads
from ..http import UrlRefused, download_limit
from .common import DEFAULT_MAX_ATTACHMENT_BYTES, _short


_DOWNLOAD = object()       # _without_download: the bytes must be fetched


def _is_sha256(value) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


class NormalizeStep:
    """Mixed into Engine: `normalize` and what it does per payload and record."""

    def normalize(self) -> dict:
        """Normalize every payload staged and not yet normalized (benchmarks of one step)."""
        self.store.retry_failed_raw()
        counts = {"payloads": 0, "records": 0}
        self._normalize_new(counts)
        return counts

    def _normalize_new(self, counts: dict) -> None:
        """Normalize the payloads staged and not normalized yet (the run's loop calls this
        between passes of the load), adding to `counts`."""
        source, _ = self._adapters()
        total = self.store.count_raw("new")
        done = 0
        repair = bool(self.plan.options.get("repair_text"))
        # Small batches: a run killed during normalize keeps all but the last 200 payloads' work.
        for batch in self.store.iter_raw_new(batch=200):
            out: list[tuple[str, dict, str, str]] = []
            raw_done, raw_failed = [], []
            mapped = [(stream, raw_id, self._mapped(source, stream, raw_id, payload_text))
                      for stream, raw_id, payload_text in batch]
            self._prefetch(source, [record for _s, _r, produced in mapped for kind, record in produced or ()
                                    if kind == "attachment"])
            for stream, raw_id, produced in mapped:
                records, ok = self._prepared(source, stream, raw_id, produced, repair)
                out += records
                (raw_done if ok else raw_failed).append((stream, raw_id))
            self._discard_prefetched()
            self.store.put_records(out, raw_done, raw_failed)
            counts["records"] += len(out)
            done += len(batch)
            counts["payloads"] += len(batch)
            self.reporter.event("progress", step="normalize", kind=None, done=done, total=total)

    def _mapped(self, source, stream, raw_id, payload_text) -> list | None:
        """The canonical (kind, record) pairs of one raw payload; None when it failed (named)."""
        try:
            return list(source.to_canonical(stream, loads(payload_text)))
        except RecordError as e:
            self._fail(e.kind or stream, e.id or raw_id, "normalize", _short(e), e.field)
            return None
        except (FatalApiError, KeyboardInterrupt):
            raise
        except Exception as e:  # noqa: BLE001 - a malformed payload fails that record only
            self._fail(stream, raw_id, "normalize", f"cannot map {stream} {raw_id}: {e.__class__.__name__}: {_short(e)}")
            return None

    def _prepared(self, source, stream, raw_id, produced, repair):
        """The validated records of one payload's mapped records, and whether all of them passed."""
        if produced is None:
            return [], False
        out, ok = [], True
        for kind, record in produced:
            prepared = self._prepare(kind, record, source, repair)
            if prepared is False:
                continue           # left out with a degradation (a refused attachment URL)
            if prepared is None:
                ok = False
            else:
                out.append((kind, prepared, stream, raw_id))
        return out, ok

    def _prepare(self, kind: str, record: dict, source: Source, repair: bool) -> dict | None:
        """Validate one canonical record (fetching attachment bytes first); None when it failed."""
        rid = str(record.get("id", "")) if isinstance(record, dict) else ""
        if not rid:
            self._fail(kind, "(no id)", "normalize", "record has no id", "id")
            return None
        if kind == "attachment":
            record = self._stage_blob(record, source)
            if record is None or record is False:
                return record
        if repair:
            record = self._repair_text(kind, record)
        problem = validation_error(kind, record)
        if problem:
            field, reason = problem
            self._fail(kind, rid, "normalize", f"invalid {kind}: {field or 'record'}: {reason}", field)
            return None
        return record

    def _stage_blob(self, record: dict, source: Source) -> dict | None | bool:
        """The attachment record with its bytes staged (sha256 and size set); None when it
        failed, False when it is left out with a degradation."""
        early = self._without_download(record)
        if early is not _DOWNLOAD:
            return early
        limit = self._attachment_limit()
        data = self._download(record, source, limit)
        if data is None or data is False:
            return data
        return self._keep_blob(record, data, record.get("sha256"), limit)

    def _without_download(self, record: dict, report: bool = True):
        """What staging decides before any download: the staged record (bytes already kept),
        None (failed: named when `report`), or _DOWNLOAD."""
        rid = str(record["id"])
        declared = record.get("sha256")
        if declared is not None and not _is_sha256(declared):
            # checked before the name is used as a path (a hostile "../x" crashed the run)
            if report:
                self._fail("attachment", rid, "normalize",
                           f"invalid sha256 {str(declared)[:80]!r} (64 lowercase hex digits expected)", "sha256")
            return None
        staged = self._already_staged(record, declared)
        if staged is not None:
            return staged
        limit = self._attachment_limit()
        declared_size = record.get("size")
        if isinstance(declared_size, int) and declared_size > limit:
            if report:
                self._fail("attachment", rid, "normalize",
                           f"attachment {record.get('file_name')!r} is {declared_size} bytes, over the limit of {limit}",
                           "size")
            return None
        return _DOWNLOAD

    def _already_staged(self, record: dict, declared: str | None) -> dict | None:
        """The record when its bytes are in the store already (nothing to download), else None."""
        if declared and self.store.has_blob(declared):
            return record
        if not declared:
            # Sources that give no hash (Zendesk): a file staged by an earlier, interrupted run
            # is not downloaded again when its size still matches.
            prior = self.store.record("attachment", str(record["id"]))
            if (prior and prior.get("sha256") and self.store.has_blob(prior["sha256"])
                    and record.get("size") in (None, prior.get("size"))):
                return {**record, "sha256": prior["sha256"], "size": prior["size"]}
        return None

    def _attachment_limit(self) -> int:
        return int(self.plan.options.get("max_attachment_bytes", DEFAULT_MAX_ATTACHMENT_BYTES))

    def _fetch(self, record: dict, source: Source, limit: int):
        # enforced while the bytes arrive, not after; written to disk as they arrive
        with download_limit(limit), spool_downloads(self.store.incoming_dir):
            return source.fetch_attachment(record)

    def _prefetch(self, source: Source, records: list[dict]) -> None:
        """Download a batch's files `source.download_workers` at a time, ahead of staging them in
        order (one after the other, a run with many files waited on each file's round trip).
        Only files staging would download; each outcome, bytes or error, is handled at its
        record's turn exactly as a download made then (_download)."""
        self._prefetched = {}
        workers = max(1, int(getattr(source, "download_workers", 1) or 1))
        if workers == 1:
            return
        limit = self._attachment_limit()
        wanted = {}
        for record in records:
            rid = str(record.get("id", "")) if isinstance(record, dict) else ""
            if rid and rid not in wanted and self._without_download(record, report=False) is _DOWNLOAD:
                wanted[rid] = record
        if len(wanted) < 2:
            return

        def fetch(record):
            try:
                return True, self._fetch(record, source, limit)
            except BaseException as e:  # noqa: BLE001 - raised again at the record's turn
                return False, e

        with ThreadPoolExecutor(min(workers, len(wanted)), thread_name_prefix="hdm-download") as pool:
            futures = {rid: pool.submit(fetch, record) for rid, record in wanted.items()}
        self._prefetched = {rid: (id(wanted[rid]), f.result()) for rid, f in futures.items()}

    def _discard_prefetched(self) -> None:
        """Files downloaded ahead whose record never came to use them (its payload failed)."""
        for _owner, (ok, data) in getattr(self, "_prefetched", {}).values():
            if ok and isinstance(data, BlobFile):
                data.discard()
        self._prefetched = {}

    def _download(self, record: dict, source: Source, limit: int):
        """The attachment's bytes (or a spooled BlobFile); None when it failed, False when refused."""
        rid = str(record["id"])
        try:
            ahead = getattr(self, "_prefetched", {}).get(rid)
            if ahead is not None and ahead[0] == id(record):
                del self._prefetched[rid]
                ok, data = ahead[1]
                if not ok:
                    raise data
                return data
            return self._fetch(record, source, limit)
        except UrlRefused as e:
            # A URL the source's data points at but the plan never named (an inline image on an
            # internal host): the file is left out, the comment and ticket are written.
            self._degrade([Degradation("attachment", rid, "url", codes.ATTACHMENT_URL_REFUSED, _short(e))])
            return False
        except ApiError as e:
            if isinstance(e, FatalApiError):
                raise
            self._fail("attachment", rid, "normalize", f"download failed: {_short(e)}", "sha256")
            return None
        except (RecordError, OSError) as e:
            self._fail("attachment", rid, "normalize", f"attachment bytes unavailable: {_short(e)}", "sha256")
            return None
        except Exception as e:  # noqa: BLE001 - e.g. httpx.InvalidURL for a file name with NUL in its URL
            self._fail("attachment", rid, "normalize",
                       f"attachment bytes unavailable: {e.__class__.__name__}: {_short(e)}", "sha256")
            return None

    def _keep_blob(self, record: dict, data, declared: str | None, limit: int) -> dict | None:
        """Check the downloaded bytes (size, declared hash) and stage them; None when refused."""
        spooled = isinstance(data, BlobFile)
        size, sha = (data.size, data.sha256) if spooled else (len(data), hashlib.sha256(data).hexdigest())
        problem = None
        if size > limit:
            problem = (f"attachment {record.get('file_name')!r} is {size} bytes, over the limit of {limit}", "size")
        elif declared and declared != sha:
            problem = (f"bytes hash to {sha}, the record declares {declared}", "sha256")
        if problem:
            if spooled:
                data.discard()
            self._fail("attachment", str(record["id"]), "normalize", *problem)
            return None
        if spooled:
            self.store.put_blob_file(data)
        else:
            self.store.put_blob(data)
        record = dict(record)
        record["sha256"] = sha
        record["size"] = size
        return record

    def _repair_text(self, kind: str, record: dict) -> dict:
        import ftfy
        fields = {"ticket": ("subject",), "comment": ("body_html", "body_text")}.get(kind, ())
        changed = []
        for name in fields:
            value = record.get(name)
            if isinstance(value, str):
                fixed = ftfy.fix_text(value, unescape_html=False)
                if fixed != value:
                    record = dict(record)
                    record.setdefault("extra", {})
                    record["extra"] = {**record["extra"], f"original_{name}": value}
                    record[name] = fixed
                    changed.append(name)
        if changed:
            self._degrade([Degradation(kind, str(record["id"]), name, codes.TEXT_REPAIRED,
                                       "mojibake/encoding repaired; original kept in extra") for name in changed])
        return record
