"""Builds the decision engine's ``RiskSetup`` from settings: the admission rule set, the
scorecard and the risk policy (shipped ones unless ``PUHUI_*_FILE`` names others), an optional
challenger rule set on a share of live traffic, and the data providers (sandbox by default)."""

from __future__ import annotations

from pathlib import Path

from puhui.adapters.providers.datasources import SandboxDataProvider
from puhui.domain.errors import ValidationError
from puhui.domain.risk.decision import Strategy
from puhui.domain.risk.policy import DEFAULT_RISK_POLICY_PATH, load_risk_policy
from puhui.domain.risk.rule_set import load_rule_set
from puhui.domain.risk.scorecard import DEFAULT_SCORECARD_PATH, load_scorecard
from puhui.domain.risk.variables import VARIABLE_CATALOGUE
from puhui.services.decisions import RiskSetup
from puhui.settings import Settings

CONFIG = Path(__file__).resolve().parents[1] / "config"
DEFAULT_RULE_SET = CONFIG / "rules" / "admission-baseline.json"


def load_strategy(
    rule_set: str | Path = DEFAULT_RULE_SET,
    scorecard: str | Path = DEFAULT_SCORECARD_PATH,
    policy: str | Path = DEFAULT_RISK_POLICY_PATH,
    *,
    arm: str = "champion",
) -> Strategy:
    """Load and cross-check one arm's artifacts (the policy's grades are the card's)."""
    card = load_scorecard(scorecard)
    risk_policy = load_risk_policy(policy)
    risk_policy.check_grades(g.grade for g in card.master_scale.grades)
    if arm not in ("champion", "challenger"):
        raise ValidationError("arm is champion or challenger", code="risk.strategy.invalid")
    return Strategy(
        arm="champion" if arm == "champion" else "challenger",
        rule_set=load_rule_set(rule_set),
        scorecard=card,
        policy=risk_policy,
        catalogue=VARIABLE_CATALOGUE,
    )


def build_risk_setup(settings: Settings) -> RiskSetup:
    rule_set = settings.rule_set_file or DEFAULT_RULE_SET
    scorecard = settings.scorecard_file or DEFAULT_SCORECARD_PATH
    policy = settings.risk_policy_file or DEFAULT_RISK_POLICY_PATH
    champion = load_strategy(rule_set, scorecard, policy)
    challenger = None
    if settings.challenger_rule_set_file:
        challenger = load_strategy(
            settings.challenger_rule_set_file, scorecard, policy, arm="challenger"
        )
    if not 0 <= settings.challenger_share <= 1:
        raise ValidationError(
            "PUHUI_CHALLENGER_SHARE is between 0 and 1", code="risk.strategy.invalid"
        )
    if settings.data_providers == "http":
        from puhui.adapters.providers.datasources import http_providers_from_file

        providers = http_providers_from_file(settings.data_provider_file)
    else:
        providers = SandboxDataProvider()
    return RiskSetup(
        champion=champion,
        providers=providers,
        challenger=challenger,
        challenger_share=settings.challenger_share,
        lpr=settings.lpr_1y,
    )
