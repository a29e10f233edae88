"""The response cache: answers of operations that read no youth-level records (indicators,
reference data), keyed by the operation, its variables, the caller's tenant scope and the
data version that every change of data bumps (sql/006_data_version.sql). An answer is
therefore never served once the data it was computed from has changed, nor to another
scope. Record-reading answers are never cached: each of them must write its audit row."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from hub.db import Scope

Key = tuple[str, str | None, str, str, str, str, int]


class ResponseCache:
    def __init__(self, entries: int) -> None:
        self.entries = entries
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Key, dict[str, Any]] = OrderedDict()
        self._encoded: dict[Key, bytes] = {}

    @property
    def on(self) -> bool:
        return self.entries > 0

    @staticmethod
    def key(query: str, operation: str | None, variables: Any, scope: Scope, version: int) -> Key:
        return (
            query,
            operation,
            json.dumps(variables or {}, sort_keys=True),
            scope.role,
            scope.municipality or "",
            scope.provider or "",
            version,
        )

    def get(self, key: Key) -> dict[str, Any] | None:
        payload = self._items.get(key)
        if payload is None:
            self.misses += 1
            return None
        self._items.move_to_end(key)
        self.hits += 1
        return payload

    def put(self, key: Key, payload: dict[str, Any]) -> None:
        self._items[key] = payload
        self._items.move_to_end(key)
        while len(self._items) > self.entries:
            popped, _ = self._items.popitem(last=False)
            self._encoded.pop(popped, None)

    def encoded(self, key: Key, encode: Callable[[dict[str, Any]], bytes]) -> bytes | None:
        """The cached answer as the response body, encoded once (counted as get is)."""
        payload = self.get(key)
        if payload is None:
            return None
        body = self._encoded.get(key)
        if body is None:
            body = self._encoded[key] = encode(payload)
        return body
