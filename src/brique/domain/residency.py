"""Residency policies per organization, narrowed per project and per job.

A project can only restrict its org's policy, and a job only its project's: the effective
policy is the intersection (`narrow`). The scheduler then enforces it as a pure predicate
(`PlacementPolicy.allows`), and a submission no site can ever satisfy is refused at once.
"""

from __future__ import annotations

from brique.domain.fleet import Fleet, Site
from brique.domain.policy import PlacementPolicy


def narrow(outer: PlacementPolicy, inner: PlacementPolicy) -> PlacementPolicy:
    """Both policies at once: countries and sites intersect, certifications and flags add up."""
    return PlacementPolicy(
        countries=_meet(outer.countries, inner.countries),
        certifications=outer.certifications | inner.certifications,
        sites=_meet(outer.sites, inner.sites),
        eu_only=outer.eu_only or inner.eu_only,
        operator_in_eu=outer.operator_in_eu or inner.operator_in_eu,
        name=_label(outer, inner),
    )


def _meet(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a & b


def _label(outer: PlacementPolicy, inner: PlacementPolicy) -> str:
    """Both labels, e.g. `FR + SecNumCloud + DE only`; an unconstrained side adds nothing."""
    names = [p.label for p in (outer, inner) if p.name or p != PlacementPolicy()]
    return " + ".join(dict.fromkeys(n for n in names if n))


def is_narrower(policy: PlacementPolicy, than: PlacementPolicy) -> bool:
    """True when every rule of `than` is at least as strict in `policy`."""
    return (
        (than.countries is None or (policy.countries is not None and policy.countries <= than.countries))
        and (than.sites is None or (policy.sites is not None and policy.sites <= than.sites))
        and than.certifications <= policy.certifications
        and (not than.eu_only or policy.eu_only)
        and (not than.operator_in_eu or policy.operator_in_eu)
    )


def closest_site(policy: PlacementPolicy, fleet: Fleet) -> tuple[Site, list[str]]:
    """The site breaking the fewest rules of `policy`, and the rules it breaks."""
    site = min(fleet.sites, key=lambda s: (len(policy.violations(s)), s.id))
    return site, policy.violations(site)
