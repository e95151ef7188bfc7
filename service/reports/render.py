"""Jinja2 pages and their PDF: one environment, the stylesheet inlined, WeasyPrint with the system's CJK fonts.

Pages need nothing from the network: charts are inline SVG and the stylesheet is inlined, so the same HTML
renders in a browser, in the PDF engine and in a saved file. The PDF uses Debian's Noto CJK fonts (package
`fonts-noto-cjk`, installed by `scripts/os-deps.sh`); without them Chinese text would come out as boxes, which
`tests/service/test_reports_pdf.py` checks for.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

HERE: Final = Path(__file__).parent
TEMPLATES: Final = ("household", "region", "model", "login", "error")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,  # a missing value is an error, never an empty label
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["css"] = Markup((HERE / "static" / "report.css").read_text(encoding="utf-8"))
    return env


def render_page(template: str, context: dict[str, Any], urls: dict[str, str] | None = None) -> str:
    """The page `template` (one of `TEMPLATES`) filled with `context`."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown report template {template!r}")
    return environment().get_template(f"{template}.html").render(**context, urls=urls or {})


def html_to_pdf(html: str) -> bytes:
    """The page as PDF (A4), rendered by WeasyPrint; the page needs no external resources."""
    from weasyprint import HTML

    pdf: bytes = HTML(string=html, base_url=str(HERE)).write_pdf()
    return pdf
