"""Notifications business logic (writes)."""

import uuid

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connections

from contracts.kernel import atomic

from .models import SentEmail


def email_send(*, event_id: uuid.UUID, recipient: str, subject: str, body: str) -> SentEmail | None:
    """Send an email caused by the event ``event_id``, once; returns None if it was already sent.

    The record is written first and the mail sent in the same transaction: the unique event id
    stops a duplicate at the insert, before anything is sent (a concurrent one waits for the first
    to commit, then fails the same way), and a failed send rolls the record back (so a redelivery
    tries again) instead of claiming a mail that never left. No ``exists()`` pre-check: the
    constraint answers that question in the one statement that has to run anyway.

    No savepoint either. Called on its own, this is the whole transaction: a duplicate rolls it back
    and returns None. Called inside a transaction (the event handler's, with its inbox row), a
    duplicate spoils that transaction, so the IntegrityError is raised: the handler's attempt rolls
    back and its retry finds the inbox row the first delivery committed with its email, and stops.
    """
    nested = connections[SentEmail.objects.db].in_atomic_block
    try:
        with atomic(savepoint=False):
            sent = SentEmail.objects.create(event_id=event_id, recipient=recipient, subject=subject, body=body)
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except IntegrityError:
        if nested:
            raise
        return None  # already sent, by an earlier delivery of the same event
    return sent
