"""Pure rules of issue 16: reservation conflicts and rack choice, which reservation a job runs in,
VAT treatment of issued invoices (reverse charge), EN 16931 data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from brique.domain.einvoice import Party, cii_data, credit_note, issue, vat_treatment
from brique.domain.invoices import UsageTotal, build_invoice
from brique.domain.jobs import Job, Tier
from brique.domain.policy import country_only
from brique.domain.pricing import parse_pricebook
from brique.domain.reservations import Reservation, ReservationState, conflict, free_racks, reservation_for
from brique.domain.vat import vat_rate
from tests.unit.scheduler.scheduler_factories import make_fleet, make_site

T = datetime(2026, 12, 1, tzinfo=UTC)
FLEET = make_fleet(make_site("fr-1", racks=4), make_site("de-1", "DE", racks=1))
SITE = FLEET.sites[0]  # 4 racks x 72 GPUs


def res(rid: str, gpus: int = 0, racks: tuple[str, ...] = (), start: int = 0, days: int = 14,
        state: ReservationState = ReservationState.APPROVED, org: str = "org_a") -> Reservation:  # fmt: skip
    return Reservation(rid, org, "fr-1", T + timedelta(days=start), T + timedelta(days=start + days), gpus, racks,
                       state)  # fmt: skip


@pytest.mark.parametrize(
    ("others", "new", "problem"),
    [([res("r1", 200)], res("r2", 88), None),
     ([res("r1", 200)], res("r2", 89), "200 are already reserved"),
     ([res("r1", 200, days=1)], res("r2", 100, start=1), None),  # back to back: [start, end)
     ([res("r1", 200, state=ReservationState.REQUESTED)], res("r2", 288), None),  # requests hold nothing
     ([res("r1", racks=("fr-1/r001",))], res("r2", racks=("fr-1/r001",), start=5), "rack fr-1/r001"),
     ([res("r1", 144, start=0, days=3), res("r3", 144, start=5, days=3)], res("r2", 144, start=2, days=4), None),
     ([res("r1", 144, start=0, days=3), res("r3", 145, start=2, days=3)], res("r2", 144, start=2, days=4),
      "already reserved")],
    ids=["fits", "one-too-many", "back-to-back", "requests-hold-nothing", "same-rack", "peaks-apart", "peak-overlap"],
)  # fmt: skip
def test_conflicts_are_refused_with_the_reason(others: list[Reservation], new: Reservation, problem: str | None) -> None:
    why = conflict(new, SITE, others)
    assert (why is None) if problem is None else (why is not None and problem in why), why


def test_rack_counts_take_free_racks_and_jobs_find_their_orgs_active_reservation() -> None:
    taken = [res("r1", racks=("fr-1/r001", "fr-1/r003"))]
    assert free_racks(SITE, 2, T, T + timedelta(days=1), taken) == ("fr-1/r002", "fr-1/r004")
    live = [res("r1", 144, start=-1, days=2), res("r2", 8, org="org_b", start=-1, days=2)]
    sites = {s.id: s for s in FLEET.sites}
    job = Job("j", "org_a", 72)
    assert reservation_for(job, None, live, sites, T) == "r1"
    assert reservation_for(Job("j", "org_a", 200), None, live, sites, T) is None  # larger than the reservation
    assert reservation_for(Job("j", "org_a", 8, placement=country_only("DE")), None, live, sites, T) is None
    assert reservation_for(Job("j", "org_a", 8, tier=Tier.PREEMPTIBLE), None, live, sites, T) is None
    assert reservation_for(job, "de-1", live, sites, T) is None  # running elsewhere
    assert reservation_for(job, None, live, sites, T + timedelta(days=2)) is None  # over


def test_vat_treatment_and_en16931_data() -> None:
    book = parse_pricebook({"rates": {"default": {"standard": "3.60"}}})
    op = Party("Op SAS", "FR", "FR40123456789")
    cases = {("DE", "DE123456789"): ("AE", Decimal(0)), ("DE", None): ("S", Decimal(19)),
             ("FR", "FR99999999999"): ("S", Decimal(20)), ("CH", "CHE123"): ("O", Decimal(0))}  # fmt: skip
    for (country, vat_id), expected in cases.items():
        inv = build_invoice("c", country, "2026-11", [UsageTotal("p", "standard", "fr-1", 3_600)], book,
                            vat_rate(country))  # fmt: skip
        assert vat_treatment(op, Party("C", country, vat_id), inv)[:2] == expected, (country, vat_id)
    inv = build_invoice("c", "DE", "2026-11", [UsageTotal("p", "standard", "fr-1", 10_505)], book, vat_rate("DE"))
    doc = issue("F2026-000007", op, Party("C GmbH", "DE", "DE123456789"), inv, date(2026, 12, 3))
    assert (doc.due_date, doc.total, doc.vat_amount) == (date(2027, 1, 2), Decimal("10.51"), Decimal("0.00"))
    data = cii_data(doc)
    assert (data["BT-1"], data["BT-3"], data["BT-112"], data["BG-23"][0]["BT-118"]) == ("F2026-000007", "380", 10.51, "AE")
    cn = credit_note("F2026-000008", doc, date(2026, 12, 4), "duplicate")
    assert cii_data(cn)["BT-3"] == "381" and cii_data(cn)["BG-3"] == [{"BT-25": "F2026-000007", "BT-26": date(2026, 12, 3)}]
    empty = issue("F2026-000009", op, Party("C", "FR"), build_invoice("c", "FR", "2026-11", [], book, vat_rate("FR")),
                  date(2026, 12, 3))  # fmt: skip
    assert len(empty.lines) == 1 and empty.total == 0  # EN 16931 wants one line
