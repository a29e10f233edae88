"""The iJw reader's compiled walk (hub/adapters/_ijw_walk.c) answers what its Python walk
answers: the bytes of the content hash, the texts by position and the body items, for every
message the tests have and for generated trees with what real files seldom hold."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from hub.adapters import ijw
from hub.config import default_region
from hub.synth import generate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "ijw-3.2"

compiled = ijw._walk_compiled
# Where no C compiler is at hand the reader walks in Python; CI builds it, so there it fails.
pytestmark = pytest.mark.skipif(
    compiled is None and os.environ.get("CI") != "true",
    reason="the compiled walk is not built here; the reader walks in Python",
)


def steps_of(root: etree._Element) -> tuple[str, ...]:
    spec = ijw._SPECS.get(ijw._namespace_type(root) or "")
    return tuple(spec.items.split("/")) if spec else ()


def both(root: etree._Element, steps: tuple[str, ...]) -> tuple[object, object]:
    assert compiled is not None
    return compiled(root, steps), ijw._walk_python(root, steps)


def test_the_reader_uses_the_compiled_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built against the lxml that runs, so `_Doc` takes it and never walks in Python."""
    assert compiled is not None, "the compiled walk was not built: see setup.py"
    root = etree.fromstring((SHARED / "samples" / "JW301.xml").read_bytes())
    walked, python = both(root, steps_of(root))
    assert walked == python

    def no_python_walk(*_: object) -> None:
        raise AssertionError("the reader walked in Python")

    monkeypatch.setattr(ijw, "_walk_python", no_python_walk)
    doc = ijw._Doc(root, ijw._SPECS["JW301"].items)
    assert (doc.first, doc.more, doc.items) == python[1:]  # type: ignore[index]
    assert len(doc.items) == 2


def test_every_shared_message_walks_the_same() -> None:
    files = sorted(SHARED.rglob("*.xml"))
    assert len(files) >= 14
    for path in files:
        root = etree.fromstring(path.read_bytes(), ijw._parser())
        walked, python = both(root, steps_of(root))
        assert walked == python, path.name


def test_every_generated_message_walks_the_same(tmp_path: Path) -> None:
    """A generated region's iJw files, every message type it writes."""
    generate(tmp_path, seed=11, years=1, scale=0.02, region=default_region()[:2])
    files = sorted(tmp_path.glob("*/ijw/*.xml"))
    types = set()
    for path in files:
        root = etree.fromstring(path.read_bytes(), ijw._parser())
        types.add(ijw._namespace_type(root))
        walked, python = both(root, steps_of(root))
        assert walked == python, path.name
    assert len(files) > 100
    assert {"JW301", "JW305", "JW307", "JW315", "JW323"} <= types


# --- generated trees --------------------------------------------------------------------------

# Text with what the JSON encoder escapes, Python's whitespace of every kind at the ends,
# accents and characters beyond the BMP (XML 1.0 allows no other control characters).
_CHARS = st.sampled_from(
    [*"aZ09 \t\n\"\\/<>&'{}", "\x7f", "\x85", "\xa0", "é", "ĳ", "\u2003", "\u3000", "😀"]
)
_TEXT = st.text(_CHARS, max_size=8)
_NAMES = st.sampled_from(["Client", "Item", "Code", "b", "Ĳs"])
_NAMESPACES = st.sampled_from([None, "urn:a", "urn:b"])


@st.composite
def _element(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    ns, name = draw(_NAMESPACES), draw(_NAMES)
    el = etree.Element(f"{{{ns}}}{name}" if ns else name)
    for key in draw(st.lists(st.sampled_from(["z", "a", "{urn:a}k", "{urn:b}a", "é"]), max_size=3)):
        el.set(key, draw(_TEXT))
    el.text = draw(st.one_of(st.none(), _TEXT))
    if depth < 3:
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["element", "element", "comment", "pi", "cdata"]))
            if kind == "element":
                child = draw(_element(depth + 1))
            elif kind == "comment":
                child = etree.Comment("note")
            elif kind == "pi":
                child = etree.ProcessingInstruction("pi", "x")
            else:
                el.append(etree.Element("c"))
                el[-1].text = etree.CDATA(draw(_TEXT).replace("]]>", ""))
                continue
            child.tail = draw(st.one_of(st.none(), _TEXT))
            el.append(child)
    return el


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_element(), st.sampled_from([(), ("Client",), ("Client", "Item"), ("Item", "Code")]))
def test_generated_trees_walk_the_same(root: etree._Element, steps: tuple[str, ...]) -> None:
    """Also after a round trip through bytes, as the reader meets them (CDATA, prefixes)."""
    reparsed = etree.fromstring(etree.tostring(root, encoding="utf-8"), ijw._parser())
    for tree in (root, reparsed):
        walked, python = both(tree, steps)
        assert walked is not None
        assert walked == python


def test_many_indexed_siblings_are_counted() -> None:
    """Indexes count per tag among siblings, namespaces apart, however many there are."""
    parts = "".join(f"<Client>{i}</Client><x:Client>{i}</x:Client>" for i in range(300))
    root = etree.fromstring(f"<r xmlns:x='urn:x'>{parts}</r>".encode())
    walked, python = both(root, ("Client",))
    assert walked == python
    assert python[1]["/r/Client[300]"] == "299"  # type: ignore[index]
    assert len(python[3]) == 600  # type: ignore[index,arg-type]


def test_what_the_compiled_walk_leaves_to_python() -> None:
    """An entity reference (kept as a node, as the reader's parser keeps it), and more
    indexed tags under one parent than it counts: the reader's hash is still Python's."""
    entity = b'<!DOCTYPE r [<!ENTITY e "x">]><r><a>&e;</a></r>'
    tags = "".join(f"<Client xmlns='urn:{i}'/>" for i in range(20))
    for xml in (entity, f"<r>{tags}</r>".encode()):
        root = etree.fromstring(xml, ijw._parser())
        walked, python = both(root, ("Client",))
        assert walked is None
        digest = hashlib.sha256(python[0]).hexdigest()  # type: ignore[index]
        assert ijw._Doc(root, "Client").content_hash == digest


def test_the_walk_wants_an_element() -> None:
    assert compiled is not None
    with pytest.raises(TypeError, match="lxml element"):
        compiled("<r/>", ())  # type: ignore[arg-type]
