"""One `Settings` object, built at the entry point and passed down (never read at import time)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_FLEET = PACKAGE_DIR / "fleets" / "gb200-eu.yaml"
DEFAULT_PRICEBOOK = PACKAGE_DIR / "pricebooks" / "example.yaml"
TRACES_DIR = PACKAGE_DIR / "data" / "traces"


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "brique"


class OidcProvider(BaseModel):
    """An organization's own OpenID Connect identity provider for console sign-in (docs/console.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$", description="in the callback URL")
    label: str = Field(default="", description="the sign-in button's text")
    issuer: str = Field(pattern=r"^https?://", description="discovery at <issuer>/.well-known/openid-configuration")
    client_id: str
    client_secret: str
    org: str = Field(description="organization (name or id) whose users sign in here")
    default_role: Literal["tenant-admin", "tenant-member", "tenant-viewer"] = Field(
        default="tenant-member", description="role of a user seen for the first time"
    )


class Settings(BaseSettings):
    """Server settings. Every field can be set as `BRIQUE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="BRIQUE_", extra="ignore")

    home: Path = Field(default_factory=default_home, description="data dir: SQLite file, admin.key")
    db_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in home")
    fleet_file: Path = Field(default=DEFAULT_FLEET, description="fleet description YAML")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    log_level: str = "info"
    cycle_interval_s: float = Field(default=1.0, gt=0, description="scheduling cycle period")
    submissions_per_minute: int = Field(default=600, ge=1, description="per-tenant submit rate limit")
    submission_burst: int = Field(default=100, ge=1)
    max_pending_jobs: int = Field(default=10_000, ge=1, description="per-tenant pending job quota")
    auth_cache_s: float = Field(default=0.0, ge=0, le=60, description="trust a key checked valid this long "
                                "(0: every request reads it; else changes from elsewhere count within it)")  # fmt: skip
    agent_timeout_s: float = Field(default=30.0, gt=0, description="silent agent -> node down, jobs lost")
    signing_key_file: Path | None = Field(default=None, description="platform Ed25519 key; default in home")
    kek: str | None = Field(default=None, description="key-encryption key, base64 of 32 bytes (or kek_file)")
    kek_file: Path | None = Field(default=None, description="file holding the KEK; default in home")
    audit_retention_days: int = Field(default=190, ge=183, description="audit records kept (>= 6 months)")
    webhook_allow_private: bool = Field(default=False, description="let budget webhooks reach private addresses")
    audit_checkpoint_s: float = Field(default=60.0, gt=0, description="how often the chain head is signed")
    pricebook_file: Path = Field(default=DEFAULT_PRICEBOOK, description="price book YAML (docs/billing.md)")
    grid_intensity_file: Path | None = Field(
        default=None,
        description="CSV site,hour,gco2e_per_kwh: hourly grid intensity (else the fleet's constant)",
    )
    budget_interval_s: float = Field(default=60.0, gt=0, description="how often budgets are evaluated")
    max_request_bytes: int = Field(
        default=1_048_576, ge=1_024, description="largest request body accepted (else 413)"
    )
    max_header_bytes: int = Field(
        default=32_768, ge=4_096, description="largest request line + headers accepted (else 431)"
    )
    console_session_minutes: int = Field(default=60, ge=1, le=1440, description="console sign-in lifetime")
    oidc_providers: list[OidcProvider] = Field(default_factory=list, description="console single sign-on")

    @field_validator("home", "fleet_file", "pricebook_file", "grid_intensity_file", mode="after")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'brique.db'}"

    @property
    def admin_key_file(self) -> Path:
        return self.home / "admin.key"

    @property
    def signing_key_path(self) -> Path:
        return self.signing_key_file or self.home / "platform-signing.key"

    @property
    def kek_path(self) -> Path:
        return self.kek_file or self.home / "kek"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"
