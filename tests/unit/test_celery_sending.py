"""extraction.celery.sending: the message sent past ``send_task`` is the one ``send_task`` sends."""

from typing import Any

from celery import Celery
from kombu import Connection

from extraction.celery.client import PUBLISH_RETRY_POLICY, REDACTED
from extraction.celery.sending import send

#: Set per message: the id, the sender's host and pid, the expiry date, and the publish span's
#: context that the tracing instrumentation adds in ``before_task_publish`` (on both paths).
PER_MESSAGE = {"id", "root_id", "expires", "origin", "traceparent", "tracestate"}


def fetch(app: Celery, queue: str) -> Any:
    with Connection(app.conf.broker_url) as connection:
        message = connection.SimpleQueue(queue).get(timeout=1)
        message.ack()
        return message


def test_a_call_is_the_message_send_task_sends() -> None:
    app = Celery("sending-test", broker="memory://", set_as_current=False)
    args: list[Any] = ["catalog.Catalog", "get_product", {"sku": "KB-101"}, {"traceparent": "00-1-2-01"}, 1.5e9]
    kwargs = {"token": "t", "reply_to": "seams.reply.x"}
    options = {"retry": True, "retry_policy": PUBLISH_RETRY_POLICY, "argsrepr": "catalog.Catalog.get_product", "kwargsrepr": REDACTED}
    for expires in (None, 5.0):
        extra = {} if expires is None else {"expires": expires}
        app.send_task("seams.call_contract", args=args, kwargs=kwargs, queue="q", task_id="a", ignore_result=True, **options, **extra)
        theirs = fetch(app, "q")
        send(app, "seams.call_contract", args, kwargs, task_id="b", queue="q", expires=expires, **options)  # type: ignore[arg-type]
        ours = fetch(app, "q")
        assert ours.headers["id"] == "b" and theirs.headers["id"] == "a"
        assert {k: v for k, v in ours.headers.items() if k not in PER_MESSAGE} == {
            k: v for k, v in theirs.headers.items() if k not in PER_MESSAGE
        }
        assert ("traceparent" in ours.headers) == ("traceparent" in theirs.headers)
        assert ours.headers["ignore_result"] is True and ours.headers["kwargsrepr"] == REDACTED
        assert (ours.headers["expires"] is None) == (expires is None)
        assert ours.decode() == theirs.decode()
        assert ours.content_type == theirs.content_type == "application/json"
        # send_task also copies argsrepr/kwargsrepr into the properties (its options go to both); the
        # worker reads them from the headers only.
        assert {k: v for k, v in ours.properties.items() if k not in {"correlation_id", "delivery_tag"}} == {
            k: v for k, v in theirs.properties.items() if k not in {"correlation_id", "delivery_tag", "argsrepr", "kwargsrepr"}
        }


def test_a_forwarded_events_deadline_is_a_header_not_celerys_expires() -> None:
    """Celery's ``expires`` costs a date conversion here and a parse and a time-zone lookup on the
    worker for every message; the deadline travels as a header (an older worker ignores it) and as
    the broker's ``expiration`` (RabbitMQ drops the message when it is due)."""
    import time

    from extraction.celery.names import DEADLINE_HEADER

    app = Celery("sending-test", broker="memory://", set_as_current=False)
    options = {"retry": True, "retry_policy": PUBLISH_RETRY_POLICY, "argsrepr": "x <- E 1", "kwargsrepr": REDACTED}
    deadline = time.time() + 5
    send(app, "seams.receive_event", ["inventory", "m.h", {"id": "1"}], {"token": "t"}, task_id="c", queue="q", deadline=deadline, **options)  # type: ignore[arg-type]
    message = fetch(app, "q")
    assert message.headers["expires"] is None
    assert message.headers[DEADLINE_HEADER] == deadline
    assert 0 < float(message.properties["expiration"]) <= 5000  # kombu sends it in milliseconds
