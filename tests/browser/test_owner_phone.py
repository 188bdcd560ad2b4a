"""The owner's pages on a phone and from the keyboard, and the pages a browser gets for a wrong address.

axe-core is not part of the repository, so its ``scrollable-region-focusable`` rule is checked here
by hand: every scroll box is in the tab order with a name, and on a 390-pixel screen the tables stack
into one card per row, so no column (People's "Key", the timeline's "Why") hides behind a scroll.
"""

from __future__ import annotations

from browser_support import PHONE, Site, Visit, heading
from test_owner_web import sign_in


def _focus_reaches_every_scroll_box(visit: Visit) -> int:
    """Tab through the page; how many scroll boxes took the focus (each must have a name)."""
    page = visit.page
    page.evaluate("document.activeElement && document.activeElement.blur()")
    reached = set()
    for _ in range(80):
        page.keyboard.press("Tab")
        found = page.evaluate("""() => { const e = document.activeElement;
            return e && e.classList.contains('scroll') ? e.getAttribute('aria-label') : null; }""")
        if found:
            reached.add(found)
    return len(reached)


def test_on_a_phone_tables_stack_and_every_scroll_box_is_reached_by_keyboard(owner_site: Site, visit: Visit) -> None:
    site, page = owner_site, visit.page
    sign_in(site, visit)
    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_label("Short id").fill("ana")
    page.get_by_label("Full name").fill("Ana Souza")
    page.get_by_label("Email").fill("ana@heirs.example")
    page.get_by_role("button", name="Add").click()
    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.get_by_role("button", name="I am here — check in").click()  # a row on the timeline
    for path, label in (("/people", "Key"), ("/timeline", "Why")):
        page.set_viewport_size(PHONE)  # a screenshot goes back to the desktop size
        page.goto(f"{site.url}{path}")
        boxes = page.locator("div.scroll")
        assert boxes.count() >= 1
        for i in range(boxes.count()):
            box = boxes.nth(i)
            assert (box.get_attribute("tabindex"), box.get_attribute("role")) == ("0", "region")
            assert box.get_attribute("aria-label")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        cell = page.locator(f"table td[data-label={label}]").first
        seen = cell.bounding_box()  # on the screen, not behind a horizontal scroll
        assert seen is not None and seen["x"] >= 0 and seen["x"] + seen["width"] <= PHONE["width"], path
        assert cell.evaluate("e => getComputedStyle(e, '::before').content") == f'"{label}: "'
        assert _focus_reaches_every_scroll_box(visit) == boxes.count(), path
        visit.shot(path.strip("/"))
        visit.shot(path.strip("/"), phone=True)


def test_a_browser_gets_a_page_for_a_wrong_address_in_its_language(owner_site: Site, visit: Visit) -> None:
    site, page = owner_site, visit.page
    answer = page.goto(f"{site.url}/checkin")
    assert answer is not None and answer.status == 405
    assert heading(page) == "This page cannot be opened this way"
    visit.shot("wrong-method")
    indonesian = page.context.browser.new_context(locale="id-ID")  # type: ignore[union-attr]
    try:
        phone = indonesian.new_page()
        phone.set_viewport_size(PHONE)
        answer = phone.goto(f"{site.url}/no/such/page")
        assert answer is not None and answer.status == 404
        assert heading(phone) == "Halaman ini tidak ada" and phone.get_attribute("html", "lang") == "id"
        phone.screenshot(path=str(visit.camera.folder / "02-no-such-page-id-phone.png"), full_page=True)
    finally:
        indonesian.close()
