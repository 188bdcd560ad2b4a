"""What a holder reads, said in the holder's language: why a release happened (from the fired event's
data, never the switch's English sentence), the rule of who must come together, the other holders of
the compartment, and the sealed key-check text.

The switch writes its reason twice: an English sentence for the owner's timeline and the audit log,
and the same as data (``cause`` and its figures, ``switch.machine._fire``). Everything here reads the
data; a release made before the data was kept gets a plain sentence that is true of every release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from babel import Locale
from babel.dates import format_timedelta

from handover.i18n import locale_of, moment, supported, translations


def _(message: str) -> str:
    """Marks a message for the catalog; translated where it is used (``gettext`` of the reader's language)."""
    return message


REASONS = {
    "grace": _("the owner did not check in by the deadline (%(deadline)s), nor during the grace period after it"),
    "confirmation": _("the owner did not check in by the deadline (%(deadline)s), nor during the grace period, "
                      "and the people asked to confirm gave no sign that the owner can be reached"),
    "request": _("%(by)s asked for the release on %(requested_at)s, and the owner did not refuse it within "
                 "%(wait)s"),
    "drill": _("this is a fire drill that the owner started: it opens nothing real"),
}
UNKNOWN = _("the owner stopped checking in, and every safeguard the owner chose had its turn")


def reason(cause: Mapping[str, Any] | None, language: str, zone: str) -> str:
    """Why the release happened, in ``language``; moments in time zone ``zone``, the zone named."""
    language = supported(language)
    gettext, ngettext = translations(language).gettext, translations(language).ngettext
    kind = (cause or {}).get("cause")
    try:
        if kind == "quorum":
            assert cause is not None
            quorum = int(cause["quorum"])
            said = ngettext("%(unreachable)s of the %(verifiers)s people asked to confirm said the owner cannot be "
                            "reached (%(quorum)s such answer was needed)",
                            "%(unreachable)s of the %(verifiers)s people asked to confirm said the owner cannot be "
                            "reached (%(quorum)s such answers were needed)", quorum)
            return said % {"unreachable": int(cause["unreachable"]), "verifiers": int(cause["verifiers"]),
                           "quorum": quorum}
        if kind in ("grace", "confirmation"):
            assert cause is not None
            return gettext(REASONS[kind]) % {"deadline": moment(cause["deadline"], language, zone)}
        if kind == "request":
            assert cause is not None
            wait = format_timedelta(timedelta(seconds=int(cause["wait_seconds"])), threshold=1.0,
                                    locale=locale_of(language))
            return gettext(REASONS[kind]) % {"by": cause["by"], "wait": wait,
                                             "requested_at": moment(cause["requested_at"], language, zone)}
        if kind == "drill":
            return gettext(REASONS[kind])
    except (KeyError, TypeError, ValueError):  # data from an older switch: the plain sentence below
        pass
    return gettext(UNKNOWN)


def rule(policy: Mapping[str, Any], language: str) -> str:
    """Who must come together, ``3 of 5 (holders)``, in ``language`` (the same words as the download page)."""
    gettext = translations(supported(language)).gettext
    parts = []
    for group in policy["groups"]:
        values = {"threshold": group["threshold"], "count": len(group["holders"]), "name": group["name"]}
        parts.append(gettext("%(threshold)s of %(count)s (holders)") % values if group["name"] == "holders"
                     else gettext("%(threshold)s of %(count)s (%(name)s)") % values)
    if len(parts) == 1:
        return parts[0]
    return gettext("%(needed)s of these groups: %(parts)s") % {"needed": policy["group_threshold"],
                                                               "parts": "; ".join(parts)}


def language_name(language: str, reader: str) -> str:
    """The name of ``language`` as a reader of ``reader`` writes it (``Indonesia``, ``portoghese (Brasile)``)."""
    return str(Locale.parse(supported(language).replace("-", "_")).get_display_name(locale_of(reader)))


def fellow_holders(policy: Mapping[str, Any], people: Sequence[Mapping[str, Any]], me: str,
                   reader: str) -> list[dict[str, Any]]:
    """The compartment's other holders as the reader sees them: name, group, language (in the reader's
    words), and the e-mail only of those who chose to share it."""
    known = {p["name"]: p for p in people}
    out = []
    for group in policy["groups"]:
        for holder in group["holders"]:
            if holder == me:
                continue
            person = known.get(holder, {"name": holder, "display_name": holder, "language": "en"})
            out.append({"id": holder, "name": person["display_name"], "group": group["name"],
                        "language": person["language"], "language_name": language_name(person["language"], reader),
                        "email": person.get("email") if person.get("share_contact") else None})
    return out


def when(value: datetime | str | None, language: str, zone: str) -> str:
    """A moment for a holder (``handover.i18n.moment``), empty when there is none."""
    return moment(value, language, zone) if value is not None else ""


KEYCHECK = _("Baton key check for %(holder)s.\nYour code: %(code)s\nEnter it on the key-check page (or with "
             "`baton keycheck`). It proves your key still opens what is sealed to it.\n")


def keycheck_wording(language: str) -> str:
    """The sealed key-check text in ``language``, with ``{holder}`` and ``{code}`` (``vault.challenge``)."""
    return translations(supported(language)).gettext(KEYCHECK) % {"holder": "{holder}", "code": "{code}"}
