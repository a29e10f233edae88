"""Errors a caller may see. Everything else is masked to a generic message."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError


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
