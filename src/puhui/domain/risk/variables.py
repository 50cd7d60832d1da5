"""Decision variables (变量加工): the named, typed, versioned inputs of the admission rules and
the scorecard, computed from the application and the source payloads (R-6.5(a)).

:func:`compute` is pure and is the *same function* online and in batch back-testing: given the
application, the payloads (``None`` for a source that gave nothing) and the as-of date it returns
a :class:`VariableSet` — every variable's value, the variables whose data was missing and whether
a missing variable requires manual review. Payloads are trusted to have passed
``sources.validate_payload``. Decimals are exact sums of the payload strings; ratios are rounded
once, half-up, to 4 places. A variable that does not apply (``tax_grade`` of a consumer) is
``None`` and is *not* missing.

Missing policy — what happens when the variable's source gave nothing:

============================ ======= ============================= ========= =================
variable                     type    sources                       policy    when missing
============================ ======= ============================= ========= =================
applicant_age ... guarantee  from the application (never missing)  null
identity_verified            bool    identity                      review    None, review
phone_in_service_months      int     identity                      null      None
enterprise_status            str     business_registry             review    None, review
licence_valid                bool    business_registry             review    None, review
months_in_business           int     business_registry, tax        null      None
sanction_hit                 bool    sanctions                     review    None, review
dishonest_debtor             bool    judicial                      review    None, review
open_enforcement_cases       int     judicial                      null      None
admin_penalties_24m          int     admin_penalty                 null      None
major_admin_penalties_24m    int     admin_penalty                 review    None, review
has_credit_record            bool    credit_bureau                 review    None, review
current_overdue_amount       decimal credit_bureau                 null      None
worst_dpd_24m                int     credit_bureau                 null      None
enquiries_3m                 int     credit_bureau                 null      None
bureau_monthly_debt_service  decimal credit_bureau                 null      None
tax_grade                    str     tax                           null      None
tax_revenue_12m              decimal tax                           null      None
tax_revenue_growth           decimal tax                           null      None
bank_inflow_12m              decimal bank_flows                    null      None
gambling_txn_12m             int     bank_flows                    null      None
platform_gmv_12m             decimal platform_receipts             null      None
social_security_months       int     social_security               default   0
monthly_income               decimal bank_flows, social_security   null      None
debt_service_ratio           decimal credit_bureau (+ income)      null      None
fraud_level                  str     identity                      review    None, review
============================ ======= ============================= ========= =================

Semantics: windows end on ``as_of`` (``admin_penalties_24m`` counts decisions in
(as_of − 24 months, as_of]); ``tax_revenue_12m`` sums the newest 12 monthly revenues and
``tax_revenue_growth`` compares them with the 12 before (``None`` below 24 months or when the
earlier 12 are zero); ``monthly_income`` is the declared income, else for a business the bank
inflow of 12 months / 12 × 0.3, else the social-security contribution base (when contributing);
``debt_service_ratio`` is ``None`` when the income is missing or zero.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Any, Final

from puhui.domain.errors import ValidationError
from puhui.domain.risk.application import CreditApplication
from puhui.domain.risk.sources import SOURCE_REGISTRY, Payload

__all__ = [
    "MISSING",
    "VARIABLE_CATALOGUE",
    "MissingPolicy",
    "Value",
    "VariableCatalogue",
    "VariableContext",
    "VariableDefinition",
    "VariableSet",
    "VariableType",
    "compute",
]

Value = int | Decimal | bool | str | None


class VariableType(StrEnum):
    INT = "int"
    DECIMAL = "decimal"
    BOOL = "bool"
    STR = "str"


class MissingPolicy(StrEnum):
    NULL = "null"  # the value is None; rules and scorecards have a "missing" branch
    DEFAULT = "default"  # the definition's default stands in
    REVIEW = "review"  # None, and the application goes to manual review


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()
"""Returned by a compute function when the data it needs did not arrive."""

_CTX: Final = Context(prec=34, rounding=ROUND_HALF_UP)
_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
_RATIO: Final = Decimal("0.0001")
_SANCTION_THRESHOLD: Final = Decimal("0.90")
_MONTHLY_SHARE_OF_INFLOW: Final = Decimal("0.025")  # 12 months of inflow / 12 × 0.3, exact


class VariableContext:
    """What a compute function reads: the application, the payloads, the as-of date and the
    values of the variables defined before it."""

    __slots__ = ("application", "as_of", "as_of_iso", "memo", "payloads", "values")

    def __init__(
        self, application: CreditApplication, payloads: Mapping[str, Payload | None], as_of: date
    ) -> None:
        self.application = application
        self.payloads = payloads
        self.as_of = as_of
        self.as_of_iso = as_of.isoformat()
        self.values: dict[str, Value] = {}
        self.memo: dict[str, Any] = {}  # aggregates shared by several variables

    def payload(self, source_id: str) -> Payload | None:
        return self.payloads.get(source_id)


Compute = Callable[[VariableContext], Value | _Missing]


@dataclass(frozen=True, slots=True)
class VariableDefinition:
    """One variable: name, version, type, sources, missing policy and how it is computed."""

    name: str
    version: int
    type: VariableType
    sources: tuple[str, ...]
    missing_policy: MissingPolicy
    default: Value
    description_zh: str
    description_en: str
    compute: Compute = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        unknown = [s for s in self.sources if s not in SOURCE_REGISTRY]
        if unknown or self.version < 1:
            raise ValidationError(
                "A variable reads registered sources and has a version from 1.",
                code="risk.variable.invalid",
                details={"variable": self.name, "unknown_sources": unknown},
            )
        if (self.missing_policy is MissingPolicy.DEFAULT) != (self.default is not None):
            raise ValidationError(
                "Only a variable with the 'default' missing policy has a default.",
                code="risk.variable.invalid",
                details={"variable": self.name},
            )


@dataclass(frozen=True, slots=True)
class VariableSet:
    """The computed variables of one application on one date."""

    values: dict[str, Value]
    missing: tuple[str, ...]
    needs_review: bool

    def to_mapping(self) -> dict[str, Any]:
        """JSON form for the decision record: decimals as strings."""
        return {
            "values": {
                k: (format(v, "f") if isinstance(v, Decimal) else v) for k, v in self.values.items()
            },
            "missing": list(self.missing),
            "needs_review": self.needs_review,
        }


@dataclass(frozen=True, slots=True)
class VariableCatalogue:
    """An ordered, versioned set of definitions; a definition may read the ones before it."""

    version: str
    definitions: tuple[VariableDefinition, ...]
    content_hash: str = field(init=False)
    _steps: tuple[tuple[str, Compute, VariableDefinition], ...] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        names = [d.name for d in self.definitions]
        if len(set(names)) != len(names):
            raise ValidationError(
                "Variable names are unique in a catalogue.", code="risk.variable.duplicate"
            )
        content = [
            {
                "name": d.name,
                "version": d.version,
                "type": d.type.value,
                "sources": list(d.sources),
                "missing_policy": d.missing_policy.value,
                "default": None if d.default is None else str(d.default),
            }
            for d in self.definitions
        ]
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "content_hash", hashlib.sha256(canonical.encode()).hexdigest())
        steps = tuple((d.name, d.compute, d) for d in self.definitions)
        object.__setattr__(self, "_steps", steps)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.definitions)

    def get(self, name: str) -> VariableDefinition:
        for definition in self.definitions:
            if definition.name == name:
                return definition
        raise ValidationError(
            "No such variable.", code="risk.variable.unknown", details={"variable": name}
        )

    def with_definition(self, definition: VariableDefinition, *, version: str) -> VariableCatalogue:
        """A new catalogue ``version`` where ``definition`` replaces the one of the same name
        (in place, so later variables still see it) or is appended."""
        replaced = tuple(definition if d.name == definition.name else d for d in self.definitions)
        if definition.name not in self.names:
            replaced += (definition,)
        return replace(self, version=version, definitions=replaced)

    def compute(
        self,
        application: CreditApplication,
        payloads: Mapping[str, Payload | None],
        as_of: date,
    ) -> VariableSet:
        """Every variable for ``application`` as of ``as_of`` (pure; online and back-testing)."""
        ctx = VariableContext(application, payloads, as_of)
        values = ctx.values
        missing: list[str] = []
        review = False
        for name, fn, definition in self._steps:
            value = fn(ctx)
            if isinstance(value, _Missing):
                missing.append(name)
                policy = definition.missing_policy
                if policy is MissingPolicy.DEFAULT:
                    value = definition.default
                else:
                    value = None
                    review = review or policy is MissingPolicy.REVIEW
            values[name] = value
        return VariableSet(values, tuple(missing), review)


# --- compute functions ------------------------------------------------------------------------


def _years_before(day: date, years: int) -> date:
    """The same day ``years`` earlier; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _months_between(start_iso: str, end: date) -> int:
    start = date.fromisoformat(start_iso)
    months = (end.year - start.year) * 12 + end.month - start.month - (end.day < start.day)
    return max(months, 0)


def _sum(items: Any, key: str) -> Decimal:
    total = _ZERO
    for item in items:
        total += Decimal(item[key])
    return total


def _age(c: VariableContext) -> Value | _Missing:
    rid = c.application.applicant_resident_id  # checked: digits 7-14 are the birth date
    born = (int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))
    on = c.as_of
    if (on.year, on.month, on.day) < born:
        return None
    return on.year - born[0] - ((on.month, on.day) < born[1:])


def _field(name: str) -> Compute:
    def read(c: VariableContext) -> Value | _Missing:
        value = getattr(c.application, name)
        return value.value if isinstance(value, StrEnum) else value

    return read


def _key(source_id: str, key: str) -> Compute:
    def read(c: VariableContext) -> Value | _Missing:
        payload = c.payloads.get(source_id)
        return MISSING if payload is None else payload[key]

    return read


def _decimal_key(source_id: str, key: str) -> Compute:
    def read(c: VariableContext) -> Value | _Missing:
        payload = c.payloads.get(source_id)
        return MISSING if payload is None else Decimal(payload[key])

    return read


def _identity_verified(c: VariableContext) -> Value | _Missing:
    p = c.payloads.get("identity")
    return MISSING if p is None else bool(p["id_name_match"] and p["phone_owner_match"])


def _enterprise_status(c: VariableContext) -> Value | _Missing:
    if c.application.enterprise_uscc is None:
        return "none"
    p = c.payloads.get("business_registry")
    return MISSING if p is None else str(p["status"])


def _licence_valid(c: VariableContext) -> Value | _Missing:
    if c.application.enterprise_uscc is None:
        return True
    p = c.payloads.get("business_registry")
    if p is None:
        return MISSING
    until = p["licence_valid_until"]
    return p["status"] == "in_operation" and (until is None or until >= c.as_of_iso)


def _months_in_business(c: VariableContext) -> Value | _Missing:
    app = c.application
    if not app.is_business:
        return None
    registry = c.payloads.get("business_registry") if app.enterprise_uscc else None
    if registry is not None:
        return _months_between(registry["established_on"], c.as_of)
    tax = c.payloads.get("tax")
    if app.borrower_type == "individual_business" and tax is not None:
        return _months_between(tax["registered_on"], c.as_of)
    return MISSING


def _sanction_hit(c: VariableContext) -> Value | _Missing:
    p = c.payloads.get("sanctions")
    if p is None:
        return MISSING
    return any(Decimal(hit["match_score"]) >= _SANCTION_THRESHOLD for hit in p["hits"])


def _penalty_counts(c: VariableContext) -> tuple[int, int] | None:
    """(all, major) penalties decided in (as_of - 24 months, as_of]; ``None`` when missing."""
    if "penalties" not in c.memo:
        p = c.payloads.get("admin_penalty")
        counts: tuple[int, int] | None = None
        if p is not None:
            since = _years_before(c.as_of, 2).isoformat()
            until = c.as_of_iso
            severities = [x["severity"] for x in p["penalties"] if since < x["decided_on"] <= until]
            counts = (len(severities), severities.count("major"))
        c.memo["penalties"] = counts
    result: tuple[int, int] | None = c.memo["penalties"]
    return result


def _penalties(major_only: bool) -> Compute:
    def count(c: VariableContext) -> Value | _Missing:
        counts = _penalty_counts(c)
        return MISSING if counts is None else counts[major_only]

    return count


def _business_source(source_id: str, read: Callable[[Payload], Value]) -> Compute:
    def compute(c: VariableContext) -> Value | _Missing:
        if not c.application.is_business:
            return None
        p = c.payloads.get(source_id)
        return MISSING if p is None else read(p)

    return compute


def _tax_sums(c: VariableContext) -> tuple[Decimal, Decimal | None] | None:
    """(newest 12 months, the 12 before or ``None`` below 24 months); ``None`` when missing."""
    if "tax" not in c.memo:
        p = c.payloads.get("tax")
        sums: tuple[Decimal, Decimal | None] | None = None
        if p is not None:
            months = p["monthly_revenue"]
            previous = _sum(months[-24:-12], "revenue") if len(months) >= 24 else None
            sums = (_sum(months[-12:], "revenue"), previous)
        c.memo["tax"] = sums
    result: tuple[Decimal, Decimal | None] | None = c.memo["tax"]
    return result


def _tax_revenue_12m(c: VariableContext) -> Value | _Missing:
    if not c.application.is_business:
        return None
    sums = _tax_sums(c)
    return MISSING if sums is None else sums[0]


def _tax_revenue_growth(c: VariableContext) -> Value | _Missing:
    if not c.application.is_business:
        return None
    sums = _tax_sums(c)
    if sums is None:
        return MISSING
    latest, previous = sums
    if not previous:
        return None
    return _CTX.divide(latest - previous, previous).quantize(_RATIO, context=_CTX)


def _bank_inflow(c: VariableContext) -> Value | _Missing:
    p = c.payloads.get("bank_flows")
    return MISSING if p is None else _sum(p["months"], "inflow")


def _monthly_income(c: VariableContext) -> Value | _Missing:
    app = c.application
    if app.declared_monthly_income is not None:
        return app.declared_monthly_income
    data_missing = False
    if app.is_business:
        inflow = c.values.get("bank_inflow_12m")
        if isinstance(inflow, Decimal):
            return _CTX.multiply(inflow, _MONTHLY_SHARE_OF_INFLOW).quantize(_CENT, context=_CTX)
        data_missing = True
    social = c.payloads.get("social_security")
    if social is None:
        return MISSING
    base = Decimal(social["contribution_base"])
    if social["months_contributed"] > 0 and base > 0:
        return base
    return MISSING if data_missing else None


def _debt_service_ratio(c: VariableContext) -> Value | _Missing:
    service = c.values.get("bureau_monthly_debt_service")
    if not isinstance(service, Decimal):
        return MISSING
    income = c.values.get("monthly_income")
    if not isinstance(income, Decimal) or not income:
        return None
    return _CTX.divide(service, income).quantize(_RATIO, context=_CTX)


FRAUD_PAYLOAD: Final = "fraud"
"""The payload key of the fraud assessment (``domain.fraud``), when the decision made one."""


def _fraud_level(c: VariableContext) -> Value | _Missing:
    """The fraud assessment's level (R-9.6); without one, from the identity checks alone."""
    assessed = c.payloads.get(FRAUD_PAYLOAD)
    p = c.payloads.get("identity")
    if assessed is not None and (p is not None or assessed["level"] == "high"):
        return str(assessed["level"])  # without the identity checks only a block is certain
    if p is None:
        return MISSING
    if not p["id_name_match"]:
        return "high"
    if not p["phone_owner_match"]:
        return "medium"
    if p["phone_in_service_months"] < 6:
        return "low"
    return "none"


# --- the catalogue ----------------------------------------------------------------------------

_T = VariableType
_M = MissingPolicy


def _v(
    name: str,
    kind: VariableType,
    sources: tuple[str, ...],
    policy: MissingPolicy,
    fn: Compute,
    zh: str,
    en: str,
    *,
    default: Value = None,
) -> VariableDefinition:
    return VariableDefinition(name, 1, kind, sources, policy, default, zh, en, fn)


_APP: tuple[str, ...] = ()
_tax_grade = _business_source("tax", lambda p: str(p["tax_grade"]))
_platform_gmv = _business_source("platform_receipts", lambda p: _sum(p["months"], "gmv"))
_BUREAU = ("credit_bureau",)
VARIABLE_CATALOGUE: Final = VariableCatalogue(
    "1",
    (
        _v("applicant_age", _T.INT, _APP, _M.NULL, _age,
           "申请人年龄(周岁)", "Applicant age in full years"),
        _v("borrower_type", _T.STR, _APP, _M.NULL, _field("borrower_type"),
           "借款人类型", "Borrower type"),
        _v("product_code", _T.STR, _APP, _M.NULL, _field("product_code"),
           "产品代码", "Product code"),
        _v("requested_amount", _T.DECIMAL, _APP, _M.NULL, _field("requested_amount"),
           "申请金额", "Requested amount (CNY)"),
        _v("requested_term_months", _T.INT, _APP, _M.NULL, _field("requested_term_months"),
           "申请期限(月)", "Requested term (months)"),
        _v("region_code", _T.STR, _APP, _M.NULL, _field("region_code"),
           "行政区划代码", "Region code (GB/T 2260)"),
        _v("industry_code", _T.STR, _APP, _M.NULL, _field("industry_code"),
           "行业门类", "Industry section (GB/T 4754)"),
        _v("guarantee_type", _T.STR, _APP, _M.NULL, _field("guarantee_type"),
           "担保方式", "Guarantee type"),
        _v("identity_verified", _T.BOOL, ("identity",), _M.REVIEW, _identity_verified,
           "身份证、姓名、手机号一致", "ID number, name and phone consistent"),
        _v("phone_in_service_months", _T.INT, ("identity",), _M.NULL,
           _key("identity", "phone_in_service_months"),
           "手机号在网时长(月)", "Phone in service (months)"),
        _v("enterprise_status", _T.STR, ("business_registry",), _M.REVIEW, _enterprise_status,
           "企业登记状态", "Enterprise registry status"),
        _v("licence_valid", _T.BOOL, ("business_registry",), _M.REVIEW, _licence_valid,
           "营业执照有效", "Business licence valid"),
        _v("months_in_business", _T.INT, ("business_registry", "tax"), _M.NULL,
           _months_in_business, "经营时长(月)", "Months in business"),
        _v("sanction_hit", _T.BOOL, ("sanctions",), _M.REVIEW, _sanction_hit,
           "命中制裁名单(匹配度≥0.90)", "Sanctions list hit (match score ≥ 0.90)"),
        _v("dishonest_debtor", _T.BOOL, ("judicial",), _M.REVIEW,
           _key("judicial", "dishonest_debtor"),
           "失信被执行人", "Dishonest judgment debtor"),
        _v("open_enforcement_cases", _T.INT, ("judicial",), _M.NULL,
           _key("judicial", "open_enforcement_cases"),
           "未结执行案件数", "Open enforcement cases"),
        _v("admin_penalties_24m", _T.INT, ("admin_penalty",), _M.NULL,
           _penalties(major_only=False),
           "近24个月行政处罚次数", "Administrative penalties in 24 months"),
        _v("major_admin_penalties_24m", _T.INT, ("admin_penalty",), _M.REVIEW,
           _penalties(major_only=True),
           "近24个月重大行政处罚次数", "Major administrative penalties in 24 months"),
        _v("has_credit_record", _T.BOOL, _BUREAU, _M.REVIEW, _key("credit_bureau", "has_record"),
           "有征信记录", "Has a credit record"),
        _v("current_overdue_amount", _T.DECIMAL, _BUREAU, _M.NULL,
           _decimal_key("credit_bureau", "current_overdue_amount"),
           "当前逾期金额", "Current overdue amount"),
        _v("worst_dpd_24m", _T.INT, _BUREAU, _M.NULL, _key("credit_bureau", "worst_dpd_24m"),
           "近24个月最长逾期天数", "Worst days past due in 24 months"),
        _v("enquiries_3m", _T.INT, _BUREAU, _M.NULL, _key("credit_bureau", "enquiries_3m"),
           "近3个月查询次数", "Credit enquiries in 3 months"),
        _v("bureau_monthly_debt_service", _T.DECIMAL, _BUREAU, _M.NULL,
           _decimal_key("credit_bureau", "monthly_debt_service"),
           "征信月还款额", "Monthly debt service (bureau)"),
        _v("tax_grade", _T.STR, ("tax",), _M.NULL, _tax_grade,
           "纳税信用等级", "Tax credit grade"),
        _v("tax_revenue_12m", _T.DECIMAL, ("tax",), _M.NULL, _tax_revenue_12m,
           "近12个月纳税销售收入", "Taxed revenue in 12 months"),
        _v("tax_revenue_growth", _T.DECIMAL, ("tax",), _M.NULL, _tax_revenue_growth,
           "销售收入同比增长率", "Revenue growth, 12 months over the previous 12"),
        _v("bank_inflow_12m", _T.DECIMAL, ("bank_flows",), _M.NULL, _bank_inflow,
           "近12个月银行流入", "Bank inflow in 12 months"),
        _v("gambling_txn_12m", _T.INT, ("bank_flows",), _M.NULL,
           _key("bank_flows", "gambling_txn_12m"),
           "近12个月涉赌交易笔数", "Gambling transactions in 12 months"),
        _v("platform_gmv_12m", _T.DECIMAL, ("platform_receipts",), _M.NULL, _platform_gmv,
           "近12个月平台交易额", "Platform GMV in 12 months"),
        _v("social_security_months", _T.INT, ("social_security",), _M.DEFAULT,
           _key("social_security", "months_contributed"),
           "社保缴纳月数", "Social security months contributed", default=0),
        _v("monthly_income", _T.DECIMAL, ("bank_flows", "social_security"), _M.NULL,
           _monthly_income, "月收入", "Monthly income"),
        _v("debt_service_ratio", _T.DECIMAL, _BUREAU, _M.NULL, _debt_service_ratio,
           "债务收入比", "Debt service ratio"),
        _v("fraud_level", _T.STR, ("identity",), _M.REVIEW, _fraud_level,
           "欺诈风险等级", "Fraud level (identity checks)"),
    ),
)  # fmt: skip
"""The catalogue version 1 (R-6.5(a)); the anti-fraud issue replaces ``fraud_level``."""


def compute(
    application: CreditApplication, payloads: Mapping[str, Payload | None], as_of: date
) -> VariableSet:
    """:meth:`VariableCatalogue.compute` of :data:`VARIABLE_CATALOGUE`."""
    return VARIABLE_CATALOGUE.compute(application, payloads, as_of)
