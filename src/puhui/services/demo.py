"""Demo data: one staff user per built-in role and a few customers. Idempotent.

The demo passwords below are public; ``load_demo`` refuses to run outside development.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from puhui.domain.customers import Customer
from puhui.domain.errors import DomainError
from puhui.domain.identifiers import MobileNumber, ResidentIdNumber, make_resident_id
from puhui.domain.identity import SYSTEM, Role
from puhui.services.audit import record
from puhui.services.identity import CreateStaffUser, create_staff_user
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext

DEMO_PASSWORD = "Puhui-demo-2026"  # noqa: S105 - public demo credential, development only


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    post: str


DEMO_USERS = (
    DemoUser("admin", "王管理", Role.ADMIN, "系统管理员"),
    DemoUser("officer", "李信贷", Role.LOAN_OFFICER, "客户经理"),
    DemoUser("reviewer", "赵审批", Role.REVIEWER, "审批岗"),
    DemoUser("analyst", "钱风控", Role.RISK_ANALYST, "风险模型岗"),
    DemoUser("collector", "孙催收", Role.COLLECTOR, "贷后催收岗"),
    DemoUser("auditor", "周稽核", Role.AUDITOR, "内审岗"),
)

# Synthetic people: valid checksums, region codes of real districts, birth dates made up.
DEMO_CUSTOMERS = (
    ("13800138001", "张小梅", "330106", date(1985, 3, 14), 21),
    ("13900139002", "陈建国", "440305", date(1978, 11, 2), 37),
    ("15000150003", "刘芳", "510107", date(1990, 6, 30), 48),
    ("18600186004", "黄志强", "420106", date(1982, 1, 19), 15),
)


# Demo credit applications: (ref, product, borrower type, resident id parts, USCC body, amount,
# term). Sequence codes 901 and 914 are the sandbox's sanctions hit and many enquiries, so the
# demo shows an approval, a decline and an application waiting for manual review.
DEMO_APPLICATIONS = (
    ("DEMO-1", "MICRO-BIZ", "micro_enterprise", ("330106", date(1985, 3, 14), 21),
     "91330106MA0001Y00", "200000.00", 12),
    ("DEMO-2", "CONSUMER", "consumer", ("440305", date(1978, 11, 2), 900), None, "30000.00", 12),
    ("DEMO-3", "INDIV-BIZ", "individual_business", ("510107", date(1990, 6, 30), 914),
     None, "80000.00", 12),
    ("DEMO-4", "CONSUMER", "consumer", ("420106", date(1982, 1, 19), 901), None, "20000.00", 6),
)  # fmt: skip
DEMO_CONSENTS = (
    "credit_report",
    "identity_verification",
    "tax_data",
    "bank_flows",
    "social_security",
)


@dataclass(frozen=True)
class DemoResult:
    users_created: list[str]
    customers_created: int
    decisions_made: int = 0


def load_demo(ctx: ServiceContext, *, environment: str) -> DemoResult:
    if environment not in ("development", "test"):
        raise DomainError(
            f"demo data is only for development, not {environment}", code="demo.not_allowed"
        )
    created: list[str] = []
    with ctx.uow() as uow:
        existing = {u.username for u in uow.users.list()}
    for demo in DEMO_USERS:
        if demo.username in existing:
            continue
        create_staff_user(
            ctx,
            SYSTEM,
            CreateStaffUser(
                username=demo.username,
                display_name=demo.display_name,
                password=DEMO_PASSWORD,
                roles=(demo.role.value,),
                post=demo.post,
                branch="0001 总行营业部",
            ),
        )
        created.append(demo.username)
    n = 0
    with ctx.uow() as uow:
        today = business_date(uow, clock=ctx.clock())
        for phone_text, name, region, birth, seq in DEMO_CUSTOMERS:
            phone = MobileNumber.parse(phone_text)
            if uow.customers.find_by_phone(phone) is not None:
                continue
            id_number = ResidentIdNumber.parse(make_resident_id(region, birth, seq))
            saved = uow.customers.add(
                Customer(id=None, phone=phone, name=name, id_number=id_number),
                today=today,
                now=ctx.clock(),
            )
            record(ctx, uow, actor=SYSTEM, action="demo.customer", target=f"customer:{saved.id}")
            n += 1
        uow.commit()
    return DemoResult(created, n, _demo_decisions(ctx, today))


def _demo_decisions(ctx: ServiceContext, today: date) -> int:
    """Consents and one decided application per demo applicant (sandbox data)."""
    from puhui.domain.identifiers import make_uscc
    from puhui.services.consents import grant_consent
    from puhui.services.decisions import decide_application

    made = 0
    for ref, product, borrower, (region, birth, seq), uscc, amount, term in DEMO_APPLICATIONS:
        with ctx.uow() as uow:
            if uow.risk.find_application("branch", ref) is not None:
                continue
        resident_id = make_resident_id(region, birth, seq)
        for purpose in DEMO_CONSENTS:
            grant_consent(
                ctx,
                SYSTEM,
                {"resident_id": resident_id, "purpose": purpose, "text_version": "2026.1"},
            )
        application = {
            "application_id": ref,
            "product_code": product,
            "borrower_type": borrower,
            "applicant_name": "演示客户",
            "applicant_resident_id": resident_id,
            "applicant_mobile": "13800138000",
            "requested_amount": amount,
            "requested_term_months": term,
            "purpose": "working_capital" if borrower != "consumer" else "consumption",
            "region_code": region,
            "industry_code": "F",
            "guarantee_type": "credit",
            "applied_on": today.isoformat(),
            "channel": "branch",
        }
        if borrower == "consumer":
            application["declared_monthly_income"] = "15000.00"
        if uscc is not None:
            application["enterprise_uscc"] = make_uscc(uscc[:17])
            application["enterprise_name"] = "演示商贸有限公司"
        decide_application(ctx, SYSTEM, application)
        made += 1
    return made
