"""Lay out contract HTML as a deterministic PDF with fpdf2 (R-9.4: the digest of these bytes is
what is signed, so the same HTML must always give the same bytes).

Only the small HTML vocabulary the contract templates use is accepted — headings ``h1``-``h3``,
``p``, ``ul``/``ol``/``li``, ``table`` (``thead``/``tbody``/``tr``/``th``/``td``, ``class="num"``
right-aligns, ``data-widths`` sets column weights), inline ``strong``/``b``/``mark``/``span``
and ``section class="key-term"`` — so nothing in a template can be silently dropped from the
signed PDF; any other tag is refused (``contract.template_invalid``).

Key terms (R-11.3): a ``key-term`` section gets a tinted background and a red bar in the margin;
``mark`` gets a yellow background, bold dark-red text. Lines are broken by a small typesetter
that may break between CJK characters and at spaces, never inside a number or a word, and keeps
closing punctuation off the start of a line (避头尾).

Fonts: a Latin TrueType font (regular and bold, DejaVu Sans by default, Debian
``fonts-dejavu-core``) with a CJK TrueType fallback (Droid Sans Fallback, Debian
``fonts-droid-fallback``); override with ``PUHUI_PDF_FONT_CJK``, ``PUHUI_PDF_FONT_LATIN``,
``PUHUI_PDF_FONT_LATIN_BOLD``. Missing fonts → ``contract.font_missing``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Final, NamedTuple

from fpdf import FPDF
from fpdf.fonts import FontFace, TTFFont

from puhui.domain.errors import DomainError, ErrorKind

__all__ = ["PdfFonts", "html_to_pdf", "parse_blocks"]

_DROID: Final = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
_DEJAVU: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
_DEJAVU_BOLD: Final = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
_PACKAGES: Final = {"cjk": "fonts-droid-fallback", "latin": "fonts-dejavu-core"}


@dataclass(frozen=True, slots=True)
class PdfFonts:
    """Paths of the TrueType fonts the PDF embeds (subsetted)."""

    cjk: Path
    latin: Path
    latin_bold: Path

    @classmethod
    def discover(cls, environ: Mapping[str, str] = os.environ) -> PdfFonts:
        fonts = cls(
            cjk=Path(environ.get("PUHUI_PDF_FONT_CJK") or _DROID),
            latin=Path(environ.get("PUHUI_PDF_FONT_LATIN") or _DEJAVU),
            latin_bold=Path(environ.get("PUHUI_PDF_FONT_LATIN_BOLD") or _DEJAVU_BOLD),
        )
        fonts.check()
        return fonts

    def check(self) -> None:
        for role in ("cjk", "latin", "latin_bold"):
            path: Path = getattr(self, role)
            if not path.is_file():
                package = _PACKAGES["cjk" if role == "cjk" else "latin"]
                raise DomainError(
                    f"The {role} font for contract PDFs is missing: {path} (install the Debian "
                    f"package {package} or set PUHUI_PDF_FONT_{role.upper()})",
                    code="contract.font_missing",
                    kind=ErrorKind.UNAVAILABLE,
                    details={"role": role, "path": str(path), "package": package},
                )


# -- HTML → blocks -------------------------------------------------------------------------


class Run(NamedTuple):
    text: str
    bold: bool = False
    mark: bool = False


class Cell(NamedTuple):
    text: str
    header: bool
    numeric: bool


@dataclass(slots=True)
class Block:
    """One laid-out unit: a heading, paragraph, list item or table, and whether it is key."""

    kind: str  # h1 h2 h3 p li table key-start key-end
    runs: list[Run] = field(default_factory=list)
    marker: str = ""
    align: str = "L"
    key: bool = False
    rows: list[list[Cell]] = field(default_factory=list)
    widths: tuple[int, ...] = ()


_TEXT_BLOCKS: Final = frozenset({"h1", "h2", "h3", "p", "li"})
_CONTAINERS: Final = frozenset({"html", "body", "article", "section", "header", "footer", "div"})
_INLINE: Final = frozenset({"strong", "b", "mark", "span"})
_TABLE: Final = frozenset({"table", "thead", "tbody", "tr", "th", "td"})
_SKIPPED: Final = frozenset({"head", "style", "title", "meta"})
_CJK: Final = "\u2e80-\u2fff\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_BETWEEN_CJK: Final = re.compile(rf"(?<=[{_CJK}])[^\S\n]*\n\s*(?=[{_CJK}])")
_IS_CJK: Final = re.compile(rf"[{_CJK}]")


def _invalid(message: str) -> DomainError:
    return DomainError(message, code="contract.template_invalid", kind=ErrorKind.UNAVAILABLE)


class _BlockParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._key = 0
        self._sections: list[bool] = []
        self._block: Block | None = None
        self._bold = self._mark = 0
        self._lists: list[list[int]] = []  # per open list: [ordered, counter]
        self._table: Block | None = None
        self._cell: list[str] | None = None
        self._cell_kind: tuple[bool, bool] = (False, False)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag in _SKIPPED or self._skip:
            self._skip += tag in ("head", "style")
            self._in_title = self._in_title or tag == "title"
        elif tag == "section":
            self._sections.append("key-term" in classes)
            if "key-term" in classes:
                self._key += 1
                self.blocks.append(Block("key-start"))
        elif tag in _CONTAINERS:
            pass
        elif tag in ("ul", "ol"):
            self._lists.append([tag == "ol", 0])
        elif tag in _TEXT_BLOCKS:
            marker = ""
            if tag == "li" and self._lists:
                self._lists[-1][1] += 1
                ordered, number = self._lists[-1]
                marker = f"{number}." if ordered else "•"
            align = "C" if "center" in classes else "R" if "right" in classes else "L"
            self._block = Block(tag, marker=marker, align=align, key=self._key > 0)
        elif tag in _TABLE:
            if tag == "table":
                widths = tuple(int(w) for w in a.get("data-widths", "").split())
                self._table = Block("table", key=self._key > 0, widths=widths)
            elif tag == "tr" and self._table is not None:
                self._table.rows.append([])
            elif tag in ("th", "td"):
                self._cell, self._cell_kind = [], (tag == "th", "num" in classes)
        elif tag in _INLINE:
            self._bold += tag in ("strong", "b")
            self._mark += tag == "mark"
        else:
            raise _invalid(f"Contract templates may not use <{tag}> (it would not reach the PDF)")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED or self._skip:
            self._skip -= tag in ("head", "style")
            self._in_title = self._in_title and tag != "title"
        elif tag == "section" and self._sections and self._sections.pop():
            self._key -= 1
            self.blocks.append(Block("key-end"))
        elif tag in ("ul", "ol") and self._lists:
            self._lists.pop()
        elif tag in _TEXT_BLOCKS and self._block is not None:
            self._block.runs = _trim(self._block.runs)
            if self._block.runs:
                self.blocks.append(self._block)
            self._block = None
        elif tag in ("th", "td") and self._cell is not None and self._table is not None:
            text = " ".join(_BETWEEN_CJK.sub("", "".join(self._cell)).split())
            self._table.rows[-1].append(Cell(text, *self._cell_kind))
            self._cell = None
        elif tag == "table" and self._table is not None:
            self.blocks.append(self._table)
            self._table = None
        elif tag in _INLINE:
            self._bold -= tag in ("strong", "b")
            self._mark -= tag == "mark"

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data.strip()
        elif self._skip:
            return
        elif self._cell is not None:
            self._cell.append(data)
        elif self._block is not None:
            self._block.runs.append(Run(data, *self._style))
        elif data.strip():
            raise _invalid(f"Text outside a paragraph, heading, list item or cell: {data[:40]!r}")

    @property
    def _style(self) -> tuple[bool, bool]:
        return self._bold > 0 or self._mark > 0, self._mark > 0


def _trim(runs: list[Run]) -> list[Run]:
    """Collapse whitespace across runs as HTML does; a line break between two CJK characters
    (a wrapped source line) disappears, a typed space stays."""
    chars = [(c, run) for run in runs for c in run.text]
    kept: list[tuple[str, Run]] = []
    index = 0
    while index < len(chars):
        char, run = chars[index]
        if not char.isspace():
            kept.append((char, run))
            index += 1
            continue
        end = index
        while end < len(chars) and chars[end][0].isspace():
            end += 1
        gap = "".join(c for c, _ in chars[index:end])
        before = kept[-1][0] if kept else ""
        after = chars[end][0] if end < len(chars) else ""
        wrapped = "\n" in gap and _IS_CJK.match(before) and _IS_CJK.match(after)
        if before and after and not wrapped:
            kept.append((" ", run))
        index = end
    out: list[Run] = []
    for char, run in kept:
        if out and (out[-1].bold, out[-1].mark) == (run.bold, run.mark):
            out[-1] = out[-1]._replace(text=out[-1].text + char)
        else:
            out.append(run._replace(text=char))
    return out


def parse_blocks(html: str) -> tuple[str, list[Block]]:
    """The document title and its blocks, in order."""
    parser = _BlockParser()
    parser.feed(html)
    parser.close()
    return parser.title, parser.blocks


# -- line breaking ---------------------------------------------------------------------------

_OPEN: Final = "（《“‘「『【〔([{"
_CLOSE: Final = "，。、；：！？）》”’」』】〕,.;:!?)]}%％"
_O, _C = re.escape(_OPEN), re.escape(_CLOSE)
_TOKEN: Final = re.compile(rf"\s+|[{_O}]*(?:[{_CJK}]|[^\s{_CJK}{_O}{_C}]+)[{_C}]*|[{_O}{_C}]+")


def _glued(left: str, right: str) -> bool:
    """No line break allowed between two adjacent tokens."""
    if left[-1] in _OPEN or right[0] in _CLOSE:
        return True
    return not _IS_CJK.match(left[-1]) and not _IS_CJK.match(right[0])


Line = list[Run]

# -- layout ----------------------------------------------------------------------------------

_SIZES: Final = {"h1": 16.0, "h2": 11.5, "h3": 10.5, "p": 10.0, "li": 10.0, "table": 8.5}
_KEY_FILL: Final = (255, 248, 225)
_KEY_BAR: Final = (192, 0, 0)
_MARK_FILL: Final = (255, 224, 102)
_MARK_TEXT: Final = (150, 0, 0)
_LEADING: Final = 1.55
_KEY_INDENT: Final = 3.5
_LIST_INDENT: Final = 6.0


class _ContractPdf(FPDF):
    """fpdf2 with explicit fonts per script: each text piece is drawn in the Latin font or the
    CJK font chosen here (fpdf2's own fallback is only switched on inside tables), and the font
    is re-emitted before every piece, so the page's font state cannot drift."""

    def __init__(self, fonts: PdfFonts, footer: str, language: str, document_id: str) -> None:
        super().__init__(format="A4", unit="mm")
        self._footer_text = footer
        self._zh = language == "zh-CN"
        self._id = document_id
        self._widths: dict[tuple[str, bool, float], float] = {}
        self.add_font("latin", "", str(fonts.latin))
        self.add_font("latin", "B", str(fonts.latin_bold))
        self.add_font("cjk", "", str(fonts.cjk))
        latin, bold = self.fonts["latin"], self.fonts["latinB"]
        assert isinstance(latin, TTFFont) and isinstance(bold, TTFFont)
        self._latin = frozenset(latin.cmap) & frozenset(bold.cmap)
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(True, margin=18)
        self.c_margin = 0

    def file_id(self) -> str:
        return f"<{self._id}><{self._id}>"

    def footer(self) -> None:
        label = "页码" if self._zh else "Page"
        text = f"{self._footer_text}    {label} {self.page_no()}/{{nb}}"
        self.set_text_color(110)
        width = self._width(text.replace("{nb}", "99"), False, 7.5)
        self._draw(Run(text), (self.w - width) / 2, self.h - 12, 5, 7.5)

    def _segments(self, text: str) -> list[tuple[str, bool]]:
        """``text`` cut into pieces drawn with one font each: (piece, needs the CJK font)."""
        pieces: list[tuple[str, bool]] = []
        for char in text:
            cjk = ord(char) not in self._latin and not char.isspace()
            if pieces and (pieces[-1][1] == cjk or char.isspace()):
                pieces[-1] = (pieces[-1][0] + char, pieces[-1][1])
            else:
                pieces.append((char, cjk))
        return pieces

    def _font(self, cjk: bool, bold: bool, size: float) -> None:
        self.set_font("cjk" if cjk else "latin", "" if cjk or not bold else "B", size)
        self.current_font_is_set_on_page = False  # re-emit Tf: never trust the page's state

    def _width(self, text: str, bold: bool, size: float) -> float:
        key = (text, bold, size)
        if key not in self._widths:
            width = 0.0
            for piece, cjk in self._segments(text):
                self._font(cjk, bold, size)
                width += self.get_string_width(piece)
            self._widths[key] = width
        return self._widths[key]

    def lines(self, runs: list[Run], width: float, size: float) -> list[Line]:
        """Greedy line filling over clusters of tokens that may not be split."""
        clusters: list[list[Run]] = []
        for run in runs:
            for token in _TOKEN.findall(run.text):
                piece = run._replace(text=token)
                last = clusters[-1][-1].text if clusters else ""
                if token.isspace():
                    clusters.append([piece._replace(text=" ")])
                elif last and not last.isspace() and _glued(last, token):
                    clusters[-1].append(piece)
                else:
                    clusters.append([piece])
        lines: list[Line] = [[]]
        used = 0.0
        for cluster in clusters:
            w = sum(self._width(r.text, r.bold, size) for r in cluster)
            if cluster[0].text == " " and not lines[-1]:
                continue
            if used + w > width and lines[-1] and cluster[0].text != " ":
                lines.append([])
                used = 0.0
            if w > width:  # a word longer than the line: break it anywhere
                cluster = [r._replace(text=c) for r in cluster for c in r.text]
            for r in cluster:
                rw = self._width(r.text, r.bold, size)
                if used + rw > width and lines[-1] and r.text != " ":
                    lines.append([])
                    used = 0.0
                lines[-1].append(r)
                used += rw
        return [_strip_spaces(line) for line in lines if line]

    def text_block(self, block: Block) -> None:
        size = _SIZES[block.kind]
        height = size * 0.3528 * _LEADING
        left = self.l_margin + (_KEY_INDENT if block.key else 0)
        indent = _LIST_INDENT if block.kind == "li" else 0
        width = self.w - self.r_margin - left - indent - (1.5 if block.key else 0)
        heading = block.kind.startswith("h")
        runs = [r._replace(bold=True) for r in block.runs] if heading else block.runs
        lines = self.lines(runs, width, size)
        if block.kind in ("h2", "h3") and self.y + height * 3 > self.page_break_trigger:
            self.add_page()
        self.ln(2.5 if block.kind == "h2" else 0.8)
        for index, line in enumerate(lines):
            if self.y + height > self.page_break_trigger:
                self.add_page()
            y = self.y
            if block.key:
                self.set_fill_color(*_KEY_FILL)
                self.rect(self.l_margin, y, self.w - self.l_margin - self.r_margin, height, "F")
            if index == 0 and block.marker:
                self._draw(Run(block.marker), left, y, height, size)
            line_width = sum(self._width(r.text, r.bold, size) for r in line)
            x = left + indent
            if block.align != "L" or block.kind == "h1":
                x += (width - line_width) / (1 if block.align == "R" else 2)
            for run in line:
                x += self._draw(run, x, y, height, size)
            self.set_xy(self.l_margin, y + height)
        self.ln(3.0 if block.kind == "h1" else 0.8)

    def _draw(self, run: Run, x: float, y: float, h: float, size: float) -> float:
        """Draw one run at (x, y); a marked run gets its highlight first. Returns its width."""
        start = x
        if run.mark:
            self.set_fill_color(*_MARK_FILL)
            self.rect(x, y + 0.4, self._width(run.text, run.bold, size), h - 0.8, "F")
            self.set_text_color(*_MARK_TEXT)
        for piece, cjk in self._segments(run.text):
            self._font(cjk, run.bold, size)
            w = self.get_string_width(piece)
            self.set_xy(x, y)
            if cjk and run.bold:  # no bold CJK face: stroke the outline as well (faux bold)
                color = _MARK_TEXT if run.mark else (0, 0, 0)
                with self.local_context(text_mode="FILL_STROKE", line_width=0.12, draw_color=color):
                    self._font(cjk, run.bold, size)
                    self.cell(w, h, piece)
            else:
                self.cell(w, h, piece)
            x += w
        self.set_text_color(0)
        return x - start

    def table_block(self, block: Block) -> None:
        self.set_fallback_fonts(["cjk"], exact_match=False)
        self._font(False, False, _SIZES["table"])
        self.set_fill_color(255)
        self.set_text_color(0)
        self.ln(1.0)
        left = self.l_margin + (_KEY_INDENT if block.key else 0)
        self.set_x(left)
        header = bool(block.rows) and all(c.header for c in block.rows[0])
        columns = max(len(r) for r in block.rows)
        widths = block.widths if len(block.widths) == columns else (1,) * columns
        with self.table(
            width=self.w - self.r_margin - left - (1.5 if block.key else 0),
            col_widths=widths,
            first_row_as_headings=header,
            headings_style=FontFace(emphasis="B", fill_color=(235, 235, 235)),
            line_height=_SIZES["table"] * 0.3528 * 1.45,
            padding=(0.8, 1.2),
            align="L",
            repeat_headings=1,
            wrapmode="CHAR" if self._zh else "WORD",
        ) as table:
            for cells in block.rows:
                row = table.row()
                for c in cells:
                    style = FontFace(emphasis="B", fill_color=(245, 245, 245)) if c.header else None
                    row.cell(c.text, align="R" if c.numeric else "L", style=style)
        self.set_fallback_fonts([])
        self.ln(1.5)

    def key_bar(self, start: tuple[int, float]) -> None:
        """The red margin bar beside a key-term section, on every page it spans."""
        end_page, end_y = self.page, self.y
        for page in range(start[0], end_page + 1):
            self.page = page
            self.set_fill_color(*_KEY_BAR)  # colour operators go to the page being drawn on
            top = start[1] if page == start[0] else self.t_margin
            bottom = end_y if page == end_page else self.page_break_trigger
            self.rect(self.l_margin, top, 1.0, max(bottom - top, 0), "F")
        self.page = end_page


def _strip_spaces(line: Line) -> Line:
    """Drop trailing spaces and join neighbouring pieces of the same style (one cell each)."""
    while line and line[-1].text == " ":
        line = line[:-1]
    merged: Line = []
    for run in line:
        if merged and (merged[-1].bold, merged[-1].mark) == (run.bold, run.mark):
            merged[-1] = merged[-1]._replace(text=merged[-1].text + run.text)
        else:
            merged.append(run)
    return merged


def html_to_pdf(
    html: str,
    *,
    fonts: PdfFonts,
    language: str,
    created: datetime,
    document_id: str,
    subject: str,
    author: str,
    footer: str,
) -> bytes:
    """Lay the contract HTML out on A4 pages; deterministic for the same arguments."""
    fonts.check()
    title, blocks = parse_blocks(html)
    pdf = _ContractPdf(fonts, footer, language, document_id)
    pdf.set_creation_date(created)
    pdf.set_producer("Puhui e-contract renderer")
    pdf.set_creator("Puhui")
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_author(author)
    pdf.set_lang(language)
    pdf.add_page()
    starts: list[tuple[int, float]] = []
    for block in blocks:
        if block.kind == "key-start":
            if pdf.y + 25 > pdf.page_break_trigger:
                pdf.add_page()
            starts.append((pdf.page, pdf.y))
        elif block.kind == "key-end":
            pdf.key_bar(starts.pop())
            pdf.ln(2.0)
        elif block.kind == "table":
            pdf.table_block(block)
        else:
            pdf.text_block(block)
    return bytes(pdf.output())
