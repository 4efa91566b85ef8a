"""YAML files read with the line of every mapping, so tags and terms can say where they came from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlProblem(ValueError):
    """A YAML file that cannot be read, with the 1-based line where it went wrong."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


class _NoAliasLoader(yaml.SafeLoader):
    """A safe loader that refuses anchors and aliases: a few bytes of nested aliases would expand to
    gigabytes, and no file evidence reads needs them."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if getattr(event, "anchor", None) is not None:
            shown = f"alias '*{event.anchor}'" if isinstance(event, yaml.AliasEvent) else f"anchor '&{event.anchor}'"
            raise YamlProblem(f"YAML {shown} is not allowed: write the value out", event.start_mark.line + 1)
        return super().compose_node(parent, index)


def load_with_lines(path: Path) -> Any:
    """Parse YAML (no anchors or aliases); every mapping gets a ``__line__`` key with its 1-based line."""
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=_NoAliasLoader)
    except UnicodeDecodeError as exc:
        raise YamlProblem(f"not UTF-8 text ({exc.reason} at byte {exc.start})", None) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(f"not valid YAML: {problem}", mark.line + 1 if mark else None) from exc
    return _to_python(node) if node is not None else None


def _to_python(node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        mapping = {"__line__": node.start_mark.line + 1}
        for key_node, value_node in node.value:
            if key_node.value in mapping:
                raise YamlProblem(f"key '{key_node.value}' appears twice", key_node.start_mark.line + 1)
            mapping[key_node.value] = _to_python(value_node)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(item) for item in node.value]
    return yaml.SafeLoader("").construct_object(node)  # scalars: ints, strings, nulls
