"""The outbox package's shape: one job per file, and no import cycle with the Celery tasks.

``contracts.kernel.tasks`` imports the outbox (its tasks run ``process_publication``); the outbox
sends those tasks by name, so it must never import them back, directly or through another module.
"""

import grimp

from contracts.kernel import outbox


def test_the_outbox_never_imports_the_celery_tasks() -> None:
    graph = grimp.build_graph("contracts", include_external_packages=False)
    assert graph.find_shortest_chain(importer="contracts.kernel.tasks", imported="contracts.kernel.outbox")
    sources = {"contracts.kernel.outbox", *graph.find_descendants("contracts.kernel.outbox")}
    chains = [graph.find_shortest_chain(importer=s, imported="contracts.kernel.tasks") for s in sorted(sources)]
    assert [c for c in chains if c] == []


def test_the_public_names_stay_importable_from_the_package() -> None:
    for name in ("OutboxEventBackend", "process_publication", "relay_once", "claim", "receive_event", "envelope_to_wire"):
        assert name in outbox.__all__ and callable(getattr(outbox, name))


def test_the_fast_path_builds_its_rows_in_the_models_field_order() -> None:
    """``backend`` builds the publication objects of the inline fast path positionally
    (``from_db``): a field added or moved in the models must be added there too, or every value
    after it would land in the wrong attribute."""
    from contracts.kernel.models import Publication
    from contracts.kernel.outbox import backend

    assert backend._PUBLICATION_FIELDS == [f.attname for f in Publication._meta.concrete_fields]


def test_the_fast_path_builds_the_instance_a_read_builds() -> None:
    """``backend._held`` sets the attributes itself rather than through ``Model.__init__``: the
    object must be what ``from_db`` gives for the same row, and while a ``post_init`` receiver
    listens it must be ``from_db``'s, so the receiver sees it."""
    import datetime
    import uuid

    from django.db.models.signals import post_init

    from contracts.kernel.models import Publication
    from contracts.kernel.outbox import backend

    now = datetime.datetime.now(datetime.UTC)
    row = (7, 3, uuid.uuid4(), "orders.OrderPlaced", 1, "42", {"a": 1}, {"publisher": "orders"}, "orders", now)
    row += ("notifications.h", "notifications", "processing", 1, now, now, None, "w", now, None, "", "", False)
    held, read = backend._held("orders", row), Publication.from_db("orders", backend._PUBLICATION_FIELDS, row)
    assert type(held) is Publication
    assert {k: v for k, v in vars(held).items() if k != "_state"} == {k: v for k, v in vars(read).items() if k != "_state"}
    assert (held._state.adding, held._state.db, held.pk) == (read._state.adding, read._state.db, read.pk) == (False, "orders", 7)
    assert held._state.fields_cache == {}

    seen: list[object] = []

    def receiver(sender: object, instance: object, **_: object) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Publication)
    try:
        listened = backend._held("orders", row)
    finally:
        post_init.disconnect(receiver, sender=Publication)
    assert len(seen) == 1 and seen[0] is listened
