"""Readiness of the vault and fire drills: what would go wrong if the switch fired today.

A drill runs the real release into a sandbox: packages marked DRILL, built at once and
handed to the owner only; each holder's key gets a new sealed challenge the owner can
have answered. The report lists every problem found, each with what to do about it.
"""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import func, select

from baton.jobs.outbox import Channel, enqueue
from baton.services import verifiers
from baton.services.messages import render_email
from baton.services.notices import issue_notices
from baton.services.releases import PackageBuilder, create_release
from baton.services.vault import VaultService
from baton.store import auditlog
from baton.store.engine import reading
from baton.store.tables import owners, releases, switches
from switch import iso, policy_from_dict, unaskable_verifiers


def readiness(vault: VaultService, owner_id: int) -> list[dict[str, str]]:
    """Findings, each ``{"what", "fix"}``; empty when a release today would work."""
    found: list[dict[str, str]] = []
    people = {p["name"]: p for p in vault.list_people(owner_id)}
    comps = vault.list_compartments(owner_id)
    if not comps:
        found.append({"what": "the vault has no compartment", "fix": "run `baton vault add` on your machine"})
    for comp in comps:
        for problem in comp["problems"]:
            found.append({"what": f"compartment {comp['name']}: {problem}",
                          "fix": f"run `baton vault split {comp['name']}` on your machine"
                          if "split" in problem or "key" in problem or "removed" in problem
                          else f"add entries with `baton vault add {comp['name']} …`"})
        if comp["split"]:
            policy = comp["split"]["policy"]
            groups = policy["groups"]
            complete = sum(1 for g in groups
                           if sum(people.get(h, {}).get("key") == "verified" for h in g["holders"]) >= g["threshold"])
            if complete < policy["group_threshold"]:
                found.append({"what": f"compartment {comp['name']}: too few holders with a verified key to reach "
                                      f"the quorum ({comp['split']['describe']})",
                              "fix": "have the holders pass a key check (`baton drill`, or "
                                     "`baton people check NAME`)"})
    for person in people.values():
        if person["role"] == "verifier":
            continue  # a verifier matters as the policy asks them: below
        status = person["key"]
        if status == "none":
            found.append({"what": f"{person['name']} has no key", "fix": "send the enrolment link again, or "
                          f"make a key card: `baton people keycard {person['name']}`"})
        elif status in ("unverified", "stale"):
            found.append({"what": f"{person['name']}'s key is {status} (last proven: "
                                  f"{person['verified_at'] or 'never'})",
                          "fix": f"ask for a key check: `baton people check {person['name']}`"})
        if not person["email"] and person["holds"]:
            found.append({"what": f"{person['name']} holds shares but has no e-mail: the release cannot reach them",
                          "fix": "add their e-mail address"})
    with reading(vault.engine) as conn:
        row = conn.execute(select(switches.c.policy).where(switches.c.owner_id == owner_id)).first()
    if row is not None:
        policy = policy_from_dict(row.policy)
        for name in unaskable_verifiers(verifiers.addressed_policy(vault.engine, owner_id, policy)):
            found.append({"what": f"verifier {name} in the policy has no e-mail address: nobody can ask them, so "
                                  "they can never answer",
                          "fix": f"give them one on the People page, or `baton people edit {name} --email …`"})
        stages = [s for s in policy.stages if s.action == "release"]
        if not stages:
            found.append({"what": "no stage of the switch has the action release: nothing would be released",
                          "fix": "add a stage such as {name: release, after: 0d, audience: [], action: release}"})
        else:
            reached: set[str] = set()
            for stage in stages:
                audience = set(stage.audience) - {"owner"}
                reached |= audience if audience else set(people)
            for comp in comps:
                holders = set(comp["split"]["holders"]) if comp["split"] else set()
                if holders and not holders & reached:
                    found.append({"what": f"compartment {comp['name']}: no release stage names any of its holders",
                                  "fix": "add its holders to a release stage's audience (or leave the audience "
                                         "empty: every holder)"})
    return found


def start_drill(vault: VaultService, builder: PackageBuilder, owner_id: int, ask_holders: bool = False
                ) -> dict[str, Any]:
    """Release into the sandbox, build every package now, issue key checks, and write the customer notices.

    The packages go to the owner only, and so do the notices: one sample per language by
    e-mail (their personal links work, to try the answer page), all of them printable. The
    key checks are returned sealed (the owner can answer those whose keys they hold, e.g.
    key cards); with ``ask_holders`` each holder is also sent their key check by e-mail,
    the one thing a drill tells anyone but the owner.
    """
    now = vault.clock.now()
    with vault.engine.begin() as conn:
        # Drills are numbered apart from the switch's cycles: the n-th drill has cycle -n.
        earlier = conn.execute(select(func.count()).select_from(releases).where(
            releases.c.owner_id == owner_id, releases.c.drill.is_(True))).scalar_one()
        release_id, made = create_release(conn, vault.settings, owner_id, drill=True, stage="drill",
                                          cycle=-(earlier + 1), reason="fire drill started by the owner",
                                          audience=(), now=now)
        owner_email = conn.execute(select(owners.c.email).where(owners.c.id == owner_id)).scalar_one()
        noticed = issue_notices(conn, vault.settings, owner_id, owner_email, release_id, drill=True,
                                cycle=-(earlier + 1), now=now)
        auditlog.append(conn, vault.signer, owner_id, now, "vault.drill", {"release": release_id,
                                                                         "packages": len(made),
                                                                         "notices": noticed.notices})
    for result in builder.build_all([item["package"] for item in made], now):
        if isinstance(result, Exception):
            raise result
    checks = vault.request_checks(owner_id, None, "drill", notify=ask_holders)
    findings = readiness(vault, owner_id)
    report = {"release": release_id, "at": iso(now), "fingerprint": vault.fingerprint,
              "packages": [{"id": m["package"], "holder": m["holder"], "compartment": m["compartment"]}
                           for m in made],
              "checks": checks, "holders_asked": ask_holders, "findings": findings,
              "notices": noticed.to_dict()}
    with vault.engine.begin() as conn:
        owner_email = conn.execute(select(owners.c.email).where(owners.c.id == owner_id)).scalar_one()
        rendered = render_email("drill_report", owner_email=owner_email, report=report)
        enqueue(conn, owner_id=owner_id, key=f"drill/{release_id}", channel=Channel.EMAIL, recipient=owner_email,
                purpose="drill", subject=rendered.subject, body_text=rendered.text, body_html=rendered.html,
                now=now)
    return report


def sealed_bytes(check: dict[str, Any]) -> bytes:
    return base64.b64decode(check["sealed"])
