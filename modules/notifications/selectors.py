"""Notifications queries (reads)."""

from contracts.notifications import SentEmailDTO

from .models import SentEmail


def emails_sent_to(recipient: str) -> list[SentEmailDTO]:
    """Oldest first. Email addresses are compared case-insensitively, as people type them."""
    return [
        SentEmailDTO(recipient=e.recipient, subject=e.subject, body=e.body, sent_at=e.sent_at)
        for e in SentEmail.objects.filter(recipient__iexact=recipient.strip())
    ]
