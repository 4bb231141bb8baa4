"""Notifications business logic (writes)."""

import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError

from contracts.kernel import atomic

from .models import SentEmail


def email_send(*, event_id: uuid.UUID, recipient: str, subject: str, body: str) -> SentEmail | None:
    """Send an email caused by the event ``event_id``, once; returns None if it was already sent.

    The record is written first and the mail sent inside the same transaction (a savepoint when
    called inside the handler's): the unique event id stops a duplicate at the insert, before
    anything is sent (a concurrent one waits for the first to commit, then fails the same way), and
    a failed send rolls the record back (so a redelivery tries again) instead of claiming a mail
    that never left. No ``exists()`` pre-check: the constraint already answers that question, in
    the one statement that has to run anyway.
    """
    try:
        with atomic():
            sent = SentEmail.objects.create(event_id=event_id, recipient=recipient, subject=subject, body=body)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except IntegrityError:
        return None  # already sent, by an earlier or a concurrent delivery of the same event
    return sent
