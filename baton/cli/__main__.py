"""``python -m baton.cli``: the same as the ``baton`` command."""

from baton.cli.app import main

main()
