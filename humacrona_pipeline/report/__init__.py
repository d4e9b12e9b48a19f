"""The sync report: the data (`summary`), the HTML page and plain text (`html`) and the email
(`email_message`). Pure Python and Jinja2; no Dagster, no HTTP."""

from .email_message import build_email
from .html import render_html, render_text, write_html
from .summary import SyncReport, build_report

__all__ = ["SyncReport", "build_email", "build_report", "render_html", "render_text", "write_html"]
