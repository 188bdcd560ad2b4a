"""Work done in the background: the outbox every message goes through, its delivery and
channels, and the worker that APScheduler wakes to advance due switches."""
