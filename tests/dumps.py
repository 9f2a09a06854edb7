"""Helpers for tests that compare dumps."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from hdmigrate.canonical import KINDS


def read_dump(root: Path) -> dict[str, list[dict]]:
    """Every record of a dump per kind, as parsed JSON lines (duplicates kept, so tests see them)."""
    out = {}
    for kind in KINDS:
        path = Path(root) / f"{kind}.jsonl"
        if path.exists():
            out[kind] = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def by_id(records: list[dict]) -> dict[str, dict]:
    return {r["id"]: r for r in records}


def blobs(root: Path) -> dict[str, str]:
    """name -> sha256 of every blob in a dump."""
    d = Path(root) / "attachments"
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir()) if p.is_file()} if d.exists() else {}


def assert_same_dump(a: Path, b: Path) -> None:
    """Equal as JSON values per kind (order free), no duplicates, byte-identical blobs."""
    da, db = read_dump(a), read_dump(b)
    assert sorted(da) == sorted(db), (sorted(da), sorted(db))
    for kind in da:
        ids_b = [r["id"] for r in db[kind]]
        assert len(ids_b) == len(set(ids_b)), f"duplicate {kind} ids in {b}"
        assert by_id(da[kind]) == by_id(db[kind]), f"{kind} records differ"
    assert blobs(a) == blobs(b)
    for name, sha in blobs(b).items():
        assert name == sha, f"blob {name} holds bytes hashing to {sha}"
    ma = json.loads((Path(a) / "manifest.json").read_text())
    mb = json.loads((Path(b) / "manifest.json").read_text())
    ma.pop("exported_at"), mb.pop("exported_at")
    assert ma == mb


def write_plan(path: Path, source: Path, target: Path, extra: str = "") -> Path:
    path.write_text(f'[source]\nadapter = "jsonl"\npath = "{source}"\n\n[target]\nadapter = "jsonl"\npath = "{target}"\n{extra}',
                    encoding="utf-8")
    return path
