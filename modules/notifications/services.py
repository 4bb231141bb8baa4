"""Notifications business logic (writes)."""

import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError

from contracts.kernel import atomic

from .models import SentEmail


def email_send(*, event_id: uuid.UUID, recipient: str, subject: str, body: str) -> SentEmail | None:
    """Send an email caused by the event ``event_id``, once; returns None if it was already sent.

    The record is written first and the mail sent inside the same transaction: the unique event
    id then stops a concurrent duplicate before it sends, and a failed send rolls the record back
    (so a redelivery tries again) instead of claiming a mail that never left.
    """
    with atomic():
        if SentEmail.objects.filter(event_id=event_id).exists():
            return None
        try:
            with atomic():
                sent = SentEmail.objects.create(event_id=event_id, recipient=recipient, subject=subject, body=body)
        except IntegrityError:
            return None  # a concurrent delivery of the same event won the race
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    return sent
