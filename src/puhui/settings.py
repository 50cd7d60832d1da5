"""Platform settings, read from the environment (prefix ``PUHUI_``) and an optional ``.env``.

Outside ``development`` and ``test`` the built-in development secrets are refused: a bank that
forgets to set its own keys gets an error at start-up, not a platform running on public keys.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "puhui-development-secret-key-not-for-production"  # noqa: S105
# Well-known development data keys (16 bytes for SM4, base64). Never use outside development.
DEV_FIELD_KEYS = "dev1:cHVodWktZGV2LWtleS0xIQ==;active=dev1"
DEV_INDEX_KEY = "cHVodWktZGV2LWluZGV4LWtleS0wMDAwMDAwMDAwMDA="

ROOT = Path.cwd()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PUHUI_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production", "staging"] = "development"
    database_url: str = Field(default_factory=lambda: f"sqlite:///{ROOT / 'var' / 'puhui.db'}")
    secret_key: str = DEV_SECRET_KEY
    # Data keys for level-3+ fields: "id:base64key,id2:base64key;active=id2" (see docs/privacy.md)
    field_keys: str = DEV_FIELD_KEYS
    field_algorithm: Literal["SM4-GCM", "AES-256-GCM"] = "SM4-GCM"
    index_key: str = DEV_INDEX_KEY
    audit_hash: Literal["sm3", "sha256"] = "sm3"

    max_body_bytes: int = 1_048_576
    session_minutes: int = 30
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    cookie_secure: bool = False
    otp_minutes: int = 5
    otp_max_attempts: int = 5

    products_file: str = ""  # JSON product catalogue; empty: the one shipped with Puhui
    # credit decisions: artifacts (empty: the ones shipped with Puhui) and data providers
    rule_set_file: str = ""
    scorecard_file: str = ""
    risk_policy_file: str = ""
    challenger_rule_set_file: str = ""  # a challenger arm (same scorecard and policy)
    challenger_share: Decimal = Decimal(0)  # of live traffic, 0-1
    lpr_1y: Decimal | None = None  # the one-year LPR in force; None: the policy's
    data_providers: Literal["sandbox", "http"] = "sandbox"
    data_provider_file: str = ""  # JSON: per-source base URL, key id, secret (http only)
    # signatures of contracts, seals and evidence tree heads: 国密 by default
    signature_suite: Literal["sm2-sm3", "ed25519", "ecdsa-p256-sha256"] = "sm2-sm3"
    fraud_rule_set_file: str = ""  # JDM anti-fraud rules; empty: config/rules/fraud-baseline.json
    fraud_policy_file: str = ""  # disposal per fraud level; empty: config/fraud-policy.json
    lender_file: str = ""  # JSON lender profile for contracts; empty: config/lender.json
    auto_seal: bool = True  # apply the branch's e-seal as soon as the borrower has signed
    sms_provider: Literal["sandbox"] = "sandbox"
    sms_log_path: str = Field(default_factory=lambda: str(ROOT / "var" / "sms-sandbox.log"))
    log_level: str = "INFO"
    log_json: bool = True
    default_language: Literal["zh-CN", "en"] = "zh-CN"

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment in ("production", "staging"):
            weak = [
                name
                for name, value, default in (
                    ("PUHUI_SECRET_KEY", self.secret_key, DEV_SECRET_KEY),
                    ("PUHUI_FIELD_KEYS", self.field_keys, DEV_FIELD_KEYS),
                    ("PUHUI_INDEX_KEY", self.index_key, DEV_INDEX_KEY),
                )
                if value == default
            ]
            if weak:
                raise ValueError(
                    f"refusing to start in {self.environment}: development secrets in use for "
                    f"{', '.join(weak)}; generate real ones with `puhui keys generate`"
                )
            if len(self.secret_key) < 32:
                raise ValueError("PUHUI_SECRET_KEY must have at least 32 characters")
        return self

    @property
    def is_development(self) -> bool:
        return self.environment in ("development", "test")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
