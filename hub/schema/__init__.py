"""The GraphQL schema: strawberry types over the resolvers."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors

from hub.schema.errors import PublicError, is_public
from hub.schema.query import Query


class _Mask(MaskErrors):
    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda e: not is_public(e),
            error_message="Internal error; it has been logged.",
        )


schema = strawberry.Schema(query=Query, extensions=[_Mask])

__all__ = ["PublicError", "schema"]
