"""The verifiers' page in a real browser: opening it shows the question, each button records its vote."""

from __future__ import annotations

from collections.abc import Callable

from browser_support import Site, Visit, heading

POLICY = {"interval": "10d", "reminders": ["1d"], "grace": "1d",
          "confirm": {"window": "3d", "quorum": 2, "verifiers": [{"name": "ana", "email": "ana@example.org"},
                                                                  {"name": "budi", "email": "budi@example.org"}]},
          "stages": [{"name": "notify", "after": "0d", "audience": ["owner"], "action": "notify"}]}


def _votes(site: Site) -> list[tuple[str | None, str | None]]:
    return [(e["who"], e["reason"]) for e in site.runtime.service.timeline(site.owner_id) if e["event"] == "vote"]


def test_each_verifier_answers_with_a_button_and_the_vote_is_recorded(serve: Callable[..., Site],
                                                                      visit: Visit) -> None:
    """ana presses "unreachable", budi "reachable": both votes are recorded, no early firing, links spent."""
    site = serve(POLICY)
    service, page = site.runtime.service, visit.page
    site.clock.advance(days=11, hours=1)  # past the deadline and the grace: the verifiers are asked
    asked = {m.recipient: site.link(m, "v") for m in site.run_worker() if m.purpose == "verify"}
    assert sorted(asked) == ["ana@example.org", "budi@example.org"]
    assert service.status(site.owner_id).status == "confirming"

    page.goto(asked["ana@example.org"])
    assert heading(page) == "Hello ana"
    assert page.get_by_text(f"{site.owner_email} named you as a trusted contact.").is_visible()
    visit.shot("ana-asked")
    visit.shot("ana-asked", phone=True)
    assert _votes(site) == []  # looking is not answering
    page.get_by_role("button", name="No, unreachable").click()
    assert heading(page) == "Thank you"
    assert page.get_by_text("Your answer (unreachable) is recorded.").is_visible()
    visit.shot("ana-answered")
    assert _votes(site) == [("ana", "1 of 2 unreachable answers needed to fire early")]
    assert [m.purpose for m in site.run_worker()] == ["vote"]  # the owner is told at once

    page.goto(asked["budi@example.org"])
    assert heading(page) == "Hello budi"
    visit.shot("budi-asked", phone=True)
    page.get_by_role("button", name="Yes, reachable").click()
    assert page.get_by_text("Your answer (reachable) is recorded.").is_visible()
    visit.shot("budi-answered", phone=True)
    assert _votes(site) == [("ana", "1 of 2 unreachable answers needed to fire early"),
                            ("budi", "budi answered reachable: no early firing")]
    assert service.status(site.owner_id).status == "confirming"  # one "reachable" stops an early firing

    page.goto(asked["ana@example.org"])  # a second answer through the same link is not taken
    assert heading(page) == "This link was already used"
    visit.shot("ana-link-used")
    assert len(_votes(site)) == 2
