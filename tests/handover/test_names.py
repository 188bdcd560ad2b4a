"""Domain names: IDNA 2008 normalisation, the limits of the DNS, and errors that say what was wrong."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handover.errors import HandoverError
from handover.names import DomainName, domain_name

L63 = "a" * 63


@pytest.mark.parametrize(
    ("text", "ascii", "unicode"),
    [
        ("straße.de", "xn--strae-oqa.de", "straße.de"),  # IDNA 2008 keeps ß; IDNA 2003 made it strasse.de
        ("bücher.co.id", "xn--bcher-kva.co.id", "bücher.co.id"),
        ("EXAMPLE.COM", "example.com", "example.com"),
        ("Bücher.CO.ID", "xn--bcher-kva.co.id", "bücher.co.id"),
        ("example.com.", "example.com", "example.com"),  # the root's dot is dropped
        ("  example.com  ", "example.com", "example.com"),
        ("xn--strae-oqa.de", "xn--strae-oqa.de", "straße.de"),  # an A-label gives the U-label back
        ("XN--BCHER-KVA.CO.ID", "xn--bcher-kva.co.id", "bücher.co.id"),
        ("example１２３.com", "example123.com", "example123.com"),  # full-width digits are mapped
        ("ｅｘａｍｐｌｅ.com", "example.com", "example.com"),  # and full-width letters
        ("1example.com", "1example.com", "1example.com"),
    ],
)
def test_names_are_normalised(text: str, ascii: str, unicode: str) -> None:
    assert domain_name(text) == DomainName(ascii, unicode)


def test_straße_is_not_strasse() -> None:
    assert domain_name("straße.de") != domain_name("strasse.de")
    assert domain_name("straße.de").ascii != "strasse.de"


def test_str_is_unicode_and_tld_is_ascii() -> None:
    name = domain_name("bücher.co.id")
    assert str(name) == "bücher.co.id"
    assert name.tld == "id"


def test_a_63_character_label_is_accepted() -> None:
    assert domain_name(f"{L63}.com").ascii == f"{L63}.com"


def test_a_64_character_label_is_rejected() -> None:
    with pytest.raises(HandoverError, match=r"expected .*got .*'a{64}\.com'"):
        domain_name("a" * 64 + ".com")


def test_an_idn_label_too_long_in_ascii_is_rejected() -> None:
    with pytest.raises(HandoverError, match="expected"):
        domain_name("ü" * 60 + ".de")  # 61 characters, but its A-label is longer than 63


def test_253_characters_are_accepted_and_254_rejected() -> None:
    longest = ".".join([L63, L63, L63, "a" * 61])
    assert len(longest) == 253
    assert domain_name(longest).ascii == longest
    assert domain_name(longest + ".").ascii == longest  # the root dot does not count
    too_long = ".".join([L63, L63, L63, "a" * 62])
    with pytest.raises(HandoverError, match="expected .*got"):
        domain_name(too_long)


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_empty_is_rejected(text: str) -> None:
    with pytest.raises(HandoverError, match="expected a domain name, got an empty value"):
        domain_name(text)


@pytest.mark.parametrize("text", ["localhost", "com.", "example..com", ".com", "example.com.."])
def test_a_single_or_empty_label_is_rejected(text: str) -> None:
    with pytest.raises(HandoverError, match=r"expected a domain name with at least two non-empty labels.*got"):
        domain_name(text)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("-example.com", "hyphen"),
        ("example-.com", "hyphen"),
        ("ab--cd.com", "hyphen"),
        ("my_site.com", "U\\+005F"),
        ("exa mple.com", "U\\+0020"),
        ("user@example.com", "U\\+0040"),
        ("http://example.com", "U\\+003A"),
        ("example.com:8080", "U\\+003A"),
    ],
)
def test_invalid_characters_are_rejected_with_the_reason(text: str, why: str) -> None:
    with pytest.raises(HandoverError) as caught:
        domain_name(text)
    message = str(caught.value)
    assert message.startswith("expected a valid IDNA 2008 domain name")
    assert repr(text) in message  # what arrived
    assert re.search(why, message)


@pytest.mark.parametrize("text", ["192.168.0.1", "10.0.0.1.", "example.123"])
def test_address_like_names_are_rejected(text: str) -> None:
    with pytest.raises(HandoverError, match=r"expected a domain name, got an address-like"):
        domain_name(text)


@pytest.mark.parametrize(
    ("text", "ascii"),
    [
        pytest.param("bücher。co。id", "xn--bcher-kva.co.id", id="ideographic-full-stops"),
        pytest.param("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com", id="full-width-full-stop"),
        pytest.param("example.com。", "example.com", id="ideographic-root-dot"),
    ],
)
def test_ideographic_and_full_width_full_stops_separate_labels(text: str, ascii: str) -> None:
    assert domain_name(text).ascii == ascii


# A lowercase LDH label valid under IDNA 2008: letters, digits, inner hyphens, never "--" in 3rd and 4th place.
LDH_LABEL = st.from_regex(r"\A[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z").filter(lambda label: label[2:4] != "--")
TLD = st.from_regex(r"\A[a-z]([a-z0-9-]{0,20}[a-z0-9])?\Z").filter(lambda label: label[2:4] != "--")
LDH_NAME = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LDH_LABEL, min_size=1, max_size=3),
                     TLD).filter(lambda name: len(name) <= 253)
IDN_LABEL = st.text(alphabet="abcxyz019-äöüßçãéèñåøæœ", min_size=1, max_size=12).filter(
    lambda label: not label.startswith("-") and not label.endswith("-") and label[2:4] != "--")
IDN_NAME = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(IDN_LABEL, min_size=1, max_size=3), TLD)


@given(LDH_NAME)
def test_a_valid_ldh_name_is_its_own_ascii_form(name: str) -> None:
    parsed = domain_name(name)
    assert parsed.ascii == name
    assert domain_name(parsed.unicode) == parsed


@given(IDN_NAME)
def test_normalising_the_unicode_form_again_changes_nothing(name: str) -> None:
    parsed = domain_name(name)
    assert domain_name(parsed.unicode) == parsed
    assert domain_name(parsed.ascii) == parsed
    if "ß" not in name:  # upper-casing ß gives SS: another name
        assert domain_name(name.upper()) == parsed
