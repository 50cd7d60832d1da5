"""Contract documents: versioned templates rendered to HTML and to a deterministic PDF.

R-10.2(d) contract generation; R-11.3(d,e) key terms highlighted, rights, obligations and how to
change or end the contract; R-11.2 authorization clauses; R-9.4 the PDF's digest is signed.
"""

from puhui.adapters.documents.pdf import PdfFonts
from puhui.adapters.documents.render import (
    TEMPLATE_DIR,
    DocumentRenderer,
    contract_template,
    render_html,
    render_pdf,
    rmb_upper,
)

__all__ = [
    "TEMPLATE_DIR",
    "DocumentRenderer",
    "PdfFonts",
    "contract_template",
    "render_html",
    "render_pdf",
    "rmb_upper",
]
