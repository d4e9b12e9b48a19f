"""Email as a Dagster resource: SMTP with STARTTLS and login when a host is set, else an outbox folder; and
the administrator it goes to, with the time zone their report shows times in.

Settings arrive through environment variables (`email_resource_from_env`), each only when set, so the code
location loads on a machine with none of them (mail then goes to ``<DAGSTER_HOME>/outbox`` as ``.eml``
files). The password is never logged, and the resource's repr does not show it."""

from __future__ import annotations

import os
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import dagster as dg
from pydantic import Field, field_validator

from ...connection.connections import Connection
from ...report.times import DEFAULT_TIMEZONE, TIMEZONE_ENV, time_zone
from ...state.files import write_private
from ...state.home import dagster_home
from ..partitions import PerConnection

DEFAULT_SENDER = "humacrona@localhost"
OUTBOX = "outbox"
ENV_VARIABLES = {
    "smtp_host": "HUMACRONA_SMTP_HOST",
    "smtp_port": "HUMACRONA_SMTP_PORT",
    "smtp_username": "HUMACRONA_SMTP_USERNAME",
    "smtp_password": "HUMACRONA_SMTP_PASSWORD",
    "sender": "HUMACRONA_EMAIL_FROM",
    "admin_address": "HUMACRONA_ADMIN_EMAIL",
    "timezone": TIMEZONE_ENV,
}
NO_RECIPIENT = f"(no recipient configured: set {ENV_VARIABLES['admin_address']})"


class EmailResource(PerConnection, dg.ConfigurableResource):
    """Where sync reports are mailed: an SMTP server (STARTTLS, login) or, without a host, an outbox folder."""

    smtp_host: str | None = Field(default=None, description="SMTP server; unset: write .eml files to outbox_dir.")
    smtp_port: int = Field(default=587, description="SMTP port (587: submission with STARTTLS).")
    smtp_username: str | None = Field(default=None, description="Login name; unset: no login.")
    smtp_password: str | None = Field(default=None, repr=False, description="Login password (never logged).")
    starttls: bool = Field(default=True, description="Upgrade the connection with STARTTLS before login.")
    ssl_ca_file: str | None = Field(
        default=None, description="A CA bundle to trust for STARTTLS instead of the system's (a private relay).")
    timeout_s: float = Field(default=30.0, description="SMTP connection timeout in seconds.")
    sender: str = Field(default=DEFAULT_SENDER, description="The From address.")
    admin_address: str | None = Field(default=None, description="Who receives the sync report.")
    timezone: str = Field(default=DEFAULT_TIMEZONE,
                          description="The administrator's time zone (IANA name): the report's times are shown in it.")
    outbox_dir: str | None = Field(default=None, description="Folder for .eml files; unset: <DAGSTER_HOME>/outbox.")

    def for_connection(self, connection: Connection) -> EmailResource:
        """The same mail server; the connection's report goes to its `report_to`."""
        return self.model_copy(update={"admin_address": connection.report_to})

    def __repr__(self) -> str:  # never the password, whatever pydantic or Dagster would print
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in (
            "smtp_host", "smtp_port", "smtp_username", "starttls", "sender", "admin_address", "timezone",
            "outbox_dir"))
        return f"EmailResource({shown}, smtp_password={'***' if self.smtp_password else None})"

    __str__ = __repr__

    @field_validator("timezone", mode="before")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # An EnvVar is checked once resolved, when a run starts (this runs again then); `email_resource_from_env`
        # checks the variable earlier, when the code location loads.
        if not isinstance(value, dg.EnvVar):
            time_zone(value)
        return value

    def recipient(self, message: EmailMessage | None = None) -> str:
        """Who the message goes to (its To, else the admin address), or what to set when nobody is configured."""
        addressed = message["To"] if message is not None else None
        return addressed or self.admin_address or NO_RECIPIENT

    def outbox_path(self) -> Path:
        return Path(self.outbox_dir) if self.outbox_dir else dagster_home() / OUTBOX

    def send(self, message: EmailMessage) -> str:
        """Send ``message``; where it went: ``smtp://host:port`` or the path of the written ``.eml`` file. A message
        without a To header is addressed to the configured admin address, by SMTP and in the outbox alike."""
        if self.admin_address and not message["To"]:
            message["To"] = self.admin_address
        if self.smtp_host:
            return self._send_smtp(message)
        return self._write_outbox(message)

    def _send_smtp(self, message: EmailMessage) -> str:
        if not any(message.get_all(h) for h in ("To", "Cc", "Bcc")):
            raise ValueError(f"the message has no recipient; set {ENV_VARIABLES['admin_address']} (admin_address)")
        where = f"smtp://{self.smtp_host}:{self.smtp_port}"
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_s) as smtp:
            smtp.ehlo()
            if self.starttls:
                context = ssl.create_default_context(cafile=self.ssl_ca_file)
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.smtp_username:
                try:
                    smtp.login(self.smtp_username, self.smtp_password or "")
                except smtplib.SMTPAuthenticationError as error:  # the server's answer, never the password
                    answer = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) \
                        else str(error.smtp_error)
                    raise smtplib.SMTPAuthenticationError(
                        error.smtp_code, f"{where} refused the login of {self.smtp_username}: {answer}") from None
            smtp.send_message(message)
        dg.get_dagster_logger().info(f"sent '{message['Subject']}' to {message['To']} via {where}")
        return where

    def _write_outbox(self, message: EmailMessage) -> str:
        folder = self.outbox_path()
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        write_private(path, message.as_bytes(policy=SMTP_POLICY))  # owner only; never half a message
        dg.get_dagster_logger().info(f"wrote '{message['Subject']}' for {self.recipient(message)} to {path}")
        return str(path)


def email_resource_from_env() -> EmailResource:
    """The resource bound to `HUMACRONA_SMTP_*`, `HUMACRONA_EMAIL_FROM`, `HUMACRONA_ADMIN_EMAIL` and
    `HUMACRONA_TIMEZONE`, each only when set (unset: the default; no host: the outbox). An unknown time zone
    stops the code location from loading, with one line saying so, before any run could write anything."""
    configured_zone = os.environ.get(TIMEZONE_ENV, "").strip()
    if configured_zone:
        time_zone(configured_zone)
    settings: dict = {}
    for option, variable in ENV_VARIABLES.items():
        if os.environ.get(variable, "").strip():
            settings[option] = dg.EnvVar.int(variable) if option == "smtp_port" else dg.EnvVar(variable)
    return EmailResource(**settings)
