"""What every resolver gets: the request's tenant-scoped transaction and its DataLoaders.
Loaders live exactly as long as the request (they cache per request, never across)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from hub.db import Scope, Tx
from hub.resolvers import records


def _loader(tx: Tx, fn: Any) -> DataLoader[Any, Any]:
    async def load(keys: list[Any]) -> list[Any]:
        return list(await fn(tx, keys))

    return DataLoader(load_fn=load)


@dataclass
class Context:
    tx: Tx
    scope: Scope
    page_size_max: int = 500
    suppression_threshold: int = 10  # HUB_SUPPRESSION_THRESHOLD, never below 5
    long_running_years: int = 2  # HUB_LONG_RUNNING_YEARS
    indicator_batch: Any = None  # hub/schema/indicators.py: the operation's indicators
    loaders: dict[str, DataLoader[Any, Any]] = field(default_factory=dict)

    def release(self) -> None:
        """Drop what an operation computed (its indicator cells, its loaders' records). The
        executor graphql-core builds for an operation refers to itself, so what it holds is
        freed only by the cyclic collector, which is slow to run over thousands of objects:
        call this once the operation's result is built."""
        self.indicator_batch = None
        self.loaders.clear()

    def loader(self, name: str) -> DataLoader[Any, Any]:
        """The request's loader for one of the batch functions in `records.BATCHES`."""
        if name not in self.loaders:
            self.loaders[name] = _loader(self.tx, records.BATCHES[name])
        return self.loaders[name]
