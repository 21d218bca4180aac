"""Sending email: a file backend for development, SMTP for production, memory for tests.

Bodies can hold reset links, so logs name the recipient and subject only.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage as MimeMessage
from pathlib import Path
from typing import Protocol

from fastmango.conf import BaseSettings
from fastmango.orm import utcnow

logger = logging.getLogger("fastmango.mail")


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    body: str
    from_email: str = ""

    def to_mime(self, default_from: str) -> MimeMessage:
        message = MimeMessage()
        message["From"] = self.from_email or default_from
        message["To"] = self.to
        message["Subject"] = self.subject
        message.set_content(self.body)
        return message


class Mailer(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


class MemoryMailer:
    """Keeps messages in `outbox`; tests read links from it."""

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []

    async def send(self, message: EmailMessage) -> None:
        self.outbox.append(message)
        logger.info("Email to %s: %s (kept in memory)", message.to, message.subject)


class FileMailer:
    """Writes each message to its own .eml file (development)."""

    def __init__(self, folder: Path, default_from: str) -> None:
        self.folder = folder
        self.default_from = default_from

    def _write(self, message: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%d-%H%M%S-%f")
        path = self.folder / f"{stamp}.eml"
        path.write_bytes(message.to_mime(self.default_from).as_bytes())
        return path

    async def send(self, message: EmailMessage) -> None:
        path = await asyncio.to_thread(self._write, message)
        logger.info("Email to %s: %s (saved to %s)", message.to, message.subject, path)


class ConsoleMailer:
    """Prints whole messages to the log: for local debugging only, never in production."""

    def __init__(self, default_from: str) -> None:
        self.default_from = default_from

    async def send(self, message: EmailMessage) -> None:
        logger.info("Email:\n%s", message.to_mime(self.default_from).as_string())


class SMTPMailer:
    """Sends through an SMTP server; the blocking client runs in a worker thread."""

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        with smtplib.SMTP(s.email_host, s.email_port, timeout=15) as client:
            if s.email_use_tls:
                client.starttls()
            if s.email_host_user and s.email_host_password:
                client.login(s.email_host_user, s.email_host_password.get_secret_value())
            client.send_message(message.to_mime(s.default_from_email))

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._send, message)
        logger.info("Email to %s: %s (sent by SMTP)", message.to, message.subject)


def build_mailer(settings: BaseSettings) -> Mailer:
    match settings.email_backend:
        case "memory":
            return MemoryMailer()
        case "console":
            return ConsoleMailer(settings.default_from_email)
        case "smtp":
            return SMTPMailer(settings)
        case _:
            return FileMailer(settings.email_file_path, settings.default_from_email)
