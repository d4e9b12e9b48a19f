"""EmailResource: a real SMTP server on 127.0.0.1 (aiosmtpd, STARTTLS with a self-signed certificate made
here, AUTH LOGIN and PLAIN) receives the report; without a host the message lands in the outbox as .eml."""

from __future__ import annotations

import email
import shutil
import smtplib
import ssl
import subprocess
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from humacrona_pipeline.defs.email import ENV_VARIABLES, EmailResource, email_resource_from_env

USER, PASSWORD = "humacrona", "pw-Tr0ub4dor&3-never-logged"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (key, cert)."""
    if shutil.which("openssl") is None:
        pytest.fail("the openssl command is needed to make the test certificate", pytrace=False)
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


class Inbox:
    """What the server received, with how the session was secured and authenticated."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"content": envelope.content, "from": envelope.mail_from, "to": envelope.rcpt_tos,
                              "tls": session.ssl is not None, "authenticated": session.authenticated})
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((mechanism, auth_data.login.decode()))
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 on failure


class EphemeralController(Controller):
    """aiosmtpd's Controller on port 0: the port the OS picked is read back before the first connection."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture(params=["PLAIN", "LOGIN"])
def smtp_server(request, certificate):
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    excluded = [m for m in ("PLAIN", "LOGIN") if m != request.param]
    controller = EphemeralController(inbox, hostname="127.0.0.1", port=0, tls_context=context,
                                     require_starttls=True, authenticator=inbox.authenticate, auth_required=True,
                                     auth_exclude_mechanism=excluded)
    controller.start()
    try:
        yield controller, inbox, request.param, cert
    finally:
        controller.stop()


def message(subject: str = "humacrona sync: 12 applied, 1 failed, 0 unverified") -> EmailMessage:
    m = EmailMessage()
    m["Subject"] = subject
    m["From"] = "humacrona@nordljus.se"
    m["To"] = "admin@nordljus.se"
    m.set_content("applied 12, failed 1\nsalary account •••• 7897\n")
    m.add_alternative("<html><body><p>applied 12, failed 1</p><p>&lt;b&gt;</p></body></html>", subtype="html")
    return m


def parts(raw: bytes) -> tuple[EmailMessage, str, str]:
    parsed = email.message_from_bytes(raw, policy=email_policy.default)
    text, html = (parsed.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html"))
    return parsed, text, html


def test_sends_over_starttls_with_login(smtp_server, caplog):
    controller, inbox, mechanism, cert = smtp_server
    resource = EmailResource(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_username=USER,
                             smtp_password=PASSWORD, ssl_ca_file=str(cert), sender="humacrona@nordljus.se",
                             admin_address="admin@nordljus.se")
    caplog.set_level("DEBUG")
    assert resource.send(message()) == f"smtp://127.0.0.1:{controller.port}"
    assert inbox.logins == [(mechanism, USER)]
    (received,) = inbox.messages
    assert received["tls"] and received["authenticated"]
    assert received["from"] == "humacrona@nordljus.se" and received["to"] == ["admin@nordljus.se"]
    parsed, text, html = parts(received["content"])
    assert parsed["Subject"] == "humacrona sync: 12 applied, 1 failed, 0 unverified"
    assert text == "applied 12, failed 1\nsalary account •••• 7897\n"
    assert "<p>applied 12, failed 1</p>" in html
    assert PASSWORD not in caplog.text
    assert PASSWORD not in repr(resource) and PASSWORD not in str(resource)


def test_wrong_password_is_refused_without_echoing_it(smtp_server, caplog):
    controller, inbox, _, cert = smtp_server
    resource = EmailResource(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_username=USER,
                             smtp_password="wrong-" + PASSWORD, ssl_ca_file=str(cert))
    with pytest.raises(smtplib.SMTPAuthenticationError) as raised:
        resource.send(message())
    assert PASSWORD not in str(raised.value) and PASSWORD not in caplog.text
    assert not inbox.messages


def test_untrusted_certificate_is_refused(smtp_server):
    controller, inbox, _, _ = smtp_server
    resource = EmailResource(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_username=USER,
                             smtp_password=PASSWORD)  # the self-signed certificate is not trusted
    with pytest.raises(ssl.SSLError):
        resource.send(message())
    assert not inbox.messages


def test_outbox_fallback_writes_a_parseable_eml(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    for variable in ENV_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    where = EmailResource().send(message())
    assert where.startswith(str(tmp_path / "home" / "outbox")) and where.endswith(".eml")
    (path,) = (tmp_path / "home" / "outbox").iterdir()
    assert str(path) == where
    parsed, text, html = parts(path.read_bytes())
    assert parsed["Subject"] == "humacrona sync: 12 applied, 1 failed, 0 unverified"
    assert parsed["To"] == "admin@nordljus.se"
    assert "salary account •••• 7897" in text and "<p>&lt;b&gt;</p>" in html
    other = EmailResource(outbox_dir=str(tmp_path / "mail")).send(message("second"))
    assert other.startswith(str(tmp_path / "mail"))


def test_smtp_needs_a_recipient(tmp_path):
    m = message()
    del m["To"]
    with pytest.raises(ValueError, match="HUMACRONA_ADMIN_EMAIL"):
        EmailResource(smtp_host="127.0.0.1", smtp_port=9).send(m)


def _sending_asset():
    @dg.asset
    def mailed(email: EmailResource) -> dict:
        m = message()
        m.replace_header("From", email.sender)
        m.replace_header("To", email.admin_address or "nobody@localhost")
        return {"where": email.send(m), "host": email.smtp_host, "port": email.smtp_port, "sender": email.sender,
                "admin": email.admin_address}

    return mailed


def test_from_env_with_nothing_set_loads_and_uses_the_outbox(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    for variable in ENV_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    mailed = _sending_asset()
    dg.Definitions(assets=[mailed], resources={"email": email_resource_from_env()})  # the code location loads
    result = dg.materialize([mailed], resources={"email": email_resource_from_env()})
    out = result.output_for_node("mailed")
    assert out["host"] is None and out["port"] == 587 and out["sender"] == "humacrona@localhost"
    assert out["where"].startswith(str(tmp_path / "home" / "outbox"))


def test_from_env_sends_through_smtp_and_never_logs_the_password(smtp_server, tmp_path, monkeypatch):
    controller, inbox, _, cert = smtp_server
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the test certificate as the system's CA
    settings = {"HUMACRONA_SMTP_HOST": "127.0.0.1", "HUMACRONA_SMTP_PORT": str(controller.port),
                "HUMACRONA_SMTP_USERNAME": USER, "HUMACRONA_SMTP_PASSWORD": PASSWORD,
                "HUMACRONA_EMAIL_FROM": "humacrona@nordljus.se", "HUMACRONA_ADMIN_EMAIL": "lon@nordljus.se"}
    for variable, value in settings.items():
        monkeypatch.setenv(variable, value)
    resource = email_resource_from_env()
    assert PASSWORD not in repr(resource)
    mailed = _sending_asset()
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([mailed], resources={"email": resource}, instance=instance)
    out = result.output_for_node("mailed")
    assert out == {"where": f"smtp://127.0.0.1:{controller.port}", "host": "127.0.0.1", "port": controller.port,
                   "sender": "humacrona@nordljus.se", "admin": "lon@nordljus.se"}
    (received,) = inbox.messages
    assert received["to"] == ["lon@nordljus.se"] and received["tls"]
    logs = "\n".join(str(entry) for entry in instance.all_logs(result.run_id))
    assert "smtp://127.0.0.1" in logs and PASSWORD not in logs
    assert PASSWORD not in str(instance.get_run_by_id(result.run_id).run_config)


# --- the recipient on every path, and the administrator's time zone ----------------------------------------


def unaddressed() -> EmailMessage:
    m = message()
    del m["To"]
    return m


def test_outbox_message_is_addressed_to_the_configured_admin(tmp_path, caplog):
    caplog.set_level("INFO")
    where = EmailResource(admin_address="lon@nordljus.se", outbox_dir=str(tmp_path)).send(unaddressed())
    parsed, _, _ = parts(Path(where).read_bytes())
    assert parsed["To"] == "lon@nordljus.se"
    assert f"for lon@nordljus.se to {where}" in caplog.text


def test_outbox_without_a_recipient_says_what_to_set(tmp_path, caplog):
    caplog.set_level("INFO")
    where = EmailResource(outbox_dir=str(tmp_path)).send(unaddressed())
    parsed, _, _ = parts(Path(where).read_bytes())
    assert parsed["To"] is None
    assert "for None" not in caplog.text
    assert "(no recipient configured: set HUMACRONA_ADMIN_EMAIL)" in caplog.text


def test_smtp_message_is_addressed_to_the_configured_admin(smtp_server, caplog):
    controller, inbox, _, cert = smtp_server
    resource = EmailResource(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_username=USER,
                             smtp_password=PASSWORD, ssl_ca_file=str(cert), sender="humacrona@nordljus.se",
                             admin_address="lon@nordljus.se")
    caplog.set_level("INFO")
    resource.send(unaddressed())
    (received,) = inbox.messages
    assert received["to"] == ["lon@nordljus.se"]
    parsed, _, _ = parts(received["content"])
    assert parsed["To"] == "lon@nordljus.se"  # the header the administrator's mail client shows, too
    assert "to lon@nordljus.se via smtp://127.0.0.1" in caplog.text


def test_time_zone_from_env_defaults_to_stockholm_and_is_configurable(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    for variable in ENV_VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    assert ENV_VARIABLES["timezone"] == "HUMACRONA_TIMEZONE"

    @dg.asset
    def zone(email: EmailResource) -> str:
        return email.timezone

    def resolved() -> str:
        return dg.materialize([zone], resources={"email": email_resource_from_env()}).output_for_node("zone")

    assert resolved() == "Europe/Stockholm"
    monkeypatch.setenv("HUMACRONA_TIMEZONE", "Europe/Helsinki")
    assert resolved() == "Europe/Helsinki"


def test_an_unknown_time_zone_stops_loading_with_one_line(monkeypatch):
    monkeypatch.setenv("HUMACRONA_TIMEZONE", "Europe/Stokholm")
    with pytest.raises(ValueError) as raised:
        email_resource_from_env()
    assert str(raised.value) == ("HUMACRONA_TIMEZONE: unknown time zone 'Europe/Stokholm'; use an IANA name such as"
                                 " Europe/Stockholm, Europe/Oslo or UTC")
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        EmailResource(timezone="Mars/Olympus")
