"""The SMTP listener for connectors' inbound e-mail addresses (connectors/inbound_mail.py)."""

import asyncio

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand

from connectors.mail_listener import MailHandler


class Command(BaseCommand):
    help = "Receive e-mail for connectors' inbound addresses over SMTP."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="0.0.0.0")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args, host, port, **options):
        controller = Controller(
            MailHandler(),
            hostname=host,
            port=port,
            data_size_limit=settings.PICKY_INBOUND_MAIL_MAX_BYTES,
        )
        controller.start()
        self.stdout.write(
            f"Receiving mail for @{settings.PICKY_INBOUND_MAIL_DOMAIN} on {host}:{port}"
        )
        try:
            asyncio.run(asyncio.Event().wait())
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
