"""The GraphQL schema: strawberry types over the resolvers, with the limits checked before
execution."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.tools import merge_types

from hub.schema.errors import PublicError, is_public
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


def build_schema(
    *, introspection: bool = False, max_cost: int = MAX_COST, page_size_max: int = 500
) -> strawberry.Schema:
    """The served schema: introspection only when configured (HUB_INTROSPECTION=1)."""
    cost = cost_rule(max_cost, page_size_max, DEFAULT_PAGE)
    # Factories, so that every request gets fresh extension instances.
    extensions: list[Callable[[], SchemaExtension]] = [
        _Mask,
        lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: AddValidationRules([cost]),
    ]
    if not introspection:
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
    return _Schema(query=Query, extensions=extensions)


schema = build_schema(introspection=True)  # the full schema, as printed to schema.graphql

__all__ = ["MAX_COST", "PublicError", "build_schema", "schema"]
