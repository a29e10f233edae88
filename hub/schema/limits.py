"""A cost estimate checked before execution: every field costs one per object it is
resolved for, and a list multiplies what is below it by its size: `first` for connections
(a variable counts as the largest page, as its value is not known yet), a fixed guess for
plain lists. Operations over the maximum are refused with the estimate and the limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    get_named_type,
)

LIST_GUESS = 10  # objects assumed per plain list (care periods of a trajectory, ...)


def cost_rule(max_cost: int, page_size_max: int, default_page: int) -> type[ValidationRule]:
    class CostLimit(ValidationRule):
        def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
            context: ValidationContext = self.context
            schema = context.schema
            fragments = {
                d.name.value: d
                for d in context.document.definitions
                if isinstance(d, FragmentDefinitionNode)
            }
            root = schema.get_root_type(node.operation)
            if root is None:
                return
            sizes = _Sizes(fragments, page_size_max, default_page)
            cost = _cost(node.selection_set, root, 1, sizes)
            if cost > max_cost:
                context.report_error(
                    GraphQLError(
                        f"the query's estimated cost {cost:,} exceeds the limit {max_cost:,}; "
                        "ask for smaller pages or fewer nested lists",
                        node,
                        extensions={"code": "COST_LIMIT", "cost": cost, "limit": max_cost},
                    )
                )

    return CostLimit


@dataclass(frozen=True, slots=True)
class _Sizes:
    fragments: dict[str, FragmentDefinitionNode]
    page_max: int
    default_page: int


def _cost(
    selection_set: SelectionSetNode | None,
    parent: GraphQLObjectType,
    times: int,
    sizes: _Sizes,
    depth: int = 0,
) -> int:
    if selection_set is None or depth > 20:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            field = parent.fields.get(node.name.value)
            if field is None:
                continue  # __typename and unknown fields (other rules report those)
            total += times
            in_connection = "pageInfo" in parent.fields and node.name.value in ("nodes", "edges")
            size = 1 if in_connection else _size(node, field.type, sizes)
            child = get_named_type(field.type)
            if isinstance(child, GraphQLObjectType):
                total += _cost(node.selection_set, child, times * size, sizes, depth + 1)
        else:
            if isinstance(node, InlineFragmentNode):
                inner: SelectionSetNode | None = node.selection_set
            elif isinstance(node, FragmentSpreadNode) and node.name.value in sizes.fragments:
                inner = sizes.fragments[node.name.value].selection_set
            else:
                continue
            total += _cost(inner, parent, times, sizes, depth + 1)
    return total


def _size(node: FieldNode, field_type: Any, sizes: _Sizes) -> int:
    """How many objects the field yields per parent."""
    first = next((a.value for a in node.arguments or () if a.name.value == "first"), None)
    if first is not None:
        return int(first.value) if isinstance(first, IntValueNode) else sizes.page_max
    named = get_named_type(field_type)
    if isinstance(named, GraphQLObjectType) and "pageInfo" in named.fields:
        return sizes.default_page  # a connection without `first`
    unwrapped = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    return LIST_GUESS if isinstance(unwrapped, GraphQLList) else 1
