"""Billing cycles are read in the words billing systems export: WHMCS, Blesta, HostBill, panels, people."""

from __future__ import annotations

import pytest

from handover.cycles import cycle_from_text
from handover.errors import HandoverError
from handover.model import Cycle
from handover.rows import parse_row


@pytest.mark.parametrize(("text", "cycle"), [
    ("Annually", Cycle.ANNUALLY), ("annual", Cycle.ANNUALLY), ("Yearly", Cycle.ANNUALLY),
    ("1 year", Cycle.ANNUALLY), ("12 months", Cycle.ANNUALLY), ("a", Cycle.ANNUALLY), ("tahunan", Cycle.ANNUALLY),
    ("anual", Cycle.ANNUALLY), ("annuale", Cycle.ANNUALLY),
    ("Monthly", Cycle.MONTHLY), ("1 month", Cycle.MONTHLY), ("m", Cycle.MONTHLY), ("bulanan", Cycle.MONTHLY),
    ("mensal", Cycle.MONTHLY), ("Quarterly", Cycle.QUARTERLY), ("3 months", Cycle.QUARTERLY),
    ("Semi-Annually", Cycle.SEMIANNUALLY), ("semi_annual", Cycle.SEMIANNUALLY), ("half-yearly", Cycle.SEMIANNUALLY),
    ("6 months", Cycle.SEMIANNUALLY), ("Biennially", Cycle.BIENNIALLY), ("2 years", Cycle.BIENNIALLY),
    ("24 months", Cycle.BIENNIALLY), ("Triennially", Cycle.TRIENNIALLY), ("3 Years", Cycle.TRIENNIALLY),
    ("One Time", Cycle.ONE_TIME), ("onetime", Cycle.ONE_TIME), ("one-time", Cycle.ONE_TIME), ("Once", Cycle.ONE_TIME),
], ids=lambda v: str(v))
def test_the_common_words_of_billing_systems_name_their_cycle(text: str, cycle: Cycle) -> None:
    assert cycle_from_text(text) is cycle


@pytest.mark.parametrize("text", ["", "  ", "Free Account", "free", "None"])
def test_no_recurring_charge_is_no_cycle(text: str) -> None:
    assert cycle_from_text(text) is None


def test_an_unknown_cycle_says_what_is_accepted() -> None:
    with pytest.raises(HandoverError) as caught:
        cycle_from_text("fortnightly")
    assert str(caught.value) == ("a billing cycle such as monthly, quarterly, semiannually, annually, biennially, "
                                 "triennially, one-time (or a synonym: annual, yearly, 1 year, 12 months, …), got "
                                 "'fortnightly'")


def test_hosting_csv_takes_annual_where_annually_is_documented() -> None:
    """The word the issue found refused: ``annual``."""
    parsed = parse_row("hosting", {"id": "h1", "customer": "c1", "provider": "p", "paid_until": "2027-01-01",
                                   "cycle": "annual"}, "hosting.csv", 1)
    assert parsed.errors == () and parsed.record is not None
    assert parsed.record.cycle is Cycle.ANNUALLY  # type: ignore[union-attr]
