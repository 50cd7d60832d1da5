"""The product catalogue: ``PUHUI_PRODUCTS_FILE`` (JSON), or the one shipped with Puhui."""

from __future__ import annotations

import json
from pathlib import Path

from puhui.domain.errors import ValidationError
from puhui.domain.lending.products import LoanProduct, product_from_mapping

DEFAULT_CATALOGUE = Path(__file__).resolve().parents[1] / "config" / "products.json"


def load_catalogue(path: str | Path | None = None) -> dict[str, LoanProduct]:
    source = Path(path) if path else DEFAULT_CATALOGUE
    try:
        entries = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValidationError(
            f"cannot read the product catalogue {source}: {err}",
            code="product.catalogue_unreadable",
        ) from None
    products = [product_from_mapping(e) for e in entries]
    codes = [p.code for p in products]
    if len(set(codes)) != len(codes):
        raise ValidationError("duplicate product codes", code="product.duplicate_code")
    return {p.code: p for p in products}
