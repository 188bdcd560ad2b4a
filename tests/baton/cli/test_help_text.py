"""``--help`` of every command names values in words: no ``<bool>``, ``<str>`` or ``{file}``."""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.testing import CliRunner

from baton.cli.app import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words after ``baton`` (typer's own click: a group is whatever has commands)."""
    found = [path]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += _commands(sub, (*path, name))
    return found


def test_no_help_shows_a_type_in_angle_brackets_or_an_argument_in_braces() -> None:
    """Every command and group: flags show no value, values read TEXT/PATH/INTEGER or the command's metavar."""
    paths = _commands(typer.main.get_command(app))
    assert len(paths) > 40
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
        assert result.exit_code == 0, (path, result.output)
        assert not re.search(r"<\w[\w\[\]|, ]*>|\{\w+\}", result.output), (path, result.output)


def test_flags_show_nothing_and_values_show_a_word() -> None:
    """``baton init --help``: ``--totp`` and ``--help`` take no value; ``--email`` takes TEXT, ``--policy`` a PATH;
    ``baton simulate``'s argument is FILE."""
    runner = CliRunner()
    init = runner.invoke(app, ["init", "--help"], env={"COLUMNS": "200"}, terminal_width=200).output
    assert re.search(r"--email\s+TEXT\s+The owner's e-mail address", init)
    assert re.search(r"--policy\s+PATH\s+A policy file", init)
    assert re.search(r"--totp\s+--no-totp\s+Create a TOTP secret", init)
    assert re.search(r"--help\s+Show this message and exit", init)
    simulate = runner.invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"}, terminal_width=200).output
    assert re.search(r"Usage: \S+ simulate \[OPTIONS\] FILE *\n", simulate)
