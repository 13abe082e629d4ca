"""Pure metering, pricing, invoice, VAT, budget and energy math (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from brique.domain.budgets import BudgetTerms, crossed, exceeded
from brique.domain.contracts import CommercialTerms, Contract, commercial_terms
from brique.domain.energy import GridIntensity, PowerModel, footprint, parse_intensity_csv, rack_power_kw
from brique.domain.invoices import UsageTotal, build_invoice, cents
from brique.domain.metering import EventFact, RowTimes, UsageRecord, attempt_intervals, month_windows
from brique.domain.pricing import PriceBookInvalid, parse_pricebook
from brique.domain.vat import vat_rate

T = datetime(2026, 11, 30, 23, 59, 0, 250_000, tzinfo=UTC)
BOOK = {"rates": {"default": {"priority": "4.80", "standard": "3.60"}, "sites": {"de": {"standard": "3.20"}}},
        "preemptible_discount": "0.60"}  # fmt: skip
ACME = Contract("org_acme", 144, monthly_commitment=Decimal("100.00"), rates=(("priority", Decimal("3.00")),),
                overage_rate=Decimal("3.30"))  # fmt: skip
NOV = (date(2026, 11, 1), date(2026, 11, 30))


def acme_terms(*contracts: Contract) -> CommercialTerms | None:
    return commercial_terms(3, contracts or (ACME,), *NOV)


def ev(s: float, attempt: int, src: str | None, dst: str, code: str, msg: str = "") -> EventFact:
    return EventFact(T + timedelta(seconds=s), attempt, src, dst, code, msg)


def test_intervals_from_events_preempt_retry_and_stop_requests() -> None:
    events = [
        ev(0, 1, None, "pending", "submitted"),
        ev(1, 1, "pending", "scheduled", "fair_share", "placed on fr-1: fr-1/r001 (8 GPUs); x"),
        ev(2, 1, "scheduled", "running", "started"),
        ev(30, 1, "running", "running", "preempting"),  # grace period: still holding GPUs
        ev(62, 1, "running", "preempted", "preempted"),
        ev(62, 2, "preempted", "pending", "requeued"),
        ev(70, 2, "pending", "scheduled", "placed", "placed on de-1: de-1/r001 (8 GPUs)"),
        ev(71, 2, "scheduled", "running", "started"),
        ev(100, 3, "running", "pending", "retry"),  # the retry event carries the next attempt
        ev(110, 3, "pending", "scheduled", "placed", "placed on de-1: x"),
        ev(111, 3, "scheduled", "running", "started"),
    ]
    got = [(i.attempt, i.site_id, i.end_code, (i.ended_at - i.started_at).total_seconds() if i.ended_at else None)
           for i in attempt_intervals(events)]  # fmt: skip
    assert got == [(1, "fr-1", "preempted", 60.0), (2, "de-1", "retry", 29.0), (3, "de-1", None, None)]


def test_an_attempt_that_ended_while_scheduled_is_billed_from_the_executor_times() -> None:
    events = [ev(1, 1, "pending", "scheduled", "p", "placed on fr-1: y"), ev(90, 1, "scheduled", "succeeded", "succeeded")]
    row = RowTimes(1, "succeeded", T + timedelta(seconds=1), T + timedelta(seconds=61), None)
    [i] = attempt_intervals(events, row)
    assert (i.ended_at - i.started_at).total_seconds() == 60 and i.site_id == "fr-1"
    assert attempt_intervals(events, None) == []  # no times kept: never seen holding GPUs


def test_usage_splits_exactly_at_month_boundaries_in_whole_seconds() -> None:
    [i] = attempt_intervals([ev(0, 1, "scheduled", "running", "started"), ev(125, 1, "running", "succeeded", "ok")])
    r = UsageRecord("j", "n", 1, "o", "p", "standard", "fr-1", 4, i.started_at, i.ended_at)
    nov, dec = month_windows(datetime(2026, 11, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    assert dec[0] == datetime(2026, 12, 1, tzinfo=UTC)
    parts = [r.gpu_seconds(lo, hi, T) for lo, hi in (nov, dec)]
    assert parts == [4 * 60, 4 * 65] and sum(parts) == 4 * 125


@pytest.mark.parametrize(
    ("tier", "site", "rate"),
    [("standard", "fr-1", "3.60"), ("standard", "de", "3.20"), ("preemptible", "fr-1", "1.44"),
     ("preemptible", "de", "1.28"), ("priority", "de", "4.80")],
    ids=["default", "site-rate", "preemptible-discount", "discount-of-site-rate", "priority-default"],
)  # fmt: skip
def test_price_lookup(tier: str, site: str, rate: str) -> None:
    assert parse_pricebook(BOOK).rate(tier, site) == Decimal(rate)


def test_pricebook_errors_name_their_path() -> None:
    bad = {"currency": "USD", "rates": {"default": {"standard": 3.6, "gold": "1"}, "sites": {"x": {"priority": "-1"}}},
           "contracts": {"acme": {"monthly_commitment": "abc"}}}  # fmt: skip
    with pytest.raises(PriceBookInvalid) as err:
        parse_pricebook(bad)
    text = str(err.value)
    for path in ("currency:", "rates.default.standard: write prices as strings", "rates.default.gold: unknown tier",
                 "rates.sites.x.priority: must be >= 0", "contracts: commitments and agreed rates are contract terms"):
        assert path in text  # fmt: skip


def test_invoice_commitment_overage_vat_and_half_up_rounding() -> None:
    book = parse_pricebook(BOOK)
    usage = [UsageTotal("a", "priority", "fr-1", 150_000), UsageTotal("a", "standard", "fr-1", 10_505),
             UsageTotal("b", "preemptible", "de", 3_600)]  # fmt: skip
    inv = build_invoice("acme", "FR", "2026-11", usage, book, vat_rate("FR"), acme_terms())
    assert [(x.kind, x.amount) for x in inv.lines] == [
        ("commitment", Decimal("100.00")), ("included", Decimal("0.00")),
        ("usage", Decimal("10.51")),  # 10.505 -> 10.51
        ("usage", Decimal("1.28")),
        ("overage", Decimal("27.50")),  # 150,000 - 100/3*3600 = 30,000 GPU-s x 3.30 / 3600
    ]  # fmt: skip
    assert (inv.subtotal, inv.vat_amount, inv.total) == (Decimal("139.29"), Decimal("27.86"), Decimal("167.15"))
    assert inv.spend() == Decimal("39.29") and inv.spend("a") == Decimal("10.51")
    under = build_invoice("acme", "FR", "2026-11", [UsageTotal("a", "priority", "fr-1", 3_600)], book, vat_rate("FR"),
                          acme_terms())  # fmt: skip
    assert [x.kind for x in under.lines] == ["commitment", "included"] and under.total == Decimal("120.00")
    assert inv.contract_version == 3 and "prices per contract version 3" in inv.notes


def test_commitment_and_agreed_rates_come_from_the_contract_only() -> None:
    book = parse_pricebook(BOOK)
    usage = [UsageTotal("a", "priority", "fr-1", 3_600), UsageTotal("a", "standard", "de", 3_600)]
    capacity_only = Contract("org_x", 144)  # a 144-GPU guarantee, no commercial terms signed
    assert acme_terms(capacity_only) is None
    plain = build_invoice("x", "FR", "2026-11", usage, book, vat_rate("FR"), acme_terms(capacity_only))
    assert [(x.kind, x.unit_price) for x in plain.lines] == [("usage", Decimal("4.80")), ("usage", Decimal("3.20"))]
    assert plain.contract_version is None
    agreed = Contract("org_x", 8, rates=(("priority", Decimal("4.00")), ("standard", Decimal("3.00"))))
    de_only = Contract("org_x", 0, site="de", rates=(("standard", Decimal("2.50")),))
    inv = build_invoice("x", "FR", "2026-11", usage, book, vat_rate("FR"), acme_terms(agreed, de_only))
    assert [(x.kind, x.unit_price) for x in inv.lines] == [("usage", Decimal("4.00")), ("usage", Decimal("2.50"))]
    ended = Contract("org_x", 8, monthly_commitment=Decimal("10"), rates=(("priority", Decimal("1")),),
                     ends_on=date(2026, 10, 31))  # fmt: skip
    assert acme_terms(ended) is None  # out of its term in November: no commitment billed


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [({"monthly_commitment": Decimal("5")}, "needs the priority rate"),
     ({"rates": (("gold", Decimal("1")),)}, "unknown tier 'gold'"),
     ({"currency": "USD"}, "only EUR"),
     ({"starts_on": date(2026, 12, 2), "ends_on": date(2026, 12, 1)}, "ends_on must not be before starts_on"),
     ({"budget_exempt_tiers": frozenset({"gold"})}, "budget_exempt_tiers")],
    ids=["commitment-without-rate", "unknown-tier", "currency", "term-dates", "exempt-tier"],
)  # fmt: skip
def test_contract_commercial_terms_are_validated(kwargs: dict, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Contract("org_x", **kwargs)


@pytest.mark.parametrize(("country", "percent"), [("FR", "20"), ("DE", "19"), ("FI", "25.5"), ("EL", "24"), ("CH", "0")])
def test_vat_rates(country: str, percent: str) -> None:
    assert vat_rate(country).percent == Decimal(percent)
    assert vat_rate("FR", {"FR": Decimal("0")}).percent == 0


def test_cents_round_half_up() -> None:
    assert [cents(Decimal(x)) for x in ("0.005", "0.015", "2.675", "-0.005")] == [
        Decimal("0.01"), Decimal("0.02"), Decimal("2.68"), Decimal("-0.01")]  # fmt: skip


def test_budget_thresholds_cross_once() -> None:
    terms = BudgetTerms(Decimal("100"), (50, 80, 100), hard_stop=True)
    assert crossed(Decimal("49.99"), terms, []) == []
    assert crossed(Decimal("85"), terms, []) == [50, 80]
    assert crossed(Decimal("85"), terms, [50, 80]) == []
    assert not exceeded(Decimal("99.99"), terms) and exceeded(Decimal("100"), terms)
    with pytest.raises(ValueError):
        BudgetTerms(Decimal("0"))


def test_energy_of_a_full_nvl72_rack_hour_and_hourly_intensity() -> None:
    assert rack_power_kw(1_200, 72, 18) == 126.0
    model = PowerModel(1_200, 4)
    start = datetime(2026, 11, 3, 9, 30, tzinfo=UTC)
    grid = GridIntensity(50.0, {datetime(2026, 11, 3, 10, tzinfo=UTC): 150.0})
    fp = footprint(72, start, start + timedelta(hours=1), model, 1.2, grid)
    assert fp.it_kwh == pytest.approx(126.0) and fp.facility_kwh == pytest.approx(151.2)
    assert fp.co2e_kg == pytest.approx(75.6 * 0.050 + 75.6 * 0.150)  # half an hour at each intensity


def test_intensity_csv_parsing_names_bad_lines() -> None:
    got = parse_intensity_csv("site,hour,gco2e_per_kwh\nfr,2026-11-03T09:15:00Z,80\n")
    assert got == {"fr": {datetime(2026, 11, 3, 9, tzinfo=UTC): 80.0}}
    with pytest.raises(ValueError, match=r"f\.csv: line 3"):
        parse_intensity_csv("site,hour,gco2e_per_kwh\nfr,2026-11-03T09:00:00Z,1\nfr,nope,2\n", "f.csv")


def test_pricebook_unknown_keys_are_refused_with_the_closest_known_one() -> None:
    bad = {"rates": {"default": {"standard": "3.6"}, "site": {}}, "vat_rate": {}}
    with pytest.raises(PriceBookInvalid) as err:
        parse_pricebook(bad)
    text = str(err.value)
    for problem in ("vat_rate: unknown field 'vat_rate' — did you mean 'vat_rates'?",
                    "rates.site: unknown field 'site' — did you mean 'sites'?"):
        assert problem in text  # fmt: skip
