from django.db import models


class HandledEvent(models.Model):
    """One row per event the probe handled (its side effect, counted by the tests)."""

    event_id = models.UUIDField()
    customer_email = models.CharField(max_length=200)

    def __str__(self) -> str:
        return str(self.event_id)
