"""E-mail out: a MIME message (plain text + autoescaped HTML, RFC 8058 one-click unsubscribe
headers) sent over SMTP with aiosmtplib to PATRON_SMTP_URL, or, without one, written as an
.eml file to PATRON_MAIL_OUTBOX_DIR (the embedded default: `make run` shows what would go out)."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from domain.messaging.render import Rendered
from domain.settings import get_settings

SMTP_TIMEOUT_SECONDS = 15


class MailError(Exception):
    """The message could not be handed over (retried by the sender, then FAILED)."""


def build(rendered: Rendered, to: str, message_id: int, sent_at) -> EmailMessage:  # noqa: ANN001
    settings = get_settings()
    mail = EmailMessage()
    mail["From"] = settings.mail_from
    mail["To"] = to
    mail["Subject"] = rendered.subject
    mail["Date"] = format_datetime(sent_at)
    mail["Message-ID"] = make_msgid(idstring=f"patron-{message_id}")
    # RFC 8058: a mail client may POST "List-Unsubscribe=One-Click" to the https URL.
    mail["List-Unsubscribe"] = f"<{rendered.unsubscribe_url}>"
    mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail["X-Patron-Message-Id"] = str(message_id)
    mail.set_content(rendered.text)
    mail.add_alternative(rendered.html, subtype="html")
    return mail


def _smtp_options(url: str) -> dict:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    implicit_tls = parts.scheme == "smtps"
    return {
        "hostname": parts.hostname, "port": parts.port or (465 if implicit_tls else 25),
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        # starttls=1 requires it, starttls=0 never; absent: used when the server offers it.
        "use_tls": implicit_tls, "start_tls": {"1": True, "true": True, "0": False, "false": False}.get(
            query.get("starttls", [""])[0]) if not implicit_tls else False,
        "timeout": SMTP_TIMEOUT_SECONDS,
    }


class Mailer:
    """One SMTP connection for a chunk of messages (opened at the first e-mail, reopened after
    a failure, closed at the end): a new connection and handshake per e-mail cost more than
    the e-mail itself."""

    def __init__(self) -> None:
        self._smtp: aiosmtplib.SMTP | None = None

    async def __aenter__(self) -> Mailer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()

    async def deliver(self, mail: EmailMessage) -> str:
        """Hand the message over; returns where it went (for the message's reason)."""
        settings = get_settings()
        if not settings.smtp_url:
            folder = Path(settings.mail_outbox_dir)
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{mail['X-Patron-Message-Id']}-{uuid.uuid4().hex[:8]}.eml"
            path.write_bytes(bytes(mail))
            return f"written to {path}"
        try:
            if self._smtp is None or not self._smtp.is_connected:
                # connect() also negotiates STARTTLS and logs in, as the options say
                self._smtp = aiosmtplib.SMTP(**_smtp_options(settings.smtp_url))
                await self._smtp.connect()
            await self._smtp.send_message(mail)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            await self._close()  # the next e-mail starts on a fresh connection
            raise MailError(f"{type(exc).__name__}: {exc}"[:400]) from exc
        return "handed to the SMTP server"
