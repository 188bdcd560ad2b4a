"""How ``--help`` names what an option takes: a flag names nothing, a value is TEXT, INTEGER, PATH…

Typer 0.29 shows every parameter's Python type in angle brackets (``--totp <bool>``,
``--help <bool>``, ``--email <str>``): a flag takes no value at all, and ``<str>`` is a
programmer's word. Here a flag shows nothing and a value shows the upper-case word Unix tools
use, or the metavar a command gave (``-i KEY``); an argument is named in capitals (``FILE``, not
``{file}``), optional ones in brackets, as in the README's synopses.
Installed once, when the ``baton`` command is built.
"""

from __future__ import annotations

from typing import Any

from typer import core

_WORDS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "file": "FILE",
          "directory": "DIR", "datetime": "MOMENT"}
_typer_type = core._TyperParameter.display_type  # noqa: SLF001 - the one place typer names a type


def _word(param: Any, ctx: Any) -> str:
    label = _typer_type(param, ctx).removeprefix("<").removesuffix(">")
    if label.startswith("list[") and label.endswith("]"):
        label = label[len("list["):-1]
    return _WORDS.get(label, label if "|" in label else label.upper())


def _option_value(self: Any, ctx: Any) -> str | None:
    if self.is_flag or self.count:
        return None
    word = self.metavar if self.metavar is not None else _word(self, ctx)
    return f"{word}..." if self.nargs != 1 and self.metavar is None else word


def _argument_value(self: Any, ctx: Any) -> str | None:
    return None


def _argument_label(self: Any) -> str:
    return str(self.metavar if self.metavar is not None else str(self.name).upper())


def _argument_name(self: Any) -> str:
    name = _argument_label(self)
    return f"{name}..." if self.nargs != 1 and self.metavar is None else name


def _argument_usage(self: Any) -> str:
    name = _argument_name(self)
    return name if self.required else f"[{name}]"


def install() -> None:
    """Make every command's help name values in words (idempotent)."""
    core.TyperOption.display_type_rich = _option_value  # type: ignore[method-assign]
    core.TyperArgument.display_type_rich = _argument_value  # type: ignore[method-assign]
    core.TyperArgument.display_name_raw = property(_argument_label)  # type: ignore[assignment,method-assign]
    core.TyperArgument._rich_display_name = _argument_name  # type: ignore[method-assign]  # noqa: SLF001
    core.TyperArgument._usage_display_name = _argument_usage  # type: ignore[method-assign]  # noqa: SLF001
