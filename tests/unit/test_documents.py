"""Contract templates rendered to HTML and to a deterministic PDF (R-10.2(d), R-9.4, R-11.3)."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdf
import pytest

from puhui.adapters.documents import (
    DocumentRenderer,
    PdfFonts,
    contract_template,
    render_html,
    render_pdf,
    rmb_upper,
)
from puhui.adapters.documents.pdf import html_to_pdf, parse_blocks
from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.evidence.contract import TEMPLATE_VARIABLES, TemplateId, document_digest
from puhui.domain.lending.apr import schedule_annualized_rate
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import Fee, FeeKind, LoanTerms
from puhui.domain.money import Money

ZH, EN = "zh-CN", "en"

# -- builders in the domain's language ------------------------------------------------------


def _schedule(principal: str, rate: str, term: int, upfront_fee: str | None) -> dict[str, Any]:
    fees = (Fee(FeeKind.UPFRONT, amount=Decimal(upfront_fee)),) if upfront_fee else ()
    terms = LoanTerms(
        principal=Decimal(principal),
        annual_rate=Decimal(rate),
        repayments=term,
        disbursement_date=date(2025, 7, 15),
        fees=fees,
    )
    schedule = generate_schedule(terms)
    apr = schedule_annualized_rate(schedule)
    rows = [
        {
            "n": p.n,
            "due_date": p.due_date,
            "principal": Money(p.principal),
            "interest": Money(p.interest),
            "fees": Money(p.fees),
            "total": Money(p.total),
        }
        for p in schedule.periods
    ]
    return {
        "schedule": rows,
        "apr_irr": apr.nominal_apr.quantize(Decimal("0.0001")),
        "apr_simple": apr.simple_rate.quantize(Decimal("0.0001")),
    }


_TEXT = {
    ZH: {
        "lender_name": "示例农村商业银行股份有限公司",
        "lender_branch": "示例农村商业银行城南支行",
        "borrower_name": "张三",
        "product_name": "普惠信用贷",
        "purpose": "个人日常消费（家庭装修）",
        "fee_name": "贷款服务费",
        "fee_timing": "放款时一次性收取",
        "governing_law": "中华人民共和国法律",
        "dispute_venue": "任何一方均可向贷款人住所地有管辖权的人民法院提起诉讼",
        "revocation_channel": "手机银行“我的—授权管理”或客服热线",
        "credit_bureaus": ["中国人民银行征信中心", "百行征信有限公司"],
        "purposes": ["审核贷款申请并确定授信额度和利率", "贷后风险管理"],
        "data_items": ["近24个月个人所得税纳税记录（来源：税务机关，经本人授权查询）"],
        "recipients": ["示例融资担保有限公司（为本贷款提供担保；接收姓名、证件号码、贷款金额）"],
        "retention": "贷款结清之日起五年",
    },
    EN: {
        "lender_name": "Example Rural Commercial Bank Co., Ltd.",
        "lender_branch": "Example Rural Commercial Bank, Chengnan Sub-branch",
        "borrower_name": "Zhang San",
        "product_name": "Puhui Credit Loan",
        "purpose": "personal consumption (home renovation)",
        "fee_name": "Loan service fee",
        "fee_timing": "once, at disbursement",
        "governing_law": "the laws of the People's Republic of China",
        "dispute_venue": "either party may sue in the competent people's court where the Lender "
        "is domiciled",
        "revocation_channel": "mobile banking (Me > Authorizations) or the customer service line",
        "credit_bureaus": ["Credit Reference Center of the People's Bank of China"],
        "purposes": ["assessing the loan application and setting the limit and rate"],
        "data_items": ["individual income tax records of the last 24 months"],
        "recipients": ["Example Financing Guarantee Co., Ltd. (guarantor of this loan)"],
        "retention": "five years after the loan is repaid in full",
    },
}


def a_loan_offer(language: str = ZH, **overrides: Any) -> dict[str, Any]:
    """A 12-month loan of 100,000 at 3.65 % with a 1,000 upfront service fee."""
    t = _TEXT[language]
    values: dict[str, Any] = {
        "contract_number": "PH-2025-000123",
        "product_name": t["product_name"],
        "lender_name": t["lender_name"],
        "lender_branch": t["lender_branch"],
        "borrower_name": t["borrower_name"],
        "borrower_id_number_masked": "110105********002X",
        "currency": "CNY",
        "principal": Money("100000"),
        "annual_rate": Decimal("0.0365"),
        "term_months": 12,
        "repayment_method": "equal_installments",
        "fees": [{"name": t["fee_name"], "amount": Money("1000"), "timing": t["fee_timing"]}],
        "penalty_rate_uplift": Decimal("0.5"),
        "early_repayment_fee_rate": Decimal(0),
        "purpose": t["purpose"],
        "disbursement_account_masked": "622202******1234",
        "offer_date": date(2025, 7, 10),
        "offer_expires_at": datetime(2025, 7, 17, 15, 59, tzinfo=UTC),
        "complaint_hotline": "400-000-0000",
        "governing_law": t["governing_law"],
        "dispute_venue": t["dispute_venue"],
        **_schedule("100000", "0.0365", 12, "1000"),
    }
    values.update(overrides)
    return values


def a_drawdown(language: str = ZH, **overrides: Any) -> dict[str, Any]:
    values = a_loan_offer(language)
    for key in ("governing_law", "dispute_venue"):
        del values[key]
    values.update(
        notice_number="DN-2025-000045",
        contract_number="CL-2025-000007",
        credit_limit=Money("200000"),
        available_limit=Money("150000"),
    )
    values.update(overrides)
    return values


def _authorization(language: str, extra: tuple[str, ...], **overrides: Any) -> dict[str, Any]:
    t = _TEXT[language]
    values: dict[str, Any] = {
        "lender_name": t["lender_name"],
        "lender_branch": t["lender_branch"],
        "borrower_name": t["borrower_name"],
        "borrower_id_number_masked": "110105********002X",
        "authorization_number": "AU-2025-000311",
        "authorization_date": date(2025, 7, 8),
        "valid_until": date(2026, 7, 15),
        "revocation_channel": t["revocation_channel"],
        "complaint_hotline": "400-000-0000",
    }
    values.update({key: t[key] for key in extra})
    values.update(overrides)
    return values


def a_credit_report_authorization(language: str = ZH, **overrides: Any) -> dict[str, Any]:
    return _authorization(language, ("credit_bureaus",), **overrides)


def a_data_authorization(language: str = ZH, **overrides: Any) -> dict[str, Any]:
    return _authorization(
        language, ("purposes", "data_items", "recipients", "retention"), **overrides
    )


BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "loan_contract": a_loan_offer,
    "drawdown_notice": a_drawdown,
    "credit_report_authorization": a_credit_report_authorization,
    "data_authorization": a_data_authorization,
}
ALL = [(t, lang) for t in BUILDERS for lang in (ZH, EN)]


def pdf_text(pdf: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture(scope="module")
def pdfs() -> dict[tuple[str, str], bytes]:
    """Every template in both languages, rendered once (fpdf2 with CJK fonts takes ~1 s)."""
    return {(t, lang): render_pdf(t, lang, BUILDERS[t](lang)) for t, lang in ALL}


# -- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("template_id", "language"), ALL)
def test_every_template_renders_html_with_its_key_terms_marked(
    template_id: str, language: str
) -> None:
    variables = BUILDERS[template_id](language)
    html = render_html(template_id, language, variables)
    assert html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in html
    assert 'class="key-term"' in html and "<mark>" in html  # key terms highlighted
    assert f"{template_id} v2025.1 ({language})" in html
    assert variables["borrower_id_number_masked"] in html
    assert variables["complaint_hotline"] in html and "12378" in html  # free channels


def test_loan_contract_states_rates_fees_schedule_and_default_liability() -> None:
    """R-11.3(d,e), R-G7: annualized rate (IRR) with the labelled simple rate, every fee,
    the schedule, penalty interest, and how to change, suspend or end the contract."""
    html = render_html("loan_contract", ZH, a_loan_offer())
    for text in (
        "固定年利率 3.65%",
        "年化利率（内部收益率法 IRR，复利）为 5.53%",
        "年化利率（单利）为 5.59%",
        "贷款服务费",
        "¥1,000.00",
        "人民币壹拾万元整",
        "罚息利率 5.475%（即合同年利率上浮 50.00%）",
        "2026年7月15日",
        "借款总成本为 <mark>¥2,988.09</mark>",
        "第九条 合同的变更、中止与解除",
        "不收取提前还款违约金或手续费",
        "2025年7月17日 23:59（北京时间）",
    ):
        assert text in html, text
    assert html.count("<tr><td>") == 13  # 1 fee row + 12 installments


def test_english_contract_formats_money_dates_and_rates_for_english_readers() -> None:
    html = render_html("loan_contract", EN, a_loan_offer(EN))
    for text in (
        "Loan amount: CNY 100,000.00",
        "annualized rate of this loan (IRR method, compound) is 5.53%",
        "simple-interest method is 5.59%",
        "15 July 2026",
        "17 July 2025, 23:59 (Beijing time, UTC+8)",
        "Change, suspension and termination",
    ):
        assert text in html, text


def test_no_fees_and_an_early_repayment_fee_are_both_stated() -> None:
    values = a_loan_offer(fees=[], early_repayment_fee_rate=Decimal("0.01"))
    values.update(_schedule("100000", "0.0365", 12, None))
    html = render_html("loan_contract", ZH, values)
    assert "不向借款人收取任何费用" in html
    assert "按提前偿还本金的 1.00% 收取提前还款手续费" in html


def test_drawdown_notice_shows_the_credit_left_after_the_drawdown() -> None:
    html = render_html("drawdown_notice", ZH, a_drawdown())
    assert "提款后剩余可用额度为 ¥50,000.00" in html


def test_authorizations_state_purpose_scope_recipients_validity_and_revocation() -> None:
    """R-11.2: purpose-specific, scoped, revocable consent."""
    html = render_html("data_authorization", ZH, a_data_authorization())
    for text in (
        "处理目的",
        "近24个月个人所得税",
        "示例融资担保",
        "2026年7月15日",
        "撤回",
        "单独同意",
    ):
        assert text in html, text
    html = render_html("credit_report_authorization", EN, a_credit_report_authorization(EN))
    for text in ("Purposes", "Credit Reference Center", "15 July 2026", "withdraw"):
        assert text in html, text


def test_html_is_escaped_so_a_hostile_name_is_inert() -> None:
    name = '<script>alert("x")</script>'
    html = render_html("loan_contract", ZH, a_loan_offer(borrower_name=name))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


# -- variables are refused by name -----------------------------------------------------------


def _error(template_id: str, variables: dict[str, Any], language: str = ZH) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        render_html(template_id, language, variables)
    return caught.value


def test_a_missing_variable_is_refused_by_name() -> None:
    values = a_loan_offer()
    del values["apr_irr"]
    error = _error("loan_contract", values)
    assert error.code == "contract.missing_variable"
    assert error.details["variable"] == "apr_irr"
    assert "apr_irr" in error.message


def test_an_extra_variable_is_refused_by_name() -> None:
    error = _error("loan_contract", a_loan_offer(discount_code="SPRING"))
    assert error.code == "contract.unknown_variable"
    assert error.details["variables"] == ["discount_code"]


@pytest.mark.parametrize(
    ("name", "value", "code"),
    [
        ("annual_rate", 0.0365, "contract.invalid_variable"),  # a float is never accepted
        ("principal", "100000", "contract.invalid_variable"),
        ("term_months", 0, "contract.invalid_variable"),
        ("offer_expires_at", datetime(2025, 7, 17, 23, 59), "contract.invalid_variable"),  # noqa: DTZ001
        ("repayment_method", "balloon", "contract.invalid_variable"),
        ("currency", "XYZ", "money.unknown_currency"),
        ("borrower_id_number_masked", "11010519491231002X", "contract.unmasked_identifier"),
        ("disbursement_account_masked", "6222020200112341234", "contract.unmasked_identifier"),
        ("borrower_name", "张三\n李四", "contract.invalid_variable"),
    ],
)
def test_an_ill_typed_variable_is_refused(name: str, value: object, code: str) -> None:
    error = _error("loan_contract", a_loan_offer(**{name: value}))
    assert error.code == code


def test_amounts_must_agree_with_the_schedule_and_the_currency() -> None:
    assert (
        _error("loan_contract", a_loan_offer(principal=Money("90000"))).details["variable"]
        == "schedule"
    )
    usd_fee = [{"name": "fee", "amount": Money("1", "USD"), "timing": "now"}]
    assert _error("loan_contract", a_loan_offer(fees=usd_fee)).code == "contract.invalid_variable"
    assert (
        _error("drawdown_notice", a_drawdown(available_limit=Money("50000"))).details["variable"]
        == "principal"
    )


def test_an_unknown_template_or_language_is_refused() -> None:
    with pytest.raises(DomainError) as caught:
        render_html("guarantee_contract", ZH, {})
    assert caught.value.code == "contract.unknown_template"
    with pytest.raises(DomainError):
        render_html("loan_contract", "fr", {})


def _template_dir(tmp_path: Path, body: str) -> Path:
    base = Path(__file__).parents[2] / "src/puhui/adapters/documents/templates/_base.html.j2"
    (tmp_path / "_base.html.j2").write_text(base.read_text(encoding="utf-8"), encoding="utf-8")
    names = " ".join(
        f"{{{{ {v.name} }}}}" for v in TEMPLATE_VARIABLES[TemplateId.DATA_AUTHORIZATION]
    )
    source = (
        "{#---\ntemplate: data_authorization\nlanguage: en\nversion: 9.9\n---#}\n"
        '{% extends "_base.html.j2" %}{% block body %}<p>' + names + body + "</p>{% endblock %}"
    )
    (tmp_path / "data_authorization.en.html.j2").write_text(source, encoding="utf-8")
    return tmp_path


def test_strict_undefined_names_what_the_template_read_but_was_not_given(tmp_path: Path) -> None:
    renderer = DocumentRenderer(_template_dir(tmp_path, "{{ purposes[0].legal_basis }}"))
    assert renderer.template("data_authorization", EN).version == "9.9"
    with pytest.raises(ValidationError) as caught:
        renderer.render_html("data_authorization", EN, a_data_authorization(EN))
    assert caught.value.code == "contract.unknown_variable"
    assert caught.value.details["variable"] == "legal_basis"


def test_a_template_using_an_undeclared_variable_is_refused_when_loaded(tmp_path: Path) -> None:
    renderer = DocumentRenderer(_template_dir(tmp_path, "{{ marketing_opt_in }}"))
    with pytest.raises(DomainError) as caught:
        renderer.render_html("data_authorization", EN, a_data_authorization(EN))
    assert caught.value.code == "contract.template_invalid"
    assert "marketing_opt_in" in caught.value.message


def test_template_metadata_names_version_variables_and_source_digest() -> None:
    meta = contract_template("loan_contract", ZH)
    assert (meta.template_id, meta.version, meta.language) == ("loan_contract", "2025.1", ZH)
    assert meta.variables == TEMPLATE_VARIABLES[TemplateId.LOAN_CONTRACT]
    assert len(meta.source_digest) == 64
    assert meta.source_digest != contract_template("loan_contract", EN).source_digest


# -- PDF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("template_id", "language"), ALL)
def test_every_template_renders_a_pdf_that_opens(
    pdfs: dict[tuple[str, str], bytes], template_id: str, language: str
) -> None:
    pdf = pdfs[(template_id, language)]
    assert pdf.startswith(b"%PDF-")
    text = pdf_text(pdf)
    assert "110105********002X" in text
    assert f"{template_id} v2025.1" in text  # footer on every page


def test_pdf_text_carries_the_chinese_key_terms(pdfs: dict[tuple[str, str], bytes]) -> None:
    text = pdf_text(pdfs[("loan_contract", ZH)])
    for term in ("年化利率", "还款计划", "违约责任", "重要条款", "人民币壹拾万元整", "¥100,000.00",
                 "5.53%", "8,499.01", "12378", "PH-2025-000123"):  # fmt: skip
        assert term in text, term


def test_pdf_text_carries_the_english_key_terms(pdfs: dict[tuple[str, str], bytes]) -> None:
    text = " ".join(pdf_text(pdfs[("loan_contract", EN)]).split())
    for term in ("annualized rate", "repayment schedule", "liability for default",
                 "CNY 100,000.00", "KEY TERM"):  # fmt: skip
        assert term in text, term


def test_pdf_is_byte_identical_for_the_same_inputs(pdfs: dict[tuple[str, str], bytes]) -> None:
    """R-9.4: the digest of these bytes is what is signed, so rendering must be repeatable."""
    first = pdfs[("loan_contract", ZH)]
    again = DocumentRenderer().render_pdf("loan_contract", ZH, a_loan_offer())
    assert again == first
    assert document_digest(again) == document_digest(first)


def test_a_changed_variable_changes_the_digest(pdfs: dict[tuple[str, str], bytes]) -> None:
    changed = render_pdf("loan_contract", ZH, a_loan_offer(purpose="个人日常消费（购买家电）"))
    assert document_digest(changed) != document_digest(pdfs[("loan_contract", ZH)])


def test_pdf_metadata_is_fixed(pdfs: dict[tuple[str, str], bytes]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(pdfs[("loan_contract", ZH)]))
    info = reader.metadata
    assert info is not None
    assert info["/Producer"] == "Puhui e-contract renderer"
    assert info["/CreationDate"].startswith("D:20250710000000+08'00'")
    assert info["/Title"] == "个人贷款合同"
    assert info["/Subject"] == "loan_contract 2025.1 zh-CN"
    first, second = reader.trailer["/ID"]
    assert first == second and len(first) == 16


def test_a_hostile_name_is_plain_text_in_the_pdf() -> None:
    name = "<script>alert(1)</script>"
    text = pdf_text(render_pdf("credit_report_authorization", EN, a_credit_report_authorization(
        EN, borrower_name=name)))  # fmt: skip
    assert name in text


def test_a_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as caught:
        PdfFonts.discover({"PUHUI_PDF_FONT_CJK": str(tmp_path / "none.ttf")})
    assert caught.value.code == "contract.font_missing"
    assert "fonts-droid-fallback" in caught.value.message
    fonts = PdfFonts(tmp_path / "none.ttf", Path("/nope.ttf"), Path("/nope-bold.ttf"))
    with pytest.raises(DomainError) as caught:
        DocumentRenderer(fonts=fonts).render_pdf("loan_contract", ZH, a_loan_offer())
    assert caught.value.code == "contract.font_missing"


def test_only_the_template_vocabulary_reaches_the_pdf() -> None:
    """A tag the PDF layout does not know would silently vanish from the signed PDF: refuse."""
    with pytest.raises(DomainError) as caught:
        parse_blocks('<p>ok</p><img src="x.png">')
    assert caught.value.code == "contract.template_invalid"
    title, blocks = parse_blocks(
        "<title>T</title><p>年化\n利率 <mark>3.65%</mark> a  b</p><ul><li>one</li></ul>"
    )
    assert title == "T"
    assert [r.text for r in blocks[0].runs] == ["年化利率 ", "3.65%", " a b"]
    assert blocks[1].marker == "•"


def test_lines_never_break_inside_a_number() -> None:
    html = "<p>" + "借款金额为人民币 123,456,789.01 元，" * 12 + "</p>"
    pdf = html_to_pdf(
        html,
        fonts=PdfFonts.discover(),
        language=ZH,
        created=datetime(2025, 1, 1, tzinfo=UTC),
        document_id="0" * 32,
        subject="s",
        author="a",
        footer="f",
    )
    assert pdf_text(pdf).count("123,456,789.01") == 12


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("100000", "壹拾万元整"),
        ("100001.05", "壹拾万零壹元零伍分"),
        ("1010", "壹仟零壹拾元整"),
        ("11000", "壹万壹仟元整"),
        ("100000100", "壹亿零壹佰元整"),
        ("10000001000", "壹佰亿零壹仟元整"),
        ("0.5", "伍角"),
        ("12.34", "壹拾贰元叁角肆分"),
        ("0", "零元整"),
    ],
)
def test_rmb_amount_in_capital_numerals(amount: str, words: str) -> None:
    assert rmb_upper(Decimal(amount)) == words
