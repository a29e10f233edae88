"""The iJw reader's compiled walk (hub/adapters/_ijw_walk.c). It is optional: where it cannot
be built, the reader walks each message in Python, with the same results."""

import lxml
from lxml import etree
from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "hub.adapters._ijw_walk",
            ["hub/adapters/_ijw_walk.c"],
            include_dirs=lxml.get_include(),
            define_macros=[("HUB_LXML_VERSION", f'"{etree.__version__}"')],
            optional=True,
        )
    ]
)
