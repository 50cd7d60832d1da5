"""The composition root: builds the engine, keyring and service context from settings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from puhui.adapters.crypto.fieldcrypt import FieldCipher, Keyring
from puhui.adapters.db.engine import make_engine
from puhui.adapters.db.uow import SqlUnitOfWork
from puhui.adapters.products import load_catalogue
from puhui.adapters.providers.sms import SandboxSmsProvider
from puhui.adapters.risk_setup import build_risk_setup
from puhui.adapters.security.passwords import Argon2PasswordHasher, HmacSecretHasher
from puhui.domain.audit import HashAlgorithm
from puhui.domain.identity import LockoutPolicy
from puhui.services.evidence import EvidenceSetup
from puhui.services.fraud import FraudSetup
from puhui.services.ports import Policies, ServiceContext
from puhui.settings import Settings

DEFAULT_LENDER = Path(__file__).resolve().parent / "config" / "lender.json"


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    keyring: Keyring
    cipher: FieldCipher
    ctx: ServiceContext
    sms: SandboxSmsProvider


def build_platform(settings: Settings, *, engine: Engine | None = None) -> Platform:
    engine = engine or make_engine(settings.database_url)
    keyring = Keyring.from_spec(
        settings.field_keys, algorithm=settings.field_algorithm, index_key_b64=settings.index_key
    )
    cipher = FieldCipher(keyring)
    sms = SandboxSmsProvider(settings.sms_log_path)
    policies = Policies(
        lockout=LockoutPolicy(
            max_attempts=settings.lockout_attempts,
            lock_for=timedelta(minutes=settings.lockout_minutes),
        ),
        session_ttl=timedelta(minutes=settings.session_minutes),
        otp_ttl=timedelta(minutes=settings.otp_minutes),
        otp_max_attempts=settings.otp_max_attempts,
        audit_algorithm=HashAlgorithm(settings.audit_hash),
    )
    ctx = ServiceContext(
        uow=lambda: SqlUnitOfWork(engine, cipher),
        read_only_uow=lambda: SqlUnitOfWork(engine, cipher, read_only=True),
        passwords=Argon2PasswordHasher(fast_for_tests=settings.environment == "test"),
        sms=sms,
        secrets=HmacSecretHasher(settings.secret_key.encode()),
        policies=policies,
        products=load_catalogue(settings.products_file or None),
        risk=build_risk_setup(settings),
        evidence=build_evidence_setup(settings, engine, cipher),
        fraud=build_fraud_setup(settings),
    )
    return Platform(
        settings=settings, engine=engine, keyring=keyring, cipher=cipher, ctx=ctx, sms=sms
    )


def build_fraud_setup(settings: Settings) -> FraudSetup:
    """The fraud rule set and disposal policy (shipped or configured); the graph is loaded from
    the database on first use."""
    from puhui.domain.fraud.assessment import DisposalPolicy
    from puhui.domain.risk.rule_set import load_rule_set

    config = Path(__file__).resolve().parent / "config"
    rules = settings.fraud_rule_set_file or config / "rules" / "fraud-baseline.json"
    policy = Path(settings.fraud_policy_file or config / "fraud-policy.json")
    return FraudSetup(
        rule_set=load_rule_set(rules),
        policy=DisposalPolicy.from_mapping(json.loads(policy.read_text(encoding="utf-8"))),
    )


def build_evidence_setup(settings: Settings, engine: Engine, cipher: FieldCipher) -> EvidenceSetup:
    """Keys in the database (private halves encrypted by the keyring), the sandbox notary, and
    the configured signature suite."""
    from puhui.adapters.crypto.keystore import SoftwareKeystore
    from puhui.adapters.db.key_repository import DbKeyStorage
    from puhui.adapters.db.sandbox_tsa import StoredSandboxTsa
    from puhui.adapters.documents import DocumentRenderer
    from puhui.adapters.providers.notary import SandboxNotary
    from puhui.domain.evidence.signatures import SignatureSuite

    lender_file = Path(settings.lender_file) if settings.lender_file else DEFAULT_LENDER
    return EvidenceSetup(
        keys=SoftwareKeystore(cipher, DbKeyStorage(engine)),
        notary=SandboxNotary(),
        tsa=StoredSandboxTsa(engine, cipher),
        suite=SignatureSuite(settings.signature_suite),
        documents=DocumentRenderer(),
        lender=json.loads(lender_file.read_text(encoding="utf-8")),
        auto_seal=settings.auto_seal,
    )
