"""The sync report as an email: the outcome counts in the subject, plain text with an HTML alternative, and no
attachment (a PAXml import file is named by its path, never sent)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..core.display import visible
from .summary import SyncReport


def build_email(report: SyncReport, *, sender: str, to: str | None, html: str, text: str) -> EmailMessage:
    """A multipart/alternative message: ``text`` first, ``html`` as the alternative mail clients prefer."""
    message = EmailMessage()
    message["Subject"] = visible(report.subject())  # a header: nothing hidden, no line break
    message["From"] = sender
    if to:  # no recipient (no admin address configured): fine for the outbox, refused by SMTP
        message["To"] = to
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2].strip(" >") or None
    message["Message-ID"] = make_msgid("humacrona-sync", domain=domain)
    message["X-Humacrona-Run-Id"] = visible(report.run_id)
    # Nothing is attached, the PAXml import file least of all: it holds full salary accounts, which travel
    # nowhere but the write itself. The report's text and HTML name the file by its full path instead.
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message
