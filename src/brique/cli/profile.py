"""Where the CLI finds the server and key: env vars first, then the profile `brique login` wrote."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8080"


def profile_path() -> Path:
    override = os.environ.get("BRIQUE_CONFIG")
    return Path(override) if override else Path.home() / ".config" / "brique" / "profile.json"


@dataclass(frozen=True)
class Profile:
    url: str
    api_key: str | None


def load_profile() -> Profile:
    saved: dict = {}
    path = profile_path()
    if path.exists():
        try:
            saved = json.loads(path.read_text())
        except (OSError, ValueError):
            saved = {}
    url = os.environ.get("BRIQUE_URL") or saved.get("url") or DEFAULT_URL
    key = os.environ.get("BRIQUE_API_KEY") or saved.get("api_key")
    return Profile(url=url, api_key=key)


def save_profile(profile: Profile) -> Path:
    path = profile_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # keep what else the profile holds (pinned platform keys)
        rest = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        rest = {}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({**rest, "url": profile.url, "api_key": profile.api_key}, fh)
    os.chmod(path, 0o600)
    return path
