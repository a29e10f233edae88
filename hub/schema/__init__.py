"""The GraphQL schema: strawberry types over the resolvers, with the limits checked before
execution."""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.tools import merge_types

from hub.schema.errors import PublicError, is_public
from hub.schema.fast import MODES, FastExecutor
from hub.schema.indicators import IndicatorsQuery
from hub.schema.limits import cost_rule
from hub.schema.query import DEFAULT_PAGE
from hub.schema.query import Query as RecordsQuery
from hub.schema.steering import SteeringQuery

# The root Query, put together from one class per concern.
Query = merge_types("Query", (RecordsQuery, IndicatorsQuery, SteeringQuery))

log = logging.getLogger("hub.schema")

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5_000
MAX_COST = 200_000  # HUB_MAX_COST: estimated objects and fields, see hub/schema/limits.py


class _Mask(MaskErrors):
    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda e: not is_public(e),
            error_message="Internal error; it has been logged.",
        )


class _Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """One line per error, never a traceback, a value or SQL: what and where."""
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, PublicError | GraphQLError):
                continue  # the caller's mistake, answered as such
            log.error(
                "resolver_error type=%s path=%s",
                type(original).__name__,
                ".".join(str(p) for p in error.path or ()),
            )


class _Documents:
    """Parsed documents and their validation errors by query text: a dashboard sends the
    same few texts over and over. Validation depends only on the text here (the rules are
    fixed per schema), so the text is the key, not the document."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.parsed: OrderedDict[str, Any] = OrderedDict()
        self.validated: dict[str, list[GraphQLError]] = {}


class _Cached(SchemaExtension):
    """Serves parsing and validation from `_Documents`."""

    def __init__(self, documents: _Documents) -> None:
        self.documents = documents

    def on_parse(self) -> Iterator[None]:
        documents, context = self.documents, self.execution_context
        query = context.query
        if query is not None and query in documents.parsed:
            documents.parsed.move_to_end(query)
            context.graphql_document = documents.parsed[query]
        yield
        if query is not None and context.graphql_document is not None:
            documents.parsed[query] = context.graphql_document
            while len(documents.parsed) > documents.size:
                oldest, _ = documents.parsed.popitem(last=False)
                documents.validated.pop(oldest, None)

    def on_validate(self) -> Iterator[None]:
        documents, context = self.documents, self.execution_context
        query = context.query
        known = documents.validated.get(query) if query is not None else None
        if known is not None:
            context.pre_execution_errors = list(known)
        yield
        errors = context.pre_execution_errors
        fresh = known is None and query is not None and query in documents.parsed
        if fresh and query is not None and errors is not None:
            documents.validated[query] = list(errors)


def fast_path_mode() -> str:
    """HUB_FAST_PATH: on (default), off or compare (hub/schema/fast.py)."""
    mode = os.environ.get("HUB_FAST_PATH", "on").strip().lower() or "on"
    if mode not in MODES:
        msg = f"HUB_FAST_PATH must be one of {', '.join(MODES)}, got {mode!r}"
        raise ValueError(msg)
    return mode


class _CompareExecutor(FastExecutor):
    compare = True


def build_schema(
    *,
    introspection: bool = False,
    max_cost: int = MAX_COST,
    page_size_max: int = 500,
    fast_path: str | None = None,
    documents: int = 1_000,
) -> strawberry.Schema:
    """The served schema: introspection only when configured (HUB_INTROSPECTION=1);
    completion through hub/schema/fast.py unless `fast_path` (default HUB_FAST_PATH) is
    off; parsing and validation cached for `documents` query texts."""
    mode = fast_path or fast_path_mode()
    if mode not in MODES:
        msg = f"fast_path must be one of {', '.join(MODES)}, got {mode!r}"
        raise ValueError(msg)
    executor = {"on": FastExecutor, "compare": _CompareExecutor}.get(mode)
    cost = cost_rule(max_cost, page_size_max, DEFAULT_PAGE)
    cache = _Documents(documents)
    # The rules of strawberry's QueryDepthLimiter and MaxAliasesLimiter, built once: those
    # extensions build a new rule class on every request.
    rules: list[type[ASTValidationRule]] = [
        depth_rule(MAX_DEPTH, None),
        aliases_rule(MAX_ALIASES),
        cost,
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, so that every request gets fresh extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        _Mask,
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules(rules),
    ]
    if documents:
        extensions.append(lambda: _Cached(cache))  # last: after every rule has been added
    return _Schema(query=Query, extensions=extensions, execution_context_class=executor)


schema = build_schema(introspection=True)  # the full schema, as printed to schema.graphql

__all__ = ["MAX_COST", "PublicError", "build_schema", "schema"]
