"""Request records: a JSONL file appended and flushed per record, plus the in-memory copies a run needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any


class JsonlWriter:
    """Appends one JSON object per line and flushes, so an interrupted run keeps every finished record."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: IO[str] | None = path.open("w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        if self._fh is not None:
            self._fh.write(json.dumps(record, separators=(",", ":")) + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Close the file (later writes are dropped)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete record of a JSONL file (a torn last line from a killed writer is skipped)."""
    out: list[dict[str, Any]] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


class RecordSink:
    """Collects one process's records: written to its JSONL, kept for results, queued for the master."""

    def __init__(self, writer: JsonlWriter | None, *, keep: bool, ship: bool) -> None:
        self.writer = writer
        self.keep = keep
        self.ship = ship
        self.records: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.chunks = 0
        self.recvs = 0

    def add(self, record: dict[str, Any]) -> None:
        """Accept one finished request."""
        if self.writer is not None:
            self.writer.write(record)
        if self.keep:
            self.records.append(record)
        if self.ship:
            self.outbox.append(record)
        self.chunks += record.get("events") or 0

    def take_outbox(self) -> list[dict[str, Any]]:
        """Records not yet shipped to the master (the outbox is emptied)."""
        out, self.outbox = self.outbox, []
        return out
