"""The notifications module's published language.

Notifications provides no contract (nobody needs to call it: it reacts to events), only the shape
of a sent message, which its REST API returns.
"""

import datetime

from contracts.kernel import Schema


class SentEmailDTO(Schema):
    recipient: str
    subject: str
    body: str
    sent_at: datetime.datetime
