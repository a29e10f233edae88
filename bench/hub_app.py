"""The hub as `hub serve` builds it, as an application factory so that uvicorn can run one
process per core (`--workers N` needs an import string):

    uvicorn bench.hub_app:create --factory --workers 2

Settings come from the environment as for `hub serve` (HUB_SERVICE_DATABASE_URL, HUB_HOME or
HUB_SECRET, HUB_CACHE_ENTRIES, ...).
"""

from __future__ import annotations

import gc
import os

from starlette.applications import Starlette

from hub.app import create_app
from hub.config import settings
from hub.db import Database


def create() -> Starlette:
    s = settings()
    app = create_app(
        Database(os.environ["HUB_SERVICE_DATABASE_URL"]),
        s.secret,
        {m.code for m in s.region()},
        page_size_max=s.page_size_max,
        introspection=s.introspection,
        threshold=s.suppression_threshold,
        long_running_years=s.long_running_years,
        max_cost=s.max_cost,
        batch_max=s.batch_max,
        statement_timeout_ms=s.statement_timeout_ms,
        cache_entries=s.cache_entries,
    )
    gc.freeze()  # as `hub serve`: start-up objects stay out of cyclic collection
    return app
