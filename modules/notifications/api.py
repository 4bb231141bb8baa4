"""Public REST endpoints of notifications (mounted at /api/notifications/)."""

from django.http import HttpRequest
from ninja import Query, Router

from contracts.notifications import SentEmailDTO

from . import selectors

router = Router(tags=["notifications"])


@router.get("/", response=list[SentEmailDTO])
def list_sent_emails(request: HttpRequest, recipient: str = Query(..., min_length=3)) -> list[SentEmailDTO]:
    """The emails sent to one recipient. The recipient is required: nobody lists everyone's mail."""
    return selectors.emails_sent_to(recipient)
