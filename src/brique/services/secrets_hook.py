"""How the scheduling loop gets a tenant's secret values at launch time.

A resolver maps (org id, secret names) to environment variables. The default knows no
secrets; the secrets service (envelope encryption) plugs its own resolver in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

SecretResolver = Callable[[str, Sequence[str]], dict[str, str]]


def no_secrets(org_id: str, names: Sequence[str]) -> dict[str, str]:
    return {}
