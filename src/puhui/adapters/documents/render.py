"""Render e-contract templates to HTML and to a deterministic PDF (R-10.2(d), R-9.4, R-11.3).

Templates are Jinja2 files ``templates/<template_id>.<language>.html.j2`` whose front matter
(a Jinja comment) gives their version. Rendering refuses, by name, a variable the template does
not declare (``contract.unknown_variable``), one it declares but was not given
(``contract.missing_variable``) and one of the wrong type (``contract.invalid_variable``): the
declarations are the domain's :data:`~puhui.domain.evidence.contract.TEMPLATE_VARIABLES`, and
each template must use exactly the variables declared for it (checked when it is loaded), so a
template cannot silently leave out the fees or the annualized rate (R-G7).

The HTML is autoescaped; it is the single source of the PDF, which :mod:`.pdf` lays out from the
same HTML. The same inputs always give byte-identical PDF bytes (fixed dates, producer and
document id): those bytes' SM3 digest is what the customer signs and the bank seals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    UndefinedError,
    meta,
)
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context

from puhui.adapters.documents.pdf import PdfFonts, html_to_pdf
from puhui.domain.audit import HashAlgorithm, digest
from puhui.domain.errors import DomainError, ErrorKind, NotFound, ValidationError
from puhui.domain.evidence.contract import ContractTemplate, Language, TemplateId
from puhui.domain.money import Money

__all__ = [
    "TEMPLATE_DIR",
    "DocumentRenderer",
    "contract_template",
    "render_html",
    "render_pdf",
    "rmb_upper",
]

TEMPLATE_DIR: Final = Path(__file__).parent / "templates"
BEIJING: Final = timezone(timedelta(hours=8), "UTC+8")
_FRONT_MATTER: Final = re.compile(r"\A\{#---\n(?P<body>.*?)\n---#\}", re.S)
_UNDEFINED: Final = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
_SYSTEM_VARIABLES: Final = frozenset({"doc"})
_DOCUMENT_DATE: Final = ("offer_date", "authorization_date")  # the PDF's creation date
_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


# -- formatting (filters) ------------------------------------------------------------------


def _language(ctx: Context) -> str:
    return str(ctx["doc"]["language"])


_DIGITS: Final = "零壹贰叁肆伍陆柒捌玖"
_GROUPS: Final = ("", "万", "亿", "万亿")


def _upper_group(group: int) -> str:
    text, zero = "", False
    for size, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = group // size % 10
        if digit == 0:
            zero = bool(text)
        else:
            text += ("零" if zero else "") + _DIGITS[digit] + unit
            zero = False
    return text


def rmb_upper(amount: Decimal) -> str:
    """An RMB amount in Chinese capital numerals, as cheques and contracts write it:
    ``100001.05`` → ``壹拾万零壹元零伍分``; ``100000`` → ``壹拾万元整`` (支付结算办法)."""
    fen = int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    if fen < 0 or fen >= 10**16:
        raise ValidationError(
            "This amount cannot be written in words", code="contract.amount_range"
        )
    yuan, jiao, fen = fen // 100, fen // 10 % 10, fen % 10
    groups, text, gap = [], "", False
    while yuan:
        groups.append(yuan % 10000)
        yuan //= 10000
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(text)
            continue
        text += ("零" if text and (gap or group < 1000) else "") + _upper_group(group)
        text, gap = text + _GROUPS[index], False
    if text:
        text += "元"
    if jiao:
        text += _DIGITS[jiao] + "角"
    if fen:
        text += ("零" if text and not jiao else "") + _DIGITS[fen] + "分"
    return (text or "零元") + ("" if jiao or fen else "整")


@pass_context
def _money(ctx: Context, value: Money) -> str:
    return value.format(symbol=_language(ctx) == Language.ZH_CN.value)


def _amount(value: Money) -> str:
    return value.format(symbol=False).split(" ", 1)[1]


def _money_words(value: Money) -> str:
    if value.currency.code != "CNY":
        return value.format(symbol=False)
    return "人民币" + rmb_upper(value.amount)


def _percent(value: Decimal) -> str:
    """``0.1358`` → ``13.58%``; up to 4 decimals when 2 would round (``6.525%``)."""
    p = value * 100
    two = p.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if two == p:
        return f"{two}%"
    four = p.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP).normalize()
    return f"{four:f}%"


@pass_context
def _date(ctx: Context, value: date) -> str:
    if _language(ctx) == Language.ZH_CN.value:
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS[value.month - 1]} {value.year}"


@pass_context
def _instant(ctx: Context, value: datetime) -> str:
    local = value.astimezone(BEIJING)
    day = _date(ctx, local.date())
    if _language(ctx) == Language.ZH_CN.value:
        return f"{day} {local:%H:%M}（北京时间）"
    return f"{day}, {local:%H:%M} (Beijing time, UTC+8)"


def _total(rows: list[Mapping[str, Any]], key: str, currency: str) -> Money:
    total = Money.zero(currency)
    for row in rows:
        total = total + row[key]
    return total


# -- templates -----------------------------------------------------------------------------


def _canonical(value: object) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Money | Decimal | str | int):
        return str(value)
    raise ValidationError("Unsupported variable value", code="contract.invalid_variable")


def _template_invalid(name: str, message: str) -> DomainError:
    return DomainError(
        f"Template {name}: {message}",
        code="contract.template_invalid",
        kind=ErrorKind.UNAVAILABLE,
        details={"template": name},
    )


@dataclass(frozen=True, slots=True)
class _Loaded:
    meta: ContractTemplate
    file_name: str


class DocumentRenderer:
    """Renders the templates of one directory; :func:`render_html` / :func:`render_pdf` use
    the templates shipped with Puhui and the fonts found by :meth:`PdfFonts.discover`."""

    def __init__(self, template_dir: Path = TEMPLATE_DIR, fonts: PdfFonts | None = None) -> None:
        self._dir = template_dir
        self._fonts = fonts
        self._env = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(template_dir),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # what is rendered stays what was loaded, versioned and digested
        )
        self._env.filters.update(
            money=_money,
            amount=_amount,
            money_words=_money_words,
            percent=_percent,
            date=_date,
            instant=_instant,
            total=_total,
        )
        self._cache: dict[tuple[TemplateId, Language], _Loaded] = {}

    def template(self, template_id: str, language: str) -> ContractTemplate:
        """The template's metadata: version, language, declared variables, source digest."""
        return self._load(template_id, language).meta

    def _load(self, template_id: str, language: str) -> _Loaded:
        try:
            key = (TemplateId(template_id), Language(language))
        except ValueError:
            raise NotFound(
                f"No template {template_id!r} in language {language!r}",
                code="contract.unknown_template",
                details={"template_id": str(template_id)[:64], "language": str(language)[:16]},
            ) from None
        if key not in self._cache:
            self._cache[key] = self._read(*key)
        return self._cache[key]

    def _read(self, template_id: TemplateId, language: Language) -> _Loaded:
        name = f"{template_id.value}.{language.value}.html.j2"
        path = self._dir / name
        if not path.is_file():
            raise NotFound(f"Template file {name} is missing", code="contract.unknown_template")
        source = path.read_text(encoding="utf-8")
        front = _FRONT_MATTER.match(source)
        if front is None:
            raise _template_invalid(name, "no front matter ({#--- version: … ---#})")
        fields = dict(line.split(":", 1) for line in front["body"].splitlines() if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        if fields.get("template") != template_id or fields.get("language") != language:
            raise _template_invalid(name, "front matter does not match the file name")
        template = ContractTemplate.declared(template_id, fields.get("version", ""), language)
        sources = self._sources(name)
        used: set[str] = set()
        for text in sources.values():
            used |= meta.find_undeclared_variables(self._env.parse(text))
        declared = template.variable_names | _SYSTEM_VARIABLES
        if used != declared:
            raise _template_invalid(
                name,
                f"uses undeclared {sorted(used - declared)} / leaves out {sorted(declared - used)}",
            )
        joined = "\n".join(f"{n}\n{sources[n]}" for n in sorted(sources))
        source_digest = digest(joined.encode(), HashAlgorithm.SM3)
        return _Loaded(replace(template, source_digest=source_digest), name)

    def _sources(self, name: str) -> dict[str, str]:
        """The template and every template it extends or includes, by name."""
        sources: dict[str, str] = {}
        todo = [name]
        while todo:
            current = todo.pop()
            if current in sources:
                continue
            try:
                source = self._env.loader.get_source(self._env, current)[0]  # type: ignore[union-attr]
                ast = self._env.parse(source)
            except TemplateSyntaxError as exc:
                raise _template_invalid(current, f"line {exc.lineno}: {exc.message}") from exc
            except TemplateNotFound as exc:
                raise _template_invalid(name, f"{exc.name} is missing") from exc
            sources[current] = source
            todo += [n for n in meta.find_referenced_templates(ast) if n]
        return sources

    def render_html(self, template_id: str, language: str, variables: Mapping[str, object]) -> str:
        loaded = self._load(template_id, language)
        template = loaded.meta
        template.check_variables(variables)
        doc = {
            "template_id": template.template_id.value,
            "version": template.version,
            "language": template.language.value,
        }
        try:
            return self._env.get_template(loaded.file_name).render(dict(variables), doc=doc)
        except UndefinedError as exc:
            found = _UNDEFINED.search(str(exc))
            name = (found[1] or found[2]) if found else str(exc)
            declared = name in template.variable_names
            raise ValidationError(
                f"Template variable {name!r} is {'missing' if declared else 'not declared'}",
                code="contract.missing_variable" if declared else "contract.unknown_variable",
                details={"variable": name, "template_id": template.template_id.value},
            ) from None

    def render_pdf(self, template_id: str, language: str, variables: Mapping[str, object]) -> bytes:
        html = self.render_html(template_id, language, variables)
        template = self.template(template_id, language)
        document_date = next(
            (variables[k] for k in _DOCUMENT_DATE if isinstance(variables.get(k), date)), None
        )
        created = datetime.combine(
            document_date if isinstance(document_date, date) else date(2000, 1, 1),
            time(0, 0),
            BEIJING,
        )
        canonical = json.dumps(
            {
                "template": [template.template_id, template.version, template.language],
                "source": template.source_digest,
                "variables": _canonical(variables),
            },
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        document_id = digest(canonical.encode(), HashAlgorithm.SM3)[:32].upper()
        footer = _footer(template, variables)
        fonts = self._fonts or PdfFonts.discover()
        return html_to_pdf(
            html,
            fonts=fonts,
            language=template.language.value,
            created=created,
            document_id=document_id,
            subject=f"{template.template_id.value} {template.version} {template.language.value}",
            author=str(variables.get("lender_name", "")),
            footer=footer,
        )


def _footer(template: ContractTemplate, variables: Mapping[str, object]) -> str:
    number = next(
        (str(variables[k]) for k in ("notice_number", "contract_number", "authorization_number")
         if k in variables),
        "",
    )  # fmt: skip
    label = "编号" if template.language is Language.ZH_CN else "No."
    return f"{label} {number} · {template.template_id.value} v{template.version}"


@lru_cache(maxsize=1)
def _default() -> DocumentRenderer:
    return DocumentRenderer()


def contract_template(template_id: str, language: str) -> ContractTemplate:
    """Metadata of a shipped template (version, declared variables, source digest)."""
    return _default().template(template_id, language)


def render_html(template_id: str, language: str, variables: Mapping[str, object]) -> str:
    """The contract as escaped HTML (for the signing page and the archive)."""
    return _default().render_html(template_id, language, variables)


def render_pdf(template_id: str, language: str, variables: Mapping[str, object]) -> bytes:
    """The contract as PDF bytes; the same inputs always give the same bytes."""
    return _default().render_pdf(template_id, language, variables)
