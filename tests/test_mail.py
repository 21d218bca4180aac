"""Email backends: the development file backend and SMTP against a real (tiny) SMTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email import message_from_bytes
from pathlib import Path

import pytest

from fastmango.mail import EmailMessage, FileMailer, MemoryMailer, SMTPMailer, build_mailer
from settings import Settings


class SMTPSink:
    """Just enough of RFC 5321 for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 sink ready\r\n")
        while line := await reader.readline():
            command = line.strip().upper()
            if command.startswith((b"EHLO", b"HELO")):
                writer.write(b"250 sink\r\n")
            elif command.startswith((b"MAIL", b"RCPT", b"RSET", b"NOOP")):
                writer.write(b"250 OK\r\n")
            elif command == b"DATA":
                writer.write(b"354 go on\r\n")
                await writer.drain()
                body = await reader.readuntil(b"\r\n.\r\n")
                self.messages.append(body[: -len(b"\r\n.\r\n")])
                writer.write(b"250 queued\r\n")
            elif command == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 not here\r\n")
            await writer.drain()
        writer.close()


@pytest.fixture
async def smtp_sink() -> AsyncIterator[tuple[SMTPSink, int]]:
    sink = SMTPSink()
    server = await asyncio.start_server(sink.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield sink, port
    server.close()
    await server.wait_closed()


MESSAGE = EmailMessage(to="ann@example.com", subject="Hello", body="Reset: https://x/reset?t=1")


async def test_smtp_backend_sends_through_a_server(smtp_sink: tuple[SMTPSink, int]) -> None:
    sink, port = smtp_sink
    settings = Settings(
        _env_file=None, email_backend="smtp", email_host="127.0.0.1", email_port=port
    )
    mailer = build_mailer(settings)
    assert isinstance(mailer, SMTPMailer)
    await mailer.send(MESSAGE)
    assert len(sink.messages) == 1
    received = message_from_bytes(sink.messages[0])
    assert received["To"] == "ann@example.com"
    assert received["Subject"] == "Hello"
    assert "fastmango" in received["From"]


async def test_file_backend_writes_one_file_and_logs_no_body(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="fastmango.mail")
    settings = Settings(_env_file=None, email_backend="file", email_file_path=tmp_path)
    mailer = build_mailer(settings)
    assert isinstance(mailer, FileMailer)
    await mailer.send(MESSAGE)
    (saved,) = tmp_path.glob("*.eml")
    assert b"https://x/reset?t=1" in saved.read_bytes()
    assert "ann@example.com" in caplog.text
    assert "reset?t=1" not in caplog.text


async def test_memory_backend_keeps_an_outbox() -> None:
    mailer = build_mailer(Settings(_env_file=None, email_backend="memory"))
    assert isinstance(mailer, MemoryMailer)
    await mailer.send(MESSAGE)
    assert mailer.outbox == [MESSAGE]
