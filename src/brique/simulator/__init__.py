"""Trace-driven simulator: replay job traces through the scheduler core in virtual time.

`simulate_trace(trace, fleet, policies, contracts)` runs the discrete-event engine
(`engine.py`) once per policy (`policies.py`); `metrics.summarise` and `report.render`
turn the runs into JSON and HTML. Pure and deterministic: no clock (an optional timer is
injected for timing fields only), no I/O except `traces.load_trace`. See docs/simulation.md.
"""
