"""An excerpt of the audit chain (as a release package carries it) verifies on its own; tampering is named."""

from __future__ import annotations

from dataclasses import replace

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from switch import AuditEntry, next_entry, parse_scenario, simulate
from switch.audit import entry_hash, verify_excerpt

SCENARIO = {
    "start": "2026-01-01T09:00:00Z", "until": "2026-03-01T00:00:00Z",
    "policy": {"interval": "14d", "reminders": ["2d"], "grace": "3d", "stages": [{"name": "staff", "after": "0d"}]},
    "events": [{"at": "2026-01-10T09:00:00Z", "type": "checkin"}],
}


class Signer:
    def __init__(self, key: SigningKey) -> None:
        self.key = key

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message).signature


class Check:
    def __init__(self, key: VerifyKey) -> None:
        self.key = key

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            self.key.verify(message, signature)
        except BadSignatureError:
            return False
        return True


def _chain(key: SigningKey) -> list[AuditEntry]:
    entries: list[AuditEntry] = []
    for event in simulate(parse_scenario(SCENARIO)):
        last = (entries[-1].seq, entries[-1].hash) if entries else None
        entries.append(next_entry("7", last, event.at, str(event.kind), event.to_dict(), Signer(key)))
    return entries


def test_an_excerpt_from_the_middle_of_a_chain_verifies() -> None:
    """Entries 2 to the end chain from entry 1's hash, which the excerpt carries as its first prev_hash."""
    key = SigningKey.generate()
    assert verify_excerpt(_chain(key)[1:], Check(key.verify_key)) is None


def test_an_altered_or_missing_entry_in_an_excerpt_is_named() -> None:
    """Changed data, a foreign signature and a gap each name the entry where the excerpt breaks."""
    key = SigningKey.generate()
    excerpt = _chain(key)[1:]
    changed = replace(excerpt[1], data={**excerpt[1].data, "reason": "edited"})
    assert str(verify_excerpt([excerpt[0], changed, *excerpt[2:]], Check(key.verify_key))) == \
        f"entry {changed.seq}: altered: its content does not match its hash"
    other = SigningKey.generate()
    assert str(verify_excerpt(excerpt, Check(other.verify_key))) == \
        f"entry {excerpt[0].seq}: altered: its signature does not verify"
    assert str(verify_excerpt([excerpt[0], *excerpt[2:]], Check(key.verify_key))) == \
        f"entry {excerpt[1].seq}: removed: the chain jumps from entry {excerpt[0].seq} to entry {excerpt[2].seq}"
    rehashed = replace(changed, hash=entry_hash(changed.prev_hash, changed.seq, changed.at, changed.kind,
                                                changed.data))
    assert "signature does not verify" in str(verify_excerpt([excerpt[0], rehashed], Check(key.verify_key)))
