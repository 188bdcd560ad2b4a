"""Persistence: the tables and their engine, migrations, the blob store, the register store,
the audit log, link tokens and the deployment's signing key. Imports no other Baton room."""
