from lxml import etree

LXML_VERSION: str

def walk(
    root: etree._Element, steps: tuple[str, ...]
) -> tuple[bytes, dict[str, str], dict[str, list[str]], list[str]] | None: ...
