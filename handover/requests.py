"""Requests to registrars and hosting providers for a handover (``baton handover build``).

``build`` turns the register, the customers' answers and the auth codes from the opened
vault into files, grouped per registrar (one folder each, named by a slug of its id):

- ``move-ticket.txt``: the reseller-to-client move ticket (DomainRegister style), written
  when the registrar moves domains between accounts and at least one domain is to move;
  it lists each domain with the customer account it goes to, asks that the expiry be kept
  and DNS left untouched, and lists apart the domains whose customer has not answered;
- ``auth-code-request.txt``: remove ``clientTransferProhibited`` and give the auth code
  within ``rules.auth_code_days`` days, for the domains the customers transfer away;
- ``succession-letter.txt`` and ``succession-letter.html`` (printable): who asks and in
  what role, the owner, the account ids, every domain with the action wanted, the standing
  requests (keep renewals and DNS running, delete nothing, keep expiry dates) and the
  documents the registrar requires as a checklist;
- ``epp/<ascii>-info.xml``, ``epp/<ascii>-unlock.xml``, ``epp/<ascii>-transfer.xml`` at
  registrars the successors operate over EPP, for the domains transferred away.

Per hosting provider, ``hosting/<slug>.txt`` asks to move each individual package to the
customer's own account with the paid-until date kept and no interruption; pooled services
are listed as needing extraction first (the customer's account at a provider comes from
``Answer.hosting_accounts``, keyed by the service's id). ``README.md`` indexes it all, with counts and what
is missing. With ``drill`` every file says DRILL at its top.

What each domain and service gets (move, transfer, awaiting, keep; move or extract) is decided
in ``handover.decisions``. Domains registered in the reseller's name need a registrant change to
the customer; the ticket and the letter say so.

EPP: the transfer request needs the auth code; a transfer wish with no code in the vault
(or an unusable one) gets no transfer document and is listed as missing in ``README.md``,
never guessed. Nor does a domain that cannot be transferred now (a 60-day lock, an expiry
before the registrar must answer, a registry lock): ``README.md`` says why, and from which day
a build makes the request. The info document carries the code when it is known (so a non-sponsor can
read the domain); the unlock document is written when the domain has
``clientTransferProhibited`` or its statuses are unknown. Files that carry a code are
``secret``; the code never appears in any other file.

Letters and tickets are written in English, the working language of registrars' and
providers' support desks, whatever the language of the business's customers (customer
notices are elsewhere, in the customer's language).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from handover import epp
from handover.decisions import (
    Action,
    Decision,
    HostingAction,
    HostingDecision,
    answered,
    decide,
    decide_hosting,
    normalised_name,
    transfer_withheld,
    wished,
)
from handover.errors import HandoverError
from handover.model import Answer, Domain, Event, HandoverProfile, Hosting, Register, Registrar, Successor
from handover.plaintext import by_slug, markdown_text, one_line, slug, slugs
from handover.rules import TransferRules
from templates import TEMPLATE_DIR

__all__ = ["Action", "BuildInput", "HostingAction", "OutputFile", "build", "decide", "decide_hosting", "slug"]

TEMPLATES = "requests"
DRILL_BANNER = "DRILL: this is an exercise. Do not send."
CLTRID_PREFIX = "baton"
CLTRID_DRILL_PREFIX = "baton-drill"
CLIENT_LOCK = "clientTransferProhibited"
RESERVED_FOLDERS = frozenset({"hosting"})

DEFAULT_DOCUMENTS: dict[Event, tuple[str, ...]] = {
    Event.PASSED_AWAY: (
        "death certificate",
        "letter of administration, grant of probate or certificate of inheritance",
        "the requester's ID",
        "proof of the requester's role (e.g. will, court appointment or heirs' mandate)",
    ),
    Event.INCAPACITATED: (
        "medical certificate",
        "power of attorney or guardianship order",
        "the requester's ID",
    ),
    Event.CLOSING: (
        "the company's resolution or the owner's signed instruction",
        "the requester's ID",
    ),
}


@dataclass(frozen=True)
class BuildInput:
    register: Register
    answers: Mapping[str, Answer]  # by customer id
    auth_codes: Mapping[str, str]  # ASCII domain name → auth code, from the opened vault (never the server)
    profile: HandoverProfile
    requester: Successor
    today: date
    rules: TransferRules
    drill: bool = False


@dataclass(frozen=True)
class OutputFile:
    path: str  # relative, POSIX
    content: bytes
    secret: bool  # carries an auth code


@dataclass(frozen=True, slots=True)
class EppResult:
    """The EPP documents for one domain, and why a transfer document is missing (if it is)."""

    files: tuple[OutputFile, ...]
    missing: str | None


@dataclass(frozen=True, slots=True)
class RegistrarPlan:
    registrar: Registrar
    folder: str
    decisions: tuple[Decision, ...]

    def of(self, action: Action) -> tuple[Decision, ...]:
        return tuple(d for d in self.decisions if d.action is action)


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    provider: Registrar  # the provider's record (registrars double as providers), or a bare one from its id
    file: str
    decisions: tuple[HostingDecision, ...]

    def of(self, action: HostingAction) -> tuple[HostingDecision, ...]:
        return tuple(d for d in self.decisions if d.action is action)


# --- the build -----------------------------------------------------------------------------------------------


def build(inputs: BuildInput, step: Callable[[int], None] | None = None) -> list[OutputFile]:
    """Every request file, README.md first, then by path: the same inputs give the same files, byte for byte.

    ``step`` is told how many domains or services each registrar's or provider's files covered (for a
    progress bar: they add up to the register's domains plus its hosting services)."""
    done = step or (lambda count: None)
    _check_answers(inputs.answers)
    codes = _normalised_codes(inputs.auth_codes)
    registrars = plan_registrars(inputs)
    providers = plan_hosting(inputs)
    files: list[OutputFile] = []
    missing_codes: list[tuple[Decision, RegistrarPlan, str]] = []
    for reg in registrars:
        files += _registrar_files(inputs, reg)
        for decision in reg.of(Action.TRANSFER) if reg.registrar.epp else ():
            result = _epp_files(inputs, reg, decision, codes.get(decision.domain.name.ascii))
            files += result.files
            if result.missing:
                missing_codes.append((decision, reg, result.missing))
        done(len(reg.decisions))
    for provider in providers:
        files.append(_hosting_file(inputs, provider))
        done(len(provider.decisions))
    files.sort(key=lambda f: f.path)
    readme = _readme(inputs, registrars, providers, files, missing_codes)
    return [readme, *files]


def plan_registrars(inputs: BuildInput) -> list[RegistrarPlan]:
    """Each registrar with domains, in order of its folder, with every domain's decision."""
    register = inputs.register
    by_registrar: dict[str, list[Domain]] = {}
    for domain in register.domains:
        by_registrar.setdefault(domain.registrar, []).append(domain)
    ids = by_slug(by_registrar)
    folders = slugs(ids, reserved=RESERVED_FOLDERS)
    plans: list[RegistrarPlan] = []
    for rid in ids:
        registrar = register.registrar(rid)
        domains = sorted(by_registrar[rid], key=lambda d: (d.name.unicode, d.name.ascii, d.customer))
        decisions = tuple(decide(d, registrar, inputs.answers.get(d.customer), inputs.today, inputs.rules)
                          for d in domains)
        plans.append(RegistrarPlan(registrar, folders[rid], decisions))
    return plans


def plan_hosting(inputs: BuildInput) -> list[ProviderPlan]:
    """Each hosting provider, in order of its file, with every service's decision."""
    by_provider: dict[str, list[Hosting]] = {}
    for hosting in inputs.register.hosting:
        by_provider.setdefault(hosting.provider, []).append(hosting)
    ids = by_slug(by_provider)
    files = slugs(ids)
    plans: list[ProviderPlan] = []
    for pid in ids:
        services = sorted(by_provider[pid], key=lambda h: (h.id, h.customer))
        decisions = tuple(decide_hosting(h, inputs.answers.get(h.customer), inputs.today) for h in services)
        plans.append(ProviderPlan(inputs.register.registrar(pid), f"hosting/{files[pid]}.txt", decisions))
    return plans


# --- the registrar's files -----------------------------------------------------------------------------------


def _registrar_files(inputs: BuildInput, reg: RegistrarPlan) -> list[OutputFile]:
    context = _context(inputs, reg=reg, registrar=reg.registrar, accounts=_accounts(reg),
                       documents=documents(reg.registrar, inputs.profile.event),
                       code_deadline=inputs.today + timedelta(days=inputs.rules.auth_code_days),
                       code_days=inputs.rules.auth_code_days, Action=Action)
    files: list[OutputFile] = []
    if reg.registrar.reseller_move and reg.of(Action.MOVE):
        files.append(_render(f"{reg.folder}/move-ticket.txt", "move-ticket.txt.j2", context))
    if reg.of(Action.TRANSFER):
        files.append(_render(f"{reg.folder}/auth-code-request.txt", "auth-code-request.txt.j2", context))
    files.append(_render(f"{reg.folder}/succession-letter.txt", "succession-letter.txt.j2", context))
    files.append(_render(f"{reg.folder}/succession-letter.html", "succession-letter.html.j2", context))
    return files


def documents(registrar: Registrar, event: Event) -> tuple[str, ...]:
    """What the registrar requires for a succession: its own list, else the usual papers for ``event``."""
    return registrar.documents or DEFAULT_DOCUMENTS[event]


def _accounts(reg: RegistrarPlan) -> list[str]:
    """The accounts at the registrar that hold the domains (the reseller account first)."""
    held = sorted({one_line(d.domain.registrar_account) for d in reg.decisions if d.domain.registrar_account})
    main = reg.registrar.reseller_account
    return ([main] if main else []) + [a for a in held if a != main]


def _epp_files(inputs: BuildInput, reg: RegistrarPlan, decision: Decision, code: str | None) -> EppResult:
    """Info and unlock for a transfer wish; the transfer request only with a usable code from the vault."""
    name = decision.domain.name
    prefix = CLTRID_DRILL_PREFIX if inputs.drill else CLTRID_PREFIX
    base = f"{reg.folder}/epp/{name.ascii}"
    transfer: bytes | None = None
    missing: str | None = "no auth code in the vault"
    withheld = transfer_withheld(decision.domain, inputs.today, inputs.rules)
    if withheld is not None:
        missing = f"no transfer request yet: {withheld}" + ("; no auth code in the vault" if code is None else "")
    elif code is not None:
        try:
            transfer = epp.transfer_request(name, code, epp.cltrid(prefix, name, "transfer"))
            missing = None
        except HandoverError as exc:  # the message never holds the code (handover.epp)
            code, missing = None, f"the auth code in the vault is not usable: {exc}"
    info = epp.info(name, epp.cltrid(prefix, name, "info"), code)
    files = [OutputFile(f"{base}-info.xml", _xml(info, inputs.drill), code is not None)]
    if CLIENT_LOCK in decision.domain.statuses or not decision.domain.statuses:
        unlock = epp.remove_transfer_lock(name, epp.cltrid(prefix, name, "unlock"))
        files.append(OutputFile(f"{base}-unlock.xml", _xml(unlock, inputs.drill), False))
    if transfer is not None:
        files.append(OutputFile(f"{base}-transfer.xml", _xml(transfer, inputs.drill), True))
    return EppResult(tuple(files), missing)


def _xml(document: bytes, drill: bool) -> bytes:
    """The document, with a DRILL comment after the XML declaration in a drill (still valid EPP)."""
    if not drill:
        return document
    declaration, newline, rest = document.partition(b"\n")
    if not declaration.startswith(b"<?xml"):
        declaration, newline, rest = b"", b"", document
    marked = declaration + newline + f"<!-- {DRILL_BANNER} -->\n".encode() + rest
    epp.validate(marked)
    return marked


# --- hosting and the index -----------------------------------------------------------------------------------


def _hosting_file(inputs: BuildInput, provider: ProviderPlan) -> OutputFile:
    return _render(provider.file, "hosting-move.txt.j2",
                   _context(inputs, provider=provider, HostingAction=HostingAction))


def _readme(inputs: BuildInput, registrars: list[RegistrarPlan], providers: list[ProviderPlan],
            files: list[OutputFile], missing_codes: list[tuple[Decision, RegistrarPlan, str]]) -> OutputFile:
    customers = inputs.register.customers
    silent = sorted(_customer_ids(inputs.register) - {c for c, a in inputs.answers.items() if answered(a)})
    unanswered = [(cid, customers[cid].name if cid in customers else cid) for cid in silent]
    pooled = [(p, d) for p in providers for d in p.of(HostingAction.EXTRACT)]
    context = _context(inputs, registrars=registrars, providers=providers, files=files, Action=Action,
                       HostingAction=HostingAction, missing_codes=missing_codes, unanswered=unanswered,
                       pooled=pooled, unknown_wishes=_unknown_wishes(inputs), epp_count=_epp_count(files))
    return _render("README.md", "README.md.j2", context)


def _customer_ids(register: Register) -> set[str]:
    return set(register.customers) | {d.customer for d in register.domains} | {h.customer for h in register.hosting}


def _unknown_wishes(inputs: BuildInput) -> list[tuple[str, str]]:
    """Auth codes asked for names that are not the customer's domains in the register: (customer id, name)."""
    found: list[tuple[str, str]] = []
    for cid in sorted(inputs.answers):
        own = {d.name.ascii for d in inputs.register.domains_of(cid)}
        found += [(cid, name) for name in sorted(wished(inputs.answers[cid]) - own)]
    return found


def _epp_count(files: Iterable[OutputFile]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for file in files:
        folder, _, rest = file.path.partition("/")
        if rest.startswith("epp/"):
            counts[folder] = counts.get(folder, 0) + 1
    return counts


# --- rendering -----------------------------------------------------------------------------------------------


def _context(inputs: BuildInput, **extra: Any) -> dict[str, Any]:
    profile = inputs.profile
    return {"drill": inputs.drill, "drill_banner": DRILL_BANNER, "today": inputs.today, "profile": profile,
            "requester": inputs.requester, "situation": situation(profile), **extra}


def situation(profile: HandoverProfile) -> str:
    """One sentence on what happened, for the letters."""
    if profile.event is Event.PASSED_AWAY:
        return f"{profile.owner_name}, the owner of {profile.business}, has passed away."
    if profile.event is Event.INCAPACITATED:
        return f"{profile.owner_name}, the owner of {profile.business}, is incapacitated and can no longer run it."
    return f"{profile.business}, run by {profile.owner_name}, is closing down."


def _render(path: str, template: str, context: Mapping[str, Any]) -> OutputFile:
    text = _environment().get_template(f"{TEMPLATES}/{template}").render(**context)
    return OutputFile(path, text.encode("utf-8"), False)


@cache
def _environment() -> Environment:
    """Handover's own Jinja environment: strict, HTML autoescaped, every value printed on one line."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATE_DIR)), undefined=StrictUndefined,
                      autoescape=_autoescape, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      finalize=_finalize)
    env.filters["md"] = markdown_text
    return env


def _finalize(value: object) -> object:
    """Strings from the register or the answers cannot add lines (or forge a request) to a ticket."""
    return one_line(value) if isinstance(value, str) else value


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".html.j2"))



def _check_answers(answers: Mapping[str, Answer]) -> None:
    for key, answer in answers.items():
        if answer.customer != key:
            raise HandoverError(f"answers: expected each answer under its customer's id, got the answer of "
                                f"{answer.customer!r} under {key!r}")


def _normalised_codes(codes: Mapping[str, str]) -> dict[str, str]:
    """The vault's codes by ASCII name (names normalised; the codes untouched)."""
    return {normalised_name(name): code for name, code in sorted(codes.items())}
