"""Explanation reports for officials: household, region and model pages in Chinese and English, HTML and PDF.

`build` makes a report's context from the service's state (scope-checked), `render` turns it into HTML or
PDF, `i18n` holds the message catalogues, `charts` draws inline SVG, `drift` computes feature PSI, `auth`
signs report sessions and links.
"""

from service.reports.build import household_report, model_report, region_report
from service.reports.i18n import DEFAULT_LANG, LANGS, Lang, Messages, parse_lang
from service.reports.render import html_to_pdf, render_page

__all__ = [
    "DEFAULT_LANG",
    "LANGS",
    "Lang",
    "Messages",
    "household_report",
    "html_to_pdf",
    "model_report",
    "parse_lang",
    "region_report",
    "render_page",
]
