"""A compiled completion path for plain data (PERFORMANCE.md).

graphql-core completes every field of every object through the same generic machinery
(resolve info, path, resolver call, type dispatch, error handling): some twenty Python
calls a field, thousands for a page of records. This executor compiles, once per selection
set of an operation, a plan of closures for values whose whole sub-selection is plain:
strawberry fields without a resolver (attributes), links the parent built in SQL (fields
marked `prefetched`, hub/schema/types.py), values computed from the parent alone (fields
marked `computed`) and `__typename`. Anything else (a resolver,
arguments, an abstract type, `is_type_of`, middleware, a directive other than skip and
include) is not compiled and goes the standard way. Any anomaly while a plan runs (null
for a non-null field, a value a scalar refuses, an awaitable, an exception) throws the
plan's work away and completes that value the standard way, so results and errors are
graphql-core's own: plain values have no side effects, so doing them twice is harmless.

`HUB_FAST_PATH`: `on` (default), `off` (stock execution) or `compare` (both, every plain
value; a difference is an error: CI runs the test suite this way).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from keyword import iskeyword
from operator import attrgetter
from types import GeneratorType
from typing import Any, ClassVar, Final
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLString,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path, Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter

Complete = Callable[[Any], Any]
Fields = Any  # graphql-core's FieldDetailsList (not exported)

PREFETCHED: Final = "hub.prefetched"  # strawberry field metadata: the prefetch key's name
# strawberry field metadata: its resolver is a plain function of the parent alone (no info,
# no arguments, not async), so the plan calls it as the standard path would.
COMPUTED: Final = "hub.computed"
MODES: Final = ("on", "off", "compare")
_CONDITIONS: Final = frozenset({"skip", "include"})
_PLAIN_VALUES: Final = frozenset({str, int, float, bool, date, datetime})
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


_UNSEEN: Final = object()


class _Miss(Exception):  # noqa: N818 (a signal, not an error)
    """This value is not for the plan: complete it the standard way."""


class _NotPlain(Exception):  # noqa: N818
    """This selection cannot be compiled."""


class FastPathMismatchError(Exception):
    """compare mode: the plan and the standard path completed a value differently."""


def prefetch_key(name: str, args: Mapping[str, Any]) -> tuple[Any, ...]:
    """The key a prefetched link is stored under on its parent (`_prefetched`): the field's
    name and its non-null arguments, as the resolver and the plan both compute it."""
    items = sorted(
        (k, tuple(v) if isinstance(v, list) else v) for k, v in args.items() if v is not None
    )
    return (name, *items)


class FastExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's executor with compiled completion of plain values."""

    compare = False

    # Plans shared by the requests: (return type, the field nodes, the variables) -> (what
    # the ids are of, kept alive, and the plan or None). The query text's document is
    # cached (hub/schema/__init__.py), so a repeated operation finds its plans here.
    _shared: ClassVar[dict[tuple[Any, ...], tuple[Any, Complete | None]]] = {}
    SHARED_MAX: ClassVar[int] = 5_000  # entries; the cache starts over when full

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # This request's: (return type, field group) -> (field group kept alive, plan or None)
        self._plans: dict[tuple[int, int], tuple[Any, Complete | None]] = {}
        self._comparing = False
        self._variables: str | None = None
        manager = self.middleware_manager
        self._plain_allowed = manager is None or not manager.middlewares

    def complete_value(  # noqa: PLR0917 (graphql-core's signature)
        self,
        return_type: GraphQLOutputType,
        field_details_list: Fields,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        key = (id(return_type), id(field_details_list))
        entry = self._plans.get(key)
        if entry is None:
            entry = self._plans[key] = (
                field_details_list,
                self._plan(return_type, field_details_list),
            )
        plan = entry[1]
        if plan is None or self._comparing:
            return super().complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        try:
            value = plan(result)
        except Exception:  # noqa: BLE001 (any anomaly: graphql-core decides what it means)
            return super().complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        if self.compare:
            return self._compared(
                value, return_type, field_details_list, info, path, result, position_context
            )
        return value

    def _compared(  # noqa: PLR0917
        self,
        value: Any,
        return_type: GraphQLOutputType,
        field_details_list: Fields,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        errors = len(self.collected_errors.errors)
        self._comparing = True
        try:
            stock = super().complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
        finally:
            self._comparing = False

        def check(stock: Any) -> Any:
            if len(self.collected_errors.errors) != errors or _dump(stock) != _dump(value):
                msg = f"the fast path differs from the standard path at {path.as_list()}"
                raise FastPathMismatchError(msg)
            return value

        if self.is_awaitable(stock):

            async def later() -> Any:
                return check(await stock)

            return later()
        return check(stock)

    # Compilation ------------------------------------------------------------------------

    def _plan(self, return_type: GraphQLOutputType, fields: Fields) -> Complete | None:
        """The plan of a field group, compiled by an earlier request when it could be: a
        plan depends on the type, the field nodes and the variables (skip, include and
        arguments), nothing else."""
        if self._variables is None:
            self._variables = repr(sorted(self.variable_values.coerced.items()))
        nodes = tuple(d.node for d in fields)
        key = (id(return_type), *map(id, nodes), self._variables)
        shared = FastExecutor._shared
        entry = shared.get(key)
        if entry is None:
            if len(shared) >= self.SHARED_MAX:
                shared.clear()
            entry = shared[key] = ((return_type, nodes), self._compile(return_type, fields))
        return entry[1]

    def _compile(self, return_type: GraphQLOutputType, fields: Fields) -> Complete | None:
        named = return_type.of_type if is_non_null_type(return_type) else return_type
        if not self._plain_allowed or not (is_list_type(named) or is_object_type(named)):
            return None
        try:
            return self._completer(return_type, fields)
        except _NotPlain:
            return None

    def _completer(self, return_type: GraphQLOutputType, fields: Fields) -> Complete:
        non_null = is_non_null_type(return_type)
        inner: Any = return_type.of_type if non_null else return_type  # type: ignore[union-attr]
        if is_leaf_type(inner):
            return _leaf(inner, non_null)
        if is_list_type(inner):
            return _list(self._completer(inner.of_type, fields), non_null)
        if is_object_type(inner):
            return self._object(inner, fields, non_null)
        raise _NotPlain  # an interface or union: its runtime type needs resolving

    def _object(self, type_: GraphQLObjectType, fields: Fields, non_null: bool) -> Complete:
        if type_.is_type_of is not None:
            raise _NotPlain
        grouped, defers, forbidden = self.collect_subfields(type_, fields)
        if defers or forbidden:
            raise _NotPlain
        plan: list[tuple[str, str | Complete, Complete]] = []
        for response_name, sub_fields in grouped.items():
            for details in sub_fields:
                if any(d.name.value not in _CONDITIONS for d in details.node.directives or ()):
                    raise _NotPlain
            name = sub_fields[0].node.name.value
            if name == "__typename":
                plan.append((response_name, _constant(type_.name), _same))
                continue
            field = type_.fields.get(name)
            if field is None:
                raise _NotPlain
            plan.append(
                (
                    response_name,
                    self._getter(field, sub_fields),
                    self._completer(field.type, sub_fields),
                )
            )
        display, namespace = _display(plan)
        build = _generated("build", "(source):\n    return " + display, namespace)
        is_awaitable = self.is_awaitable
        plain: set[type] = set()  # classes seen to be neither errors nor awaitable

        def complete(source: Any) -> Any:
            cls = source.__class__
            if cls not in plain:
                if source is None or source is Undefined:
                    if non_null:
                        raise _Miss
                    return None
                if isinstance(source, Exception) or is_awaitable(source):
                    raise _Miss
                if cls is not GeneratorType:  # a generator's awaitability is its own
                    plain.add(cls)
            return build(source)

        _OBJECTS[complete] = (display, namespace, plain)
        return complete

    def _getter(self, field: GraphQLField, fields: Fields) -> str | Complete:
        """The attribute a field reads, or a function that gets its value."""
        definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if definition is None:
            raise _NotPlain
        resolve = field.resolve
        if (
            definition.is_basic_field
            and not field.args
            and getattr(resolve, "_is_default", False)
            and getattr(resolve, "__name__", "") == "_get_basic_result"
            and definition.default_resolver is getattr
        ):
            name: str = definition.python_name
            return name if name.isidentifier() and not iskeyword(name) else attrgetter(name)
        resolver = definition.base_resolver
        if definition.metadata.get(COMPUTED) and not field.args and not resolver.is_async:
            computed: Complete = resolver.wrapped_func
            return computed
        prefetched = definition.metadata.get(PREFETCHED)
        details = fields[0]
        if prefetched is None or details.fragment_variable_values is not None:
            raise _NotPlain
        try:
            args = get_argument_values(field, details.node, self.variable_values)
            key = prefetch_key(prefetched, args)
            hash(key)
        except Exception as exc:  # the standard path reports it
            raise _NotPlain from exc

        def get(source: Any) -> Any:
            return source._prefetched[key]  # KeyError: not built, the standard way

        return get


def _display(plan: list[tuple[str, str | Complete, Complete]]) -> tuple[str, dict[str, Any]]:
    """The dict display that builds the output of an object from its plan (`source`), and
    the names it uses: a call per field, none for a leaf whose test holds (_LEAVES). Response
    names are GraphQL names and attributes Python identifiers, so the text holds nothing
    else."""
    namespace: dict[str, Any] = {"isfinite": math.isfinite}
    items = []
    for i, (response_name, get, done) in enumerate(plan):
        namespace[f"done{i}"] = done
        if isinstance(get, str):
            value = f"source.{get}"
        else:
            namespace[f"get{i}"] = get
            value = f"get{i}(source)"
        leaf = _LEAVES.get(done)
        if leaf is None:
            items.append(f"{response_name!r}: done{i}({value})")
            continue
        template, known = leaf
        if known is not None:
            namespace[f"known{i}"] = known
        expression = template.format(
            first=f"(v{i} := {value})", v=f"v{i}", done=f"done{i}", known=f"known{i}"
        )
        items.append(f"{response_name!r}: {expression}")
    return "{" + ", ".join(items) + "}", namespace


def _generated(name: str, text: str, namespace: dict[str, Any]) -> Complete:
    """The function `def name` + `text` (its parameters and body), generated once per
    selection set: about twice as fast as interpreting the plan."""
    scope = dict(namespace)
    exec(f"def {name}{text}", scope)  # noqa: S102
    generated: Complete = scope[name]
    return generated


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=repr)


def _same(value: Any) -> Any:
    return value


def _constant(value: Any) -> Complete:
    def get(_: Any) -> Any:
        return value

    return get


def _list(item: Complete, non_null: bool) -> Complete:
    def other(value: Any) -> Any:
        if value is None or value is Undefined:
            if non_null:
                raise _Miss
            return None
        raise _Miss  # generators, async iterables, strings, mappings: the standard way

    inline = _OBJECTS.get(item)
    if inline is not None:  # a list of objects: each built inside the comprehension
        display, namespace, plain = inline
        return _generated(
            "complete",
            "(value):\n"
            "    if value.__class__ is not list and value.__class__ is not tuple:\n"
            "        return other(value)\n"
            f"    return [{display} if source.__class__ in plain else item(source)"
            " for source in value]\n",
            {**namespace, "other": other, "plain": plain, "item": item},
        )

    def complete(value: Any) -> Any:
        if value.__class__ is not list and value.__class__ is not tuple:
            return other(value)
        return [item(v) for v in value]

    return complete


def _leaf(type_: GraphQLLeafType, non_null: bool) -> Complete:
    coerce = type_.coerce_output_value

    def general(value: Any) -> Any:
        if value is None or value is Undefined:
            if non_null:
                raise _Miss
            return None
        if value.__class__ not in _PLAIN_VALUES and isinstance(value, Exception):
            raise _Miss
        out = coerce(value)
        if out is None or out is Undefined:
            raise _Miss
        return out

    # The built-in scalars return these values as they are: skip the call. Each test is
    # also registered as an expression, for a builder to inline.
    if type_ is GraphQLString or type_ is GraphQLID:

        def text(value: Any) -> Any:
            return value if value.__class__ is str else general(value)

        _LEAVES[text] = ("{v} if {first}.__class__ is str else {done}({v})", None)
        return text
    if type_ is GraphQLInt:

        def integer(value: Any) -> Any:
            if value.__class__ is int and _INT_MIN <= value <= _INT_MAX:
                return value
            return general(value)

        _LEAVES[integer] = (
            f"{{v}} if {{first}}.__class__ is int and {_INT_MIN} <= {{v}} <= {_INT_MAX}"
            " else {done}({v})",
            None,
        )
        return integer
    if type_ is GraphQLBoolean:

        def boolean(value: Any) -> Any:
            return value if value.__class__ is bool else general(value)

        _LEAVES[boolean] = ("{v} if {first}.__class__ is bool else {done}({v})", None)
        return boolean
    if type_ is GraphQLFloat:

        def number(value: Any) -> Any:
            if value.__class__ is float and math.isfinite(value):
                return value
            return general(value)

        _LEAVES[number] = (
            "{v} if {first}.__class__ is float and isfinite({v}) else {done}({v})",
            None,
        )
        return number
    if isinstance(type_, GraphQLEnumType) or type_.name == "Date":
        return _memo(general)
    return general


# Leaf completers a builder inlines (_display) -> (an expression of the completed value,
# an object it uses): {first} where the value is first evaluated, {v} where it is used again,
# {done} the completer itself (for what the expression does not settle), {known} the object.
_LEAVES: WeakKeyDictionary[Complete, tuple[str, Any]] = WeakKeyDictionary()
# Object completers -> (their dict display, its names, the classes seen plain): a list of
# them builds each item inside its comprehension (_list).
_OBJECTS: WeakKeyDictionary[Complete, tuple[str, dict[str, Any], set[type]]] = WeakKeyDictionary()


def _memo(general: Complete) -> Complete:
    """Enum members, their values as text and dates repeat down a page; their output is a
    function of the value (datetimes are not memoised: equal instants in other zones print
    differently). Members are found by identity (hashing an enum member is a Python call);
    the entry keeps the member, so its id is not reused."""
    members: dict[int, tuple[Any, Any]] = {}  # id(member) -> (member, output)
    plain: dict[Any, Any] = {}  # a text or a date -> output

    def complete(value: Any) -> Any:
        entry = members.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        cls = value.__class__
        if cls is str or cls is date:
            out = plain.get(value, _UNSEEN)
            if out is _UNSEEN:
                out = plain[value] = general(value)
            return out
        out = general(value)
        if isinstance(value, Enum):
            members[id(value)] = (value, out)
        return out

    # A text seen before is found without the call (outputs are names and ISO dates: never
    # empty).
    _LEAVES[complete] = (
        "({known}.get({v}) or {done}({v})) if {first}.__class__ is str else {done}({v})",
        plain,
    )
    return complete
