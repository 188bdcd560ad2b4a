"""The handover's owner-side work: importing the register, readiness, the renewal calendar, RDAP
refreshes and the handover profile, over the service's database and clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from baton.errors import BadRequest
from baton.services import drills
from baton.services.accounts import get_owner
from baton.services.switch import SwitchService
from baton.services.vault import VaultService
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.register import (
    ImportReport,
    import_register,
    load_register,
    profile_from_dict,
    profile_to_dict,
    read_profile,
    read_register,
    save_profile,
)
from baton.store.tables import domains
from baton.timeutil import local_date
from handover import calendar, readiness, transition
from handover.errors import HandoverError
from handover.importing import sources
from handover.model import HandoverProfile
from handover.names import domain_name
from switch import policy_from_dict


@dataclass
class HandoverService:
    service: SwitchService
    vault: VaultService

    @property
    def engine(self) -> Any:
        return self.service.engine

    def now(self) -> datetime:
        return self.service.clock.now()

    # -- the register --------------------------------------------------------------------------
    def import_files(self, owner_id: int, paths: list[Path]) -> ImportReport:
        """All-or-nothing import of CSV files and WHMCS exports (``ImportRejected`` lists bad rows)."""
        now = self.now()
        report = import_register(self.engine, owner_id, sources(paths), now)
        with self.engine.begin() as conn:
            auditlog.append(conn, self.service.signer, owner_id, now, "register.imported",
                            {"import": report.import_id, "created": report.created, "updated": report.updated})
        return report

    def summary(self, owner_id: int) -> dict[str, Any]:
        register = read_register(self.engine, owner_id)
        return {"customers": len(register.customers), "domains": len(register.domains),
                "hosting": len(register.hosting), "registrars": len(register.registrars)}

    def list_domains(self, owner_id: int) -> list[dict[str, Any]]:
        register = read_register(self.engine, owner_id)
        return [{"domain": d.name.ascii, "unicode": d.name.unicode, "customer": d.customer,
                 "registrar": d.registrar, "registrar_name": register.registrar(d.registrar).name,
                 "expires": d.expires.isoformat(), "statuses": list(d.statuses)} for d in register.domains]

    def apply_observed(self, owner_id: int, observed: list[dict[str, Any]]) -> int:
        """Store what RDAP said (expiry, statuses) for domains of the register; the number changed."""
        now = self.now()
        changed = 0
        with self.engine.begin() as conn:
            for i, item in enumerate(observed):
                try:
                    name = domain_name(str(item.get("domain", "")))
                except HandoverError as exc:
                    raise BadRequest(f"domains[{i}]: {exc}") from None
                try:
                    expires = date.fromisoformat(str(item["expires"])) if item.get("expires") else None
                except ValueError:
                    raise BadRequest(f"domains[{i}].expires: expected a date like 2027-05-01, got "
                                     f"{str(item['expires'])[:40]!r}") from None
                statuses = item.get("statuses")
                if statuses is not None and not (isinstance(statuses, list)
                                                 and all(isinstance(s, str) for s in statuses)):
                    raise BadRequest(f"domains[{i}].statuses: expected a list of EPP statuses, got {statuses!r}")
                values: dict[str, Any] = {"checked_at": now}
                if expires is not None:
                    values["expires"] = expires
                if statuses is not None:
                    values["statuses"] = statuses
                done = conn.execute(update(domains).where(domains.c.owner_id == owner_id,
                                                          domains.c.ascii == name.ascii).values(**values))
                changed += done.rowcount
            auditlog.append(conn, self.service.signer, owner_id, now, "register.checked", {"domains": changed})
        return changed

    # -- the profile ----------------------------------------------------------------------------
    def set_profile(self, owner_id: int, data: Any) -> dict[str, Any]:
        """Store a profile written as JSON; the profile as stored (texts trimmed, defaults written out)."""
        try:
            profile = profile_from_dict(data)
            transition.check(profile, self.service.settings.minimum_terms())
        except (ValueError, HandoverError) as exc:
            raise BadRequest(str(exc)) from None
        save_profile(self.engine, owner_id, profile, self.now())
        return profile_to_dict(profile)

    def profile(self, owner_id: int) -> HandoverProfile | None:
        with reading(self.engine) as conn:
            return read_profile(conn, owner_id)

    # -- reports -------------------------------------------------------------------------------
    def timezone(self, owner_id: int) -> str:
        with reading(self.engine) as conn:
            return get_owner(conn, owner_id).timezone

    def reach(self, owner_id: int) -> date | None:
        """The day (the owner's date) customer notices would go out if the switch fired now (None: no stage
        sends them)."""
        policy = policy_from_dict(self.service.get_policy(owner_id))
        stages = [s for s in policy.stages if s.action == "notify_customers"]
        if not stages:
            return None
        return local_date(self.now() + min(s.after for s in stages), self.timezone(owner_id))

    def readiness(self, owner_id: int) -> dict[str, Any]:
        """Every finding, the register's and the vault's, each with what to do."""
        rules = self.service.settings.transfer_rules()
        reach = self.reach(owner_id)
        with reading(self.engine) as conn:
            register = load_register(conn, owner_id)
            profile = read_profile(conn, owner_id)
        today = local_date(self.now(), self.timezone(owner_id))
        found = [f.to_dict() for f in readiness.findings(register, profile, today, reach, rules)]
        if profile is not None:
            found += [{"kind": "profile-too-short", "subject": "profile", "what": f"the handover profile promises "
                       f"less than the minimum: {short}; notices use the minimum instead",
                       "fix": "set the profile again with `baton handover profile FILE`"}
                      for short in transition.shortfalls(profile, self.service.settings.minimum_terms())]
        if reach is None and register.customers:
            found.append({"kind": "no-notice-stage", "subject": "policy", "what": "no stage of the switch has the "
                          "action notify_customers: no customer would be told", "fix": "add a stage such as "
                          "{name: customers, after: 21d, action: notify_customers}"})
        found += [{"kind": "vault", "subject": "vault", **f} for f in drills.readiness(self.vault, owner_id)]
        from baton.services.witness.linking import Linking
        found += [{"kind": "witness", "subject": "witness", "what": problem,
                   "fix": "ask the witness's operator (disk, address, key), or link another with `baton witness add`"}
                  for problem in Linking(self.service).problems(owner_id, self.now())]
        return {"at": self.now().isoformat(), "notices_reach": reach and reach.isoformat(), "findings": found}

    def calendar(self, owner_id: int, kind: str) -> tuple[bytes, str]:
        """The renewal calendar as CSV or iCalendar: (content, media type)."""
        register = read_register(self.engine, owner_id)
        now = self.now()
        entries = calendar.entries(register, local_date(now, self.timezone(owner_id)),
                                   self.service.settings.transfer_rules(), self.reach(owner_id))
        if kind == "csv":
            return calendar.to_csv(entries).encode(), "text/csv; charset=utf-8"
        if kind == "ics":
            return calendar.to_ical(entries, now), "text/calendar; charset=utf-8"
        raise BadRequest(f"format: expected csv or ics, got {kind!r}")
