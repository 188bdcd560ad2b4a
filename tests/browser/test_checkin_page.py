"""The reminder's check-in link in a real browser: opening it changes nothing, the button checks in once."""

from __future__ import annotations

from collections.abc import Callable

from browser_support import Site, Visit, heading

POLICY = {"interval": "30d", "reminders": ["7d", "1d"], "grace": "7d",
          "stages": [{"name": "notify", "after": "0d", "audience": ["owner"], "action": "notify"}]}


def test_a_reminders_link_shows_the_page_and_only_the_button_checks_in(serve: Callable[..., Site],
                                                                       visit: Visit) -> None:
    """Opening the link and reloading it change nothing; the button checks in; the spent link says so."""
    site = serve(POLICY)
    service, page = site.runtime.service, visit.page
    site.clock.advance(days=23, hours=1)  # seven days before the deadline: the first reminder
    [reminder] = site.run_worker()
    assert reminder.purpose == "reminder" and reminder.recipient == site.owner_email
    link = site.link(reminder, "l")
    before = service.status(site.owner_id)
    site.clock.advance(hours=2)

    page.goto(link)
    assert heading(page) == "Check in"
    assert page.get_by_text("Opening this page changed nothing. The button works once.").is_visible()
    assert site.owner_email in page.inner_text("main")
    visit.shot("check-in-page")
    visit.shot("check-in-page", phone=True)
    page.reload()  # a second look (a chat preview, a mail scanner, a reload) changes nothing either
    assert heading(page) == "Check in"
    after_looking = service.status(site.owner_id)
    assert (after_looking.last_checkin, after_looking.deadline) == (before.last_checkin, before.deadline)
    assert service.timeline(site.owner_id)[-1]["event"] == "reminder"

    page.get_by_role("button", name="I am here — check in").click()
    assert heading(page) == "Thank you — you are checked in"
    visit.shot("checked-in")
    visit.shot("checked-in", phone=True)
    now = site.clock.now()
    checked = service.status(site.owner_id)
    assert checked.last_checkin == now and checked.deadline > before.deadline
    assert checked.to_dict()["deadline_local"] in page.inner_text("main")
    assert [e["event"] for e in service.timeline(site.owner_id)][-1] == "checkin"

    site.clock.advance(hours=1)
    page.goto(link)  # the same link again, later: it explains itself and checks nobody in
    assert heading(page) == "This link was already used"
    visit.shot("link-used")
    visit.shot("link-used", phone=True)
    assert service.status(site.owner_id).last_checkin == now
