"""Errors a caller may see. Everything else is masked to a generic message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from graphql import GraphQLError

from hub.resolvers.records import InvalidCursorError


class PublicError(Exception):
    """A typed error whose message is safe to show: it names what and where, never data."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def is_public(error: GraphQLError) -> bool:
    """Parse, validation and variable errors (no original error, or a GraphQLError of
    graphql-core's own) and PublicErrors pass unmasked."""
    original: Any = error.original_error
    return original is None or isinstance(original, PublicError | GraphQLError)


def page_size(first: int, limit: int) -> int:
    """`first` within 0..limit (the configured page size maximum), else a typed error."""
    if first < 0 or first > limit:
        raise PublicError(f"`first` must be between 0 and {limit}, got {first}", code="PAGE_SIZE")
    return first


@contextmanager
def cursor_errors() -> Iterator[None]:
    """An `after` the API never gave out is the caller's mistake, said as such."""
    try:
        yield
    except InvalidCursorError as exc:
        raise PublicError(str(exc), code="INVALID_CURSOR") from exc
