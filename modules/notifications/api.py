"""Public REST endpoints of notifications (mounted at /api/notifications/): a customer reads the
emails sent to the address of their token (scope ``shop:customer``), nobody else's."""

from django.http import HttpRequest
from ninja import Router

from contracts.kernel.public import TokenAuth
from contracts.notifications import SentEmailDTO

from . import selectors

router = Router(tags=["notifications"], auth=TokenAuth(scopes=["shop:customer"], require_email=True))


@router.get("/", response=list[SentEmailDTO])
def list_sent_emails(request: HttpRequest) -> list[SentEmailDTO]:
    """The emails sent to the token's address, oldest first."""
    return selectors.emails_sent_to(request.auth.email)  # type: ignore[attr-defined]
