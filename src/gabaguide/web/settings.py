"""Settings from the environment, with safe defaults (loopback, a SQLite file, no debug)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from gabaguide.domain import SEVERITY_ORDER
from gabaguide.errors import InputError

ENV_PREFIX = "GABAGUIDE_"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/gabaguide.sqlite3"
    """Any SQLAlchemy URL; the default is a file under ./var (created on first start)."""
    load_demo: bool = True
    """Load the bundled example patients into an empty database."""
    reaction_limit: int = 10
    """Reactions one client address may post per ``reaction_window_s`` (then 429)."""
    reaction_window_s: float = 60.0
    simulate_max_subjects: int = 2000
    """Upper bound of ``n`` in a simulation request (server resources, not clinical)."""
    simulate_max_days: int = 28
    secure_cookies: bool = False
    """Mark cookies Secure (set it when the app is served over HTTPS)."""
    session_hours: int = 12
    """How long a log-in lasts."""
    login_limit: int = 5
    """Failed log-ins (and reset requests) per ``login_window_s``, per address and per account."""
    login_window_s: float = 900.0
    show_reset_codes: bool = True
    """Print password-reset codes on the server console (the demo configuration: there is no mail
    server). Turn off in production; reset then needs an administrator."""
    reset_code_minutes: int = 15
    cds_auth: bool = True
    """Verify the JWT of every CDS Hooks call. Turn off (``off``) only for a local demo."""
    cds_issuers: str = ""
    """Path of the trusted-issuers JSON file: {"<iss>": {"jwks": {...}}} or {"<iss>": {"jku": url}}."""
    cds_min_severity: str = ""
    """Findings below this severity are not cards (info, caution, warning, contraindicated); empty:
    the knowledge base's policy (cds.toml)."""
    cds_fetch_timeout_s: float = 3.0
    """Time budget for fetching missing prefetch data from the EHR's FHIR server."""
    cds_plan_hours: int = 24
    """How long a card's link to the full plan works."""
    public_url: str = ""
    """The app's public base URL (behind a proxy): the JWT audience and the links in cards."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """``GABAGUIDE_DATABASE_URL``, ``GABAGUIDE_LOAD_DEMO``, ``GABAGUIDE_REACTION_LIMIT``, ...:
        each field's name in upper case; InputError names a value that does not parse."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        problems: list[str] = []
        for name, default in cls().__dict__.items():
            key = ENV_PREFIX + name.upper()
            if key not in env:
                continue
            raw = env[key].strip()
            try:
                values[name] = _parse(raw, default)
            except ValueError:
                problems.append(f"{key} must be {_kind(default)}; got {raw!r}")
        if problems:
            raise InputError(problems)
        settings = cls(**values)  # type: ignore[arg-type]
        problems = settings.problems()
        if problems:
            raise InputError(problems)
        return settings

    def problems(self) -> list[str]:
        out = []
        for name in (
            "reaction_limit",
            "simulate_max_subjects",
            "simulate_max_days",
            "session_hours",
            "login_limit",
            "reset_code_minutes",
            "cds_plan_hours",
        ):
            if getattr(self, name) < 1:
                out.append(f"{ENV_PREFIX}{name.upper()} must be at least 1")
        if self.cds_min_severity and self.cds_min_severity not in SEVERITY_ORDER:
            out.append(
                f"{ENV_PREFIX}CDS_MIN_SEVERITY must be one of {', '.join(SEVERITY_ORDER)}; "
                f"got {self.cds_min_severity!r}"
            )
        for name in ("reaction_window_s", "login_window_s", "cds_fetch_timeout_s"):
            if getattr(self, name) <= 0:
                out.append(f"{ENV_PREFIX}{name.upper()} must be more than 0")
        return out


def _parse(raw: str, default: object) -> object:
    if isinstance(default, bool):
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError(raw)
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if not raw:
        raise ValueError(raw)
    return raw


def _kind(default: object) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "a whole number"
    if isinstance(default, float):
        return "a number"
    return "a non-empty text"
