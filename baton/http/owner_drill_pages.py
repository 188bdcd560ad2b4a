"""The owner's readiness report and fire drills: what would go wrong if the switch fired now, a drill's
report (a warning while it lists things to fix), the earlier drills numbered 1, 2, 3 for this owner,
and for each holder without a key a button that sends their enrolment link again."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import func, select

from baton.errors import BatonError, http_status
from baton.http import eventwords
from baton.http.csrf import FIELD
from baton.http.ownerkit import OwnerKit, Session
from baton.services import drills, releases
from baton.services.handover import HandoverService
from baton.services.releases import PackageBuilder
from baton.services.vault import VaultService
from baton.store.engine import reading
from baton.store.tables import packages
from baton.store.tables import releases as release_rows
from switch import SwitchError, policy_from_dict

DRILLS_SHOWN = 50


def install(app: FastAPI, kit: OwnerKit, vault: VaultService, builder: PackageBuilder,
            handover: HandoverService) -> None:
    service = kit.service
    Owner = Annotated[Session, Depends(kit.signed_in)]

    def unenrolled(owner_id: int) -> list[dict[str, Any]]:
        """The holders who have no key yet and can be sent their enrolment link again."""
        return [p for p in vault.list_people(owner_id) if p["role"] != "verifier" and p["key"] == "none"
                and p["email"]]

    def findings(who: Session, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        zone = who.owner.timezone
        return [{**f, "what": eventwords.in_zone(f["what"], zone), "fix": eventwords.in_zone(f["fix"], zone)}
                for f in found]

    def notices_reach(owner_id: int, fired: datetime) -> datetime | None:
        """When customer notices would go out if the switch fired at ``fired`` (None: no stage sends them)."""
        stages = [s for s in policy_from_dict(service.get_policy(owner_id)).stages if s.action == "notify_customers"]
        return fired + min(s.after for s in stages) if stages else None

    @app.get("/readiness", response_class=HTMLResponse, include_in_schema=False)
    def readiness(who: Owner) -> HTMLResponse:
        fired = service.clock.now()  # the simulated release: now, and every date below follows from it
        report = handover.readiness(who.owner.id)
        reach = notices_reach(who.owner.id, fired)
        return kit.view(who, "readiness", "/readiness", findings=findings(who, report["findings"]),
                        fired_local=kit.local_time(fired, who), reach_local=kit.local_time(reach, who),
                        reach_at_once=reach == fired, unenrolled=unenrolled(who.owner.id))

    def drill_page(who: Session, status_code: int = 200, report: dict[str, Any] | None = None,
                   error: str = "") -> HTMLResponse:
        with reading(service.engine) as conn:
            rows = conn.execute(
                select(release_rows.c.id, release_rows.c.cycle, release_rows.c.created_at,
                       func.count(packages.c.id).label("packages"))
                .outerjoin(packages, packages.c.release_id == release_rows.c.id)
                .where(release_rows.c.owner_id == who.owner.id, release_rows.c.drill.is_(True))
                .group_by(release_rows.c.id, release_rows.c.cycle, release_rows.c.created_at)
                .order_by(release_rows.c.id.desc()).limit(DRILLS_SHOWN)).all()
            listed = {r.id: conn.execute(select(packages.c.id).where(packages.c.release_id == r.id)
                                         .order_by(packages.c.id)).scalars().all() for r in rows}
        # The n-th drill of an owner has cycle -n (drills.start_drill): its number for this owner.
        past = [{"id": r.id, "number": -r.cycle, "at_local": kit.local_time(r.created_at, who),
                 "packages": listed[r.id]} for r in rows]
        if report is not None:
            number = next((d["number"] for d in past if d["id"] == report["release"]), None)
            report = {**report, "number": number, "findings": findings(who, report["findings"])}
        return kit.view(who, "drill", "/drill", status_code, past=past, report=report, error=error,
                        unenrolled=unenrolled(who.owner.id) if report is not None else [])

    @app.get("/drill", response_class=HTMLResponse, include_in_schema=False)
    def drill(who: Owner) -> HTMLResponse:
        return drill_page(who)

    @app.post("/drill", response_class=HTMLResponse, include_in_schema=False)
    def start_drill(request: Request, who: Owner, csrf_token: Annotated[str, Form(alias=FIELD)] = "",
                    ask_holders: Annotated[str, Form()] = "") -> HTMLResponse:
        kit.checked(request, who, csrf_token)
        try:
            report = drills.start_drill(vault, builder, who.owner.id, ask_holders == "yes")
        except (BatonError, SwitchError) as exc:
            return drill_page(who, http_status(exc), error=str(exc))
        return drill_page(who, report=report)

    @app.get("/drill/{release}/packages/{package}", include_in_schema=False, response_model=None)
    def drill_package(who: Owner, release: int, package: int) -> Response:
        try:
            path = releases.drill_package(builder, who.owner.id, release, package, service.clock.now())
        except BatonError as exc:
            return kit.page("link_invalid", status_code=exc.status, why="missing", message=str(exc))
        return FileResponse(path, media_type="application/zip", filename=path.name)
