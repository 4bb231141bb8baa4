"""An email backend that always fails, to prove that a failing event handler harms nobody else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class MailServerDown(ConnectionError):
    pass


class FailingEmailBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Sequence[Any]) -> int:
        raise MailServerDown("The mail server refused the connection (FailingEmailBackend).")
