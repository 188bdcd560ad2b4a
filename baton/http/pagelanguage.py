"""The language a link page speaks (its person's, else the browser's), and the service's refusals said in it.

The service's messages are English: they are the API's and the command line's words too. Those that a
holder, or anyone opening a link, may read on a page are listed here as gettext messages whose
``%(name)s`` parts stand for the variable parts of the English text. ``translate`` finds the one an
English message is an instance of and returns its translation with the same values (a date the way
the language writes it, in English too: no page shows a raw ISO moment); a message not listed here is
shown as it is, in English.
"""

from __future__ import annotations

import re
from functools import cache

from handover.i18n import LANGUAGES, LOCALES, formatted_date, supported, translations


def N_(message: str) -> str:
    """Marks a message for the catalog (``pybabel extract`` finds ``N_``) without translating it here."""
    return message


# baton.http.outage: the database out of reach (503), said so that the person knows what became of their act
NOT_RECORDED = N_("Baton's database cannot be reached right now: nothing was recorded. Try again in a few minutes.")
CHECKIN_NOT_RECORDED = N_("Baton's database cannot be reached right now: your check-in was NOT recorded. Try again "
                          "in a few minutes.")
NOT_SHOWN = N_("Baton's database cannot be reached right now, so this page cannot be shown. Try again in a few "
               "minutes.")
MAYBE_RECORDED = N_("Baton's database stopped answering while this was being saved: it may or may not have been "
                    "recorded. Look again in a few minutes before you repeat it.")
CHECKIN_MAYBE_RECORDED = N_("Baton's database stopped answering while your check-in was being saved: it may not "
                            "have been recorded. Check in again in a few minutes; a second check-in does no harm.")
# baton.http.app: a browser asking for a page that is not there (404), or with the wrong method (405)
NO_PAGE = N_("There is no page at this address. Check that the address was copied whole; a link in an e-mail "
             "works as it was sent.")
WRONG_METHOD = N_("This address answers a button on one of Baton's pages, not a link or a typed address. Go back "
                  "to the page with the button and press it there.")
# baton.http.bodylimit: a body over its limit (413)
TOO_LARGE = N_("What was sent is larger than the %(limit)s this page accepts, so it was not read and nothing was "
               "saved.")

REFUSALS = (
    NOT_RECORDED, CHECKIN_NOT_RECORDED, NOT_SHOWN, MAYBE_RECORDED, CHECKIN_MAYBE_RECORDED, TOO_LARGE, NO_PAGE,
    WRONG_METHOD,
    # baton.store.links: a link that cannot be used
    N_("This link is not known. Check that it was copied whole."),
    N_("This link was withdrawn by the owner."),
    N_("This link was already used, at %(when)s. Each link works once."),
    N_("This link was already used. Each link works once."),
    N_("This link was already used %(uses)s times, as many as it may be."),
    N_("This link expired at %(when)s."),
    N_("This question is closed: the owner checked in, or the switch has already decided. Thank you."),
    N_("Please press one of the two buttons: reachable or unreachable."),
    N_("This form did not come from Baton's own page: open the link again and press the button there."),
    N_("Too many attempts in a short time. Wait a minute, then open the link again."),
    # vault.keys: a key pasted on the enrolment page
    N_("expected a public key, got a private key (-----BEGIN … PRIVATE KEY-----): never share it; send the "
       "line of the .pub file (ssh-ed25519 AAAA…) instead"),
    N_("expected a public key, got a secret key (AGE-SECRET-KEY-…): never share it; send the line starting "
       "age1… instead"),
    N_("expected an age public key (age1… in 62 characters), got a damaged one starting %(shown)s: check "
       "that it was copied whole"),
    N_("expected an SSH public key (%(kind)s AAAA…), got a damaged one: check that the whole line was copied"),
    N_("expected an age public key (age1…) or an SSH public key (ssh-ed25519 or ssh-rsa), got %(shown)s"),
    # baton.services.vault: the key check
    N_("the code does not match (attempt %(attempt)s of 5): open the sealed challenge with the same key you "
       "enrolled"),
    N_("this key check was already passed, at %(when)s"),
    N_("this key check expired at %(when)s; ask the owner for a new one"),
    N_("this key check was sealed to a key that was replaced since; a new one was sent"),
    N_("too many wrong codes for this key check; ask the owner for a new one"),
    N_("this key check was already passed"),
    # baton.services.reissue: a new download link after a release
    N_("This download link still works: open it again and press the download button."),
    N_("There is no release behind this link any more, so no new link can be sent."),
    N_("The owner removed you as a holder, so no new link can be sent."),
    N_("Baton has no key of yours on record, so it cannot check that it is you: no new link can be sent this "
       "way."),
    N_("Baton has no e-mail address of yours to send a new link to."),
    N_("%(count)s key checks were started for you in the last 24 hours, as many as allowed: try again in a day."),
    N_("This key check is not known here: start again from the page of your download link."),
    N_("This key check was already answered, at %(when)s, and a new link was sent then. Start a new key check "
       "if you need another."),
    N_("This key check expired at %(when)s: start a new one."),
    N_("This key check cannot be answered any more (too many wrong codes, or a new key): start a new one."),
    # baton.services.releases: the package download
    N_("package %(package)s: the share it names was replaced by a newer split"),
    # baton.services.collector: a share forwarded to the collector, and the collector's page
    N_("your share was already sent to %(collector)s, at %(when)s"),
    N_("this part of the vault has no collector to send a share to"),
    N_("the sealed share: expected an age file sealed in your browser (-----BEGIN AGE ENCRYPTED FILE-----…), "
       "got something else; nothing was sent"),
    N_("the sealed share: its armor is not base64; nothing was sent"),
    N_("the sealed share: expected an age file sealed to the collector's key, got another kind of file; nothing "
       "was sent"),
    N_("the sealed share: expected at most %(limit)s characters, got %(count)s"),
    N_("this collector was removed by the owner"),
)
DATES = frozenset({"when"})  # parts that are moments (ISO 8601 in English), written as the language writes dates
_PART = re.compile(r"%\((\w+)\)s")


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """Each message as a pattern that matches its English instances, its parts captured by name."""
    made = []
    for message in REFUSALS:
        literal = _PART.split(message)  # text, name, text, name, …, text
        regex = "".join(re.escape(piece) if i % 2 == 0 else f"(?P<{piece}>.+?)" for i, piece in enumerate(literal))
        made.append((re.compile(regex, re.S), message))
    return tuple(made)


def translate(message: str, language: str) -> str:
    """``message`` (English, from the service) in ``language`` if it is one of ours, else unchanged."""
    language = supported(language)
    for pattern, msgid in _patterns():
        found = pattern.fullmatch(message)
        if found is None:
            continue
        values = {name: _date(value, language) if name in DATES else value
                  for name, value in found.groupdict().items()}
        return translations(language).gettext(msgid) % values
    return message


def _date(moment: str, language: str) -> str:
    try:
        return formatted_date(moment, "long", LOCALES[language])
    except ValueError:  # not a moment after all: shown as the service wrote it
        return moment


def negotiate(accept_language: str | None) -> str:
    """The language among ours the browser prefers (``Accept-Language``, by quality value), else English."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "")[:2000].split(",")):
        tag, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        primary = "id" if primary == "in" else primary  # "in": Indonesian's old code, still sent by some systems
        if primary in LANGUAGES and 0 < quality <= 1:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else "en"
