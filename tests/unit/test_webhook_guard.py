"""Budget webhooks: tenants must not make the control plane call loopback or private addresses (SSRF)."""

from __future__ import annotations

import pytest

from brique.services.budgets import post_webhook, public_address_problem


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:8080/x", "host '127.0.0.1' is a non-public address (127.0.0.1)"),
        ("http://10.1.2.3/x", "host '10.1.2.3' is a non-public address (10.1.2.3)"),
        ("http://[::1]/x", "host '::1' is a non-public address (::1)"),
        ("http://169.254.169.254/latest", "host '169.254.169.254' is a non-public address (169.254.169.254)"),
        ("http:///nohost", "has no host"),
    ],
)
def test_non_public_targets_are_named(url: str, problem: str) -> None:
    assert public_address_problem(url) == problem


def test_delivery_to_a_private_address_is_refused_without_sending() -> None:
    assert post_webhook("http://127.0.0.1:9/alert", {"x": 1}) == (
        "refused: host '127.0.0.1' is a non-public address (127.0.0.1)"
    )
