"""moto parses the same texts again and again: keep what it parses, hand out fresh copies.

Why: most of the CPU an in-process test stack costs is moto parsing, not our code.

* Step Functions parses a definition with ANTLR when the machine is created and again at the start of every
  execution: about 0.7 s per definition of ours. The syntax tree depends only on the text and nothing writes to it,
  so it is kept per text; the evaluation program (which an execution runs, and which holds its state) is still
  built from the tree on every call, as moto does.
* CloudFormation reads each template with PyYAML's pure-Python loader: over a second for our template, on every
  stack the integration tests deploy. The parsed template is kept per text and each stack gets a deep copy, since
  moto writes into it.

Errors are never cached: a bad definition or template raises as before, every time. Used by the local stack's moto
server (:mod:`infra.local.moto_server`) and the in-process test fixtures (``tests/conftest.py``).
"""

from __future__ import annotations

import copy
import functools
import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Put the caching parsers in place of moto's (once per process; calling again does nothing)."""
    global _installed
    with _lock:
        if not _installed:
            _cache_state_machine_syntax()
            _cache_templates()
            _installed = True


def _cache_state_machine_syntax() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    uncached = AmazonStateLanguageParser.parse

    @functools.lru_cache(maxsize=64)
    def syntax_tree(definition: str) -> Any:
        return uncached(definition)[1]

    def parse(definition: str) -> tuple[Any, Any]:
        tree = syntax_tree(definition)
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def _cache_templates() -> None:
    from moto.cloudformation.models import Stack

    uncached = Stack.parse_template

    @functools.lru_cache(maxsize=16)
    def parsed(template: str) -> dict[str, Any]:
        return uncached(template)

    def parse_template(template: str) -> dict[str, Any]:
        return copy.deepcopy(parsed(template))

    Stack.parse_template = staticmethod(parse_template)  # type: ignore[method-assign]
