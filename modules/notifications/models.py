from django.db import models
from django.utils import timezone


class SentEmail(models.Model):
    """An email sent to a customer. ``event_id`` is the envelope id of the event that caused it:
    unique, so that an event delivered twice sends one email."""

    recipient = models.EmailField(db_index=True)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    event_id = models.UUIDField(unique=True)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sent_at", "id"]

    def __str__(self) -> str:
        return f"{self.subject!r} to {self.recipient}"
