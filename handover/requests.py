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

The action for each domain, in this order:

1. the customer's answer lists the domain's ASCII name in ``auth_codes_for``: **transfer**
   (auth-code and unlock request; EPP documents where the registrar is operated over EPP);
2. the customer's answer gives their own account at the domain's registrar and the
   registrar does reseller-to-client moves: **move** (in the move ticket);
3. the customer has not answered (no answer, or one with neither ``answered_at``, accounts
   nor auth-code wishes): **awaiting** the customer (listed apart in the ticket and letter);
4. otherwise: **keep** renewing until the customer decides (in the letter).

Domains registered in the reseller's name need a registrant change to the customer; the
ticket and the letter say so. Each domain carries its eligibility notes (``rules``): for a
transfer every blocker and the 60-day lock; for the other actions only what is not about
inter-registrar transfers (a 60-day lock or ``serverTransferProhibited`` does not block a
move between accounts at the same registrar, nor renewals).

EPP: the transfer request needs the auth code; a transfer wish with no code in the vault
(or an unusable one) gets no transfer document and is listed as missing in ``README.md``,
never guessed. The info document carries the code when it is known (so a non-sponsor can
read the domain); the unlock document is written when the domain has
``clientTransferProhibited`` or its statuses are unknown. Files that carry a code are
``secret``; the code never appears in any other file.

Letters and tickets are written in English, the working language of registrars' and
providers' support desks, whatever the language of the business's customers (customer
notices are elsewhere, in the customer's language).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from functools import cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from handover import epp
from handover.errors import HandoverError
from handover.model import (
    Answer,
    Domain,
    Event,
    HandoverProfile,
    Hosting,
    Packaging,
    Register,
    Registrant,
    Registrar,
    Successor,
)
from handover.names import DomainName, domain_name
from handover.rules import TransferRules, eligibility
from templates import TEMPLATE_DIR

TEMPLATES = "requests"
DRILL_BANNER = "DRILL: this is an exercise. Do not send."
CLTRID_PREFIX = "baton"
CLTRID_DRILL_PREFIX = "baton-drill"
CLIENT_LOCK = "clientTransferProhibited"
RESERVED_FOLDERS = frozenset({"hosting"})
MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>()#+!|~]")

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


class Action(StrEnum):
    """What is asked of the registrar for one domain."""

    MOVE = "move"  # reseller-to-client move into the customer's own account at the same registrar
    TRANSFER = "transfer"  # unlock and auth code: the customer transfers it to another registrar
    AWAITING = "awaiting"  # the customer has not answered: keep it renewing
    KEEP = "keep"  # answered, but no move possible or wished: keep renewing until the customer decides


class HostingAction(StrEnum):
    """What is asked of the upstream provider for one hosting service."""

    MOVE = "move"  # an individual package, to the customer's own account
    AWAITING = "awaiting"  # an individual package whose customer has given no account there yet
    EXTRACT = "extract"  # pooled: the site must be extracted before it can move


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
class Decision:
    """One domain's action, with what the registrar (and the successors) must know about it."""

    domain: Domain
    action: Action
    customer_account: str | None  # the customer's own account at this registrar, from their answer
    notes: tuple[str, ...]

    @property
    def label(self) -> str:
        return _label(self.domain.name)

    @property
    def wanted(self) -> str:
        """The action in the letter's words."""
        return _wanted(self)


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
class HostingDecision:
    hosting: Hosting
    action: HostingAction
    customer_account: str | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ProviderPlan:
    provider: Registrar  # the provider's record (registrars double as providers), or a bare one from its id
    file: str
    decisions: tuple[HostingDecision, ...]

    def of(self, action: HostingAction) -> tuple[HostingDecision, ...]:
        return tuple(d for d in self.decisions if d.action is action)


# --- the build -----------------------------------------------------------------------------------------------


def build(inputs: BuildInput) -> list[OutputFile]:
    """Every request file, README.md first, then by path: the same inputs give the same files, byte for byte."""
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
    files += [_hosting_file(inputs, provider) for provider in providers]
    files.sort(key=lambda f: f.path)
    readme = _readme(inputs, registrars, providers, files, missing_codes)
    return [readme, *files]


def plan_registrars(inputs: BuildInput) -> list[RegistrarPlan]:
    """Each registrar with domains, in order of its folder, with every domain's decision."""
    register = inputs.register
    by_registrar: dict[str, list[Domain]] = {}
    for domain in register.domains:
        by_registrar.setdefault(domain.registrar, []).append(domain)
    ids = _by_slug(by_registrar)
    folders = _slugs(ids, reserved=RESERVED_FOLDERS)
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
    ids = _by_slug(by_provider)
    slugs = _slugs(ids)
    plans: list[ProviderPlan] = []
    for pid in ids:
        services = sorted(by_provider[pid], key=lambda h: (h.id, h.customer))
        decisions = tuple(decide_hosting(h, inputs.answers.get(h.customer), inputs.today) for h in services)
        plans.append(ProviderPlan(inputs.register.registrar(pid), f"hosting/{slugs[pid]}.txt", decisions))
    return plans


# --- decisions -----------------------------------------------------------------------------------------------


def decide(domain: Domain, registrar: Registrar, answer: Answer | None, today: date,
           rules: TransferRules) -> Decision:
    """The action for ``domain`` (see the module's rule) and its notes."""
    account = _account(answer, registrar.id)
    if answer is not None and domain.name.ascii in _wished(answer):
        action = Action.TRANSFER
    elif account and registrar.reseller_move:
        action = Action.MOVE
    elif not answered(answer):
        action = Action.AWAITING
    else:
        action = Action.KEEP
    return Decision(domain, action, account, _notes(domain, action, today, rules))


def decide_hosting(hosting: Hosting, answer: Answer | None, today: date) -> HostingDecision:
    """Pooled services need extracting; an individual package moves once its customer gives an account there."""
    account = _one_line(answer.hosting_accounts.get(hosting.id) or "") or None if answer else None
    if hosting.packaging is Packaging.POOLED:
        action = HostingAction.EXTRACT
    elif account:
        action = HostingAction.MOVE
    else:
        action = HostingAction.AWAITING
    notes: tuple[str, ...] = ()
    if hosting.paid_until < today:
        notes = (f"paid until {hosting.paid_until}, already past: renew it first so the site stays up",)
    return HostingDecision(hosting, action, account, notes)


def answered(answer: Answer | None) -> bool:
    """Whether the customer has answered (reading the notice is not answering)."""
    if answer is None:
        return False
    return (answer.answered_at is not None or bool(answer.accounts) or bool(answer.hosting_accounts)
            or bool(answer.auth_codes_for))


def _account(answer: Answer | None, where: str) -> str | None:
    if answer is None:
        return None
    value = _one_line(answer.accounts.get(where) or "")
    return value or None


def _wished(answer: Answer) -> set[str]:
    """The ASCII names the customer wants auth codes for (normalised; a bad name is kept as typed)."""
    return {_ascii(name) for name in answer.auth_codes_for}


def _ascii(name: str) -> str:
    try:
        return domain_name(name).ascii
    except HandoverError:
        return name.strip().lower()


def _notes(domain: Domain, action: Action, today: date, rules: TransferRules) -> tuple[str, ...]:
    """Eligibility notes: every blocker for a transfer; for the others, only what is not about transfers."""
    notes: list[str] = []
    if action is Action.TRANSFER:
        found = eligibility(domain, today, rules)
        if found.lock_reason:
            notes.append(f"locked until {found.earliest_transfer} ({found.lock_reason})")
    else:
        found = eligibility(_without_transfer_locks(domain), today, rules)
    if found.renew_by:
        notes.append(f"renew before {found.renew_by}")
    notes += found.blockers
    if domain.registrant is Registrant.RESELLER:
        notes.append(_registrant_note(action))
    return tuple(notes)


def _without_transfer_locks(domain: Domain) -> Domain:
    """``domain`` as a move or a renewal sees it: no 60-day locks, no registry transfer lock."""
    statuses = tuple(s for s in domain.statuses if s != "serverTransferProhibited")
    return replace(domain, created=None, last_transfer=None, last_owner_change=None, statuses=statuses)


def _registrant_note(action: Action) -> str:
    if action is Action.TRANSFER:
        return ("registered in the reseller's name: change the registrant to the customer "
                "(with the opt-out of the 60-day transfer lock, where offered)")
    if action is Action.MOVE:
        return "registered in the reseller's name: please also change the registrant to the customer"
    return "registered in the reseller's name: the registrant must be changed to the customer"


def _wanted(decision: Decision) -> str:
    account = decision.customer_account
    if decision.action is Action.MOVE:
        return f"move to the customer's own account {account} (reseller-to-client move, expiry kept)"
    if decision.action is Action.TRANSFER:
        return "remove the transfer lock and give the auth code: the customer transfers it to another registrar"
    if decision.action is Action.AWAITING:
        return "keep renewing: awaiting the customer's answer"
    if account:
        return (f"keep renewing until the customer decides (the customer has their own account {account} "
                f"here: if you can move domains between accounts, please move it there)")
    return "keep renewing until the customer decides"


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
    held = sorted({_one_line(d.domain.registrar_account) for d in reg.decisions if d.domain.registrar_account})
    main = reg.registrar.reseller_account
    return ([main] if main else []) + [a for a in held if a != main]


def _epp_files(inputs: BuildInput, reg: RegistrarPlan, decision: Decision, code: str | None) -> EppResult:
    """Info and unlock for a transfer wish; the transfer request only with a usable code from the vault."""
    name = decision.domain.name
    prefix = CLTRID_DRILL_PREFIX if inputs.drill else CLTRID_PREFIX
    base = f"{reg.folder}/epp/{name.ascii}"
    transfer: bytes | None = None
    missing: str | None = "no auth code in the vault"
    if code is not None:
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
        found += [(cid, name) for name in sorted(_wished(inputs.answers[cid]) - own)]
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


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith((".html", ".html.j2"))


def _finalize(value: object) -> object:
    """Strings from the register or the answers cannot add lines (or forge a request) to a ticket."""
    return _one_line(value) if isinstance(value, str) else value


def _one_line(text: str) -> str:
    """``text`` with control characters (line breaks included) turned into single spaces."""
    return " ".join("".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text).split())


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text: one line, with Markdown's punctuation (and table pipes) escaped."""
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", _one_line(str(value)))


def _label(name: DomainName) -> str:
    return name.ascii if name.ascii == name.unicode else f"{name.unicode} ({name.ascii})"


def slug(text: str) -> str:
    """A safe file name: lowercase ASCII letters, digits and single hyphens (``x`` when nothing is left)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:63].strip("-") or "x"


def _by_slug(ids: Iterable[str]) -> list[str]:
    """``ids`` in the order of their slugs (ties by the id itself), as their folders and files list."""
    return sorted(ids, key=lambda ident: (slug(ident), ident))


def _slugs(ids: list[str], reserved: frozenset[str] = frozenset()) -> dict[str, str]:
    """A distinct slug per id (in the order given): clashes get ``-2``, ``-3``…"""
    taken = set(reserved)
    found: dict[str, str] = {}
    for ident in ids:
        base = slug(ident)
        candidate, n = base, 1
        while candidate in taken:
            n += 1
            candidate = f"{base}-{n}"
        taken.add(candidate)
        found[ident] = candidate
    return found


def _check_answers(answers: Mapping[str, Answer]) -> None:
    for key, answer in answers.items():
        if answer.customer != key:
            raise HandoverError(f"answers: expected each answer under its customer's id, got the answer of "
                                f"{answer.customer!r} under {key!r}")


def _normalised_codes(codes: Mapping[str, str]) -> dict[str, str]:
    """The vault's codes by ASCII name (names normalised; the codes untouched)."""
    return {_ascii(name): code for name, code in sorted(codes.items())}
