"""Witnesses (DESIGN "Surviving our own server"): the primary's side (linking, pushing, merging) and the
witness's side (pairing, storing what it is sent, watching, taking over)."""
