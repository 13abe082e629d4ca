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
    replica_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,40}$",
                                   description="this replica's name in /v1/system/status; default random rep_…")
    cycle_interval_s: float = Field(default=1.0, gt=0, description="scheduling cycle period")
    submissions_per_minute: int = Field(default=600, ge=1, description="per-tenant submit rate limit")
    submission_burst: int = Field(default=100, ge=1)
    max_pending_jobs: int = Field(default=10_000, ge=1, description="per-tenant pending job quota")
    submit_gather_ms: float = Field(default=1.0, ge=0, le=50, description=(
        "group commit: while submissions arrive concurrently, how long the writer waits for the others to "
        "join its transaction (0: never; a lone submission never waits). Fewer, larger commits: with 4 "
        "clients, about 4 submissions per transaction instead of 2, and 20-30 % less CPU per submission"))
    sqlite_synchronous: Literal["full", "normal"] = Field(default="full", description=(
        "SQLite durability: full (every accepted write is on disk before the answer) or normal (WAL: "
        "survives a crash of the server process, not of the machine; faster)"))
    auth_cache_s: float = Field(default=5.0, ge=0, le=60, description=(
        "how long a verified API key is trusted without a database read; a revocation or org suspension "
        "takes effect at once on the replica that made it, within this bound on the others (0: never cached)"))
    agent_timeout_s: float = Field(default=30.0, gt=0, description="silent agent -> node down, jobs lost")
    signing_key_file: Path | None = Field(default=None, description="platform Ed25519 key; default in home")
    kek: str | None = Field(default=None, description="key-encryption key, base64 of 32 bytes (or kek_file)")
    kek_file: Path | None = Field(default=None, description="file holding the KEK; default in home")
    key_backend: Literal["file", "pkcs11"] = Field(
        default="file", description="where the signing key and KEK live: files in home, or an HSM (PKCS#11)"
    )
    pkcs11_library: Path | None = Field(default=None, description="PKCS#11 module (.so) of the HSM")
    pkcs11_token: str = Field(default="brique", description="label of the PKCS#11 token")
    pkcs11_pin: str | None = Field(default=None, description="user PIN of the token (or pkcs11_pin_file)")
    pkcs11_pin_file: Path | None = Field(default=None, description="file holding the token's user PIN")
    pkcs11_signing_label: str = Field(default="brique-signing", description="label of the Ed25519 key pair")
    pkcs11_kek_label: str = Field(default="brique-kek", description="label of the AES-256 key-encryption key")
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
    inference_interval_s: float = Field(default=1.0, gt=0, description="inference loop: health checks, autoscale")
    inference_python: str | None = Field(default=None, description="interpreter for built-in replica runtimes")
    inference_replica_host: str = Field(default="127.0.0.1", description="host the gateway reaches local replicas on")
    inference_max_request_bytes: int = Field(default=1_048_576, ge=1_024, description="gateway body limit (413)")
    inference_org_requests_per_min: int | None = Field(default=None, ge=1, description="per-org gateway limit")
    inference_org_tokens_per_min: int | None = Field(default=None, ge=1, description="per-org gateway limit")
    inference_cold_start_s: float = Field(default=120.0, gt=0, description="how long a request waits for a replica")

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
    def platform_keys_path(self) -> Path:
        return self.home / "platform-keys.json"

    @property
    def audit_head_path(self) -> Path:
        return self.home / "audit-last-head.json"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"
