"""``contracts.kernel.graph``: the module listing and the Mermaid flowchart, over stand-in modules."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.kernel.graph import (
    CALL,
    EVENT,
    Edge,
    describe_database,
    module_edges,
    render_mermaid,
    render_module_table,
)


class Pricing:
    __seams_module__ = "catalog"
    __seams_name__ = "catalog.Pricing"


class Stock:
    __seams_module__ = "inventory"
    __seams_name__ = "inventory.Stock"


class OrderPlaced:
    publisher = "orders"
    event_type = "orders.OrderPlaced"


class OrderCancelled:
    publisher = "orders"
    event_type = "orders.OrderCancelled"


@dataclass
class FakeModule:
    """The attributes of a ModuleConfig that the graph reads."""

    label: str
    provides: list[type] = field(default_factory=list)
    consumes: list[type] = field(default_factory=list)
    publishes: list[type] = field(default_factory=list)
    handles: list[type] = field(default_factory=list)
    database: str | None = None

    @property
    def name(self) -> str:
        return f"modules.{self.label}"

    @property
    def database_alias(self) -> str:
        return self.database or self.label

    def handled_events(self) -> list[type]:
        return list(self.handles)


def shop() -> list[FakeModule]:
    return [
        FakeModule("catalog", provides=[Pricing]),
        FakeModule("inventory", provides=[Stock], consumes=[Pricing], handles=[OrderPlaced]),
        FakeModule("orders", consumes=[Pricing, Stock], publishes=[OrderPlaced, OrderCancelled]),
        FakeModule("mailer", handles=[OrderCancelled, OrderPlaced]),
        FakeModule("audit"),
    ]


def test_edges_point_from_consumer_to_provider_and_from_publisher_to_subscriber() -> None:
    assert module_edges(shop()) == [
        Edge(CALL, "inventory", "catalog", ("Pricing",)),
        Edge(CALL, "orders", "catalog", ("Pricing",)),
        Edge(CALL, "orders", "inventory", ("Stock",)),
        Edge(EVENT, "orders", "inventory", ("OrderPlaced",)),
        Edge(EVENT, "orders", "mailer", ("OrderCancelled", "OrderPlaced")),
    ]


def test_mermaid_draws_calls_solid_and_events_dotted() -> None:
    lines = render_mermaid(shop()).splitlines()
    assert lines[0] == "flowchart LR"
    assert "    inventory -->|Pricing| catalog" in lines
    assert "    orders -->|Stock| inventory" in lines
    assert "    orders -.->|OrderPlaced| inventory" in lines
    assert "    orders -.->|OrderCancelled, OrderPlaced| mailer" in lines
    assert not [line for line in lines if "catalog -" in line or "mailer -" in line]  # nothing leaves them


def test_mermaid_declares_every_module_even_without_edges() -> None:
    text = render_mermaid(shop())
    for label in ("audit", "catalog", "inventory", "mailer", "orders"):
        assert f'    {label}["{label}"]' in text


def test_a_label_that_is_a_mermaid_keyword_gets_a_safe_node_id() -> None:
    text = render_mermaid([FakeModule("end", consumes=[Pricing]), FakeModule("catalog", provides=[Pricing])])
    assert '    end_module["end"]' in text
    assert "    end_module -->|Pricing| catalog" in text
    assert "\n    end " not in text


def test_the_rendering_is_stable_whatever_the_module_order() -> None:
    assert render_mermaid(shop()) == render_mermaid(shop()[::-1])


def test_describe_database_names_the_engine_and_where_the_data_lives() -> None:
    databases = {
        "catalog": {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/var/catalog.sqlite3"},
        "orders": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "seams",
            "OPTIONS": {"options": "-c search_path=orders"},
        },
    }
    assert describe_database("catalog", databases) == "catalog (sqlite3, /srv/var/catalog.sqlite3)"
    assert describe_database("orders", databases) == "orders (postgresql, database seams, schema orders)"
    assert "missing" in describe_database("mailer", databases)


def test_the_table_lists_database_contracts_and_events_of_each_module() -> None:
    modules = shop()
    databases = {m.database_alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": f"{m.label}.db"} for m in modules}
    text = render_module_table(modules, databases)
    assert text.startswith("5 modules: catalog, inventory, orders, mailer, audit")
    block = text.split("inventory  (modules.inventory)")[1].split("\n\n")[0]
    assert "database   inventory (sqlite3, inventory.db)" in block
    assert "provides   inventory.Stock" in block
    assert "consumes   catalog.Pricing" in block
    assert "publishes  -" in block
    assert "handles    orders.OrderPlaced" in block
    orders = text.split("orders  (modules.orders)")[1].split("\n\n")[0]
    assert "publishes  orders.OrderPlaced, orders.OrderCancelled" in orders


def test_the_table_says_so_when_there_is_no_module() -> None:
    assert "No modules" in render_module_table([], {})


def test_an_event_nobody_handles_is_drawn_going_to_no_subscriber() -> None:
    class OrderShipped:
        publisher = "orders"
        event_type = "orders.OrderShipped"

    modules = [*shop()[:2], FakeModule("orders", publishes=[OrderPlaced, OrderShipped])]
    lines = render_mermaid(modules).splitlines()
    assert '    no_subscriber(["no subscriber"])' in lines
    assert "    orders -.->|OrderShipped| no_subscriber" in lines
    assert "    orders -.->|OrderPlaced| inventory" in lines
    assert "no_subscriber" not in render_mermaid(shop())  # every event there has a subscriber
