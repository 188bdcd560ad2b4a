"""The ``baton`` command: one module per command group, their shared helpers in ``common``, and
what runs on the owner's or a successor's own machine (the local vault, key cards, RDAP)."""
