"""The one small interface every source adapter implements.

An adapter reads one input (a file) and returns a `FileResult`: the canonical records it
accepted and typed rejections for what it refused, so that for every file
`len(records) + len(rejections) == records_read`. Adapters never touch the database; the
store loads what they return (hub/store/).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hub.model import FileResult


@dataclass(frozen=True, slots=True)
class AdapterContext:
    source_id: str
    region: frozenset[str]  # municipality codes of the region; others are quarantined
    pseudonymise: Callable[[str], str]  # BSN -> pseudonym (HMAC)
    xsd_dir: Path | None  # None: schema validation is off (said plainly by the caller)


class Adapter(ABC):
    name: ClassVar[str]

    @abstractmethod
    def read(self, path: Path, ctx: AdapterContext) -> FileResult:
        """Read one file into canonical records and rejections. Must not raise for bad
        content: a file that fails as a whole is a `FileResult` with `failed=True` and one
        rejection saying why."""


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
