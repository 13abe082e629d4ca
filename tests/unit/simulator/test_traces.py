"""Trace loaders: the real files' first rows, the seeded mapping, and errors naming file/line/column."""

from __future__ import annotations

from pathlib import Path

import pytest

from brique.domain.jobs import Tier
from brique.simulator.mapping import TierDealer
from brique.simulator.traces import TraceError, load_trace, parse_brique, parse_helios, parse_philly
from tests.unit.simulator.sim_factories import DATA

PHILLY = DATA / "traces/philly-pollux/philly.csv"
HELIOS = DATA / "traces/helios-last15k/helios_data_training.csv"
TINY = DATA / "traces/examples/tiny.csv"
HEADER = "job_id,submit_s,duration_s,gpus,tenant,tier,est_duration_s\n"


@pytest.fixture(scope="module")
def philly():
    return load_trace(PHILLY, "philly", seed=0)


def test_philly_loads_every_job_with_submit_times_from_the_first(philly) -> None:
    assert len(philly.jobs) == 82_247
    assert philly.jobs[0].submit_s == 0.0  # 2017-09-04 10:30:41 is the earliest timestamp
    first_row = next(j for j in philly.jobs if j.id == "philly-0")  # 2017-10-09 07:01:55,66.0,1,66.0,11cb48
    assert (first_row.duration_s, first_row.gpus, first_row.tenant) == (66.0, 1, "11cb48")
    assert first_row.submit_s == (35 * 86_400) - (10 * 3600 + 30 * 60 + 41) + (7 * 3600 + 1 * 60 + 55)
    assert len({j.tenant for j in philly.jobs}) == 15
    assert max(j.gpus for j in philly.jobs) == 128
    assert all(a.submit_s <= b.submit_s for a, b in zip(philly.jobs, philly.jobs[1:], strict=False))


def test_philly_tiers_follow_the_documented_mix(philly) -> None:
    share = sum(1 for j in philly.jobs if j.tier == Tier.PRIORITY) / len(philly.jobs)
    assert 0.19 < share < 0.21


def test_helios_skips_cpu_jobs_and_sums_intervals() -> None:
    tr = load_trace(HELIOS, "helios", seed=0)
    assert (len(tr.jobs), tr.skipped) == (10_796, 4_204)
    first = tr.jobs[0]  # 0,1,1,1,1,0,84,0,Pass
    assert (first.id, first.submit_s, first.duration_s, first.gpus) == (
        "helios_data_training-0",
        0.0,
        84.0,
        1,
    )
    assert tr.jobs[1].submit_s == 94.0
    assert {j.tenant for j in tr.jobs} == {f"team-{i:02d}" for i in range(1, 9)}


def test_the_same_seed_gives_the_same_mapping_and_another_seed_another() -> None:
    text = HELIOS.read_text()
    a, b, c = parse_helios(text, seed=1), parse_helios(text, seed=1), parse_helios(text, seed=2)
    assert a == b
    assert [j.tier for j in a.jobs] != [j.tier for j in c.jobs]
    assert [TierDealer(5).deal() for _ in range(50)] == [TierDealer(5).deal() for _ in range(50)]


def test_brique_format_defaults_for_empty_cells() -> None:
    tr = load_trace(TINY)
    f = next(j for j in tr.jobs if j.id == "f")
    assert (f.tenant, f.tier, f.est_duration_s) == ("default", Tier.STANDARD, None)
    b = next(j for j in tr.jobs if j.id == "b")
    assert (b.tenant, b.tier, b.est_duration_s, b.gpus) == ("team-b", Tier.PRIORITY, 60.0, 36)


def test_brique_format_needs_only_the_four_required_columns() -> None:
    tr = parse_brique("submit_s,job_id,gpus,duration_s\n5,x,2,10\n")
    assert tr.jobs[0].submit_s == 0.0 and tr.jobs[0].gpus == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(HEADER + "a,0,10,1,t,standard,\nb,1,10,x,t,standard,\n", "bad.csv:3: column 'gpus': not an integer: 'x'", id="gpus-not-int"),
        pytest.param(HEADER + "a,0,10,0,t,standard,\n", "bad.csv:2: column 'gpus': must be >= 1", id="zero-gpus"),
        pytest.param(HEADER + "a,0,-5,1,t,standard,\n", "bad.csv:2: column 'duration_s': must be a finite number >= 0", id="negative-duration"),
        pytest.param(HEADER + "a,0,10,1,t,gold,\n", "bad.csv:2: column 'tier': must be priority, standard or preemptible, got 'gold'", id="bad-tier"),
        pytest.param(HEADER + "a,0,10,1,t,standard,0\n", "bad.csv:2: column 'est_duration_s': must be > 0", id="zero-estimate"),
        pytest.param(HEADER + "a,0,10,1,t,standard,\na,1,10,1,t,standard,\n", "bad.csv:3: column 'job_id': duplicate job id 'a'", id="duplicate-id"),
        pytest.param(HEADER + "a,0,10\n", "bad.csv:2: expected 7 fields, found 3", id="short-row"),
        pytest.param("job_id,submit_s,gpus\n", "bad.csv:1: missing column(s) duration_s", id="missing-column"),
        pytest.param(HEADER.strip() + ",user\n", "bad.csv:1: unknown column(s) user", id="unknown-column"),
        pytest.param("", "bad.csv:1: empty file", id="empty-file"),
        pytest.param(HEADER, "bad.csv: no jobs in the trace", id="no-jobs"),
    ],
)  # fmt: skip
def test_bad_brique_input_names_file_line_and_column(text: str, message: str) -> None:
    with pytest.raises(TraceError) as exc:
        parse_brique(text, "bad.csv")
    assert message in str(exc.value)


def test_bad_philly_timestamp() -> None:
    text = "timestamp,duration,num_gpus,gpu_time,cluster\n2017-10-09 07:01:55,66.0,1,66.0,vc\nyesterday,1,1,1,vc\n"
    with pytest.raises(TraceError, match=r"philly.csv:3: column 'timestamp': not 'YYYY-MM-DD HH:MM:SS'"):
        parse_philly(text)


def test_wrong_format_for_the_file_says_which_columns_are_missing() -> None:
    with pytest.raises(TraceError, match=r"tiny.csv:1: missing column\(s\) timestamp, duration, num_gpus"):
        load_trace(TINY, "philly")


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read"):
        load_trace(tmp_path / "nope.csv")
    with pytest.raises(TraceError, match="unknown trace format 'alibaba'"):
        load_trace(TINY, "alibaba")
