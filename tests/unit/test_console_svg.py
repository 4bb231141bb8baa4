"""extraction/console/svg.py: the module graph drawn as inline SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from contracts.kernel.graph import CALL, EVENT, Edge
from extraction.console.svg import GraphNode, render_svg, ring_order

SVG = "{http://www.w3.org/2000/svg}"

SHOP_EDGES = [
    Edge(CALL, "inventory", "catalog", ("Catalog",)),
    Edge(CALL, "orders", "catalog", ("Catalog",)),
    Edge(EVENT, "inventory", "orders", ("StockReservationFailed", "StockReserved")),
    Edge(EVENT, "orders", "inventory", ("OrderPlaced",)),
    Edge(EVENT, "orders", "notifications", ("OrderCancelled", "OrderConfirmed")),
]


def nodes(*labels: str) -> list[GraphNode]:
    return [GraphNode(label, "inprocess", "in-process") for label in labels]


def test_the_svg_is_well_formed_with_one_group_per_node_and_two_per_edge() -> None:
    root = ET.fromstring(render_svg(nodes("catalog", "inventory", "notifications", "orders"), SHOP_EDGES))
    groups = root.findall(f"{SVG}g")
    assert sorted(g.get("id") for g in groups if "node" in g.get("class", "")) == [
        "node-catalog", "node-inventory", "node-notifications", "node-orders",
    ]  # fmt: skip
    assert len([g for g in groups if g.get("class", "").startswith("edge")]) == 2 * len(SHOP_EDGES)


def test_calls_and_events_are_told_apart_and_labelled() -> None:
    svg = render_svg(nodes("catalog", "inventory", "notifications", "orders"), SHOP_EDGES)
    assert 'class="edge call" data-source="orders" data-target="catalog"' in svg
    assert 'class="edge event" data-source="orders" data-target="notifications"' in svg
    assert ">OrderCancelled, OrderConfirmed</text>" in svg
    assert 'marker-end="url(#arrow-event)"' in svg and 'marker-end="url(#arrow-call)"' in svg


def test_a_module_known_only_from_an_edge_is_drawn_as_not_installed_here() -> None:
    svg = render_svg(nodes("catalog"), [Edge(CALL, "catalog", "orders", ("Orders",))])
    assert '<g class="node elsewhere" id="node-orders"' in svg and "not installed here" in svg


def test_every_text_is_escaped() -> None:
    svg = render_svg([GraphNode("evil", "http", "http://x/<script>alert(1)</script>")], [])
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_the_ring_order_avoids_crossings_and_is_stable() -> None:
    # Alphabetical (a, b, c, d) would make the chords a-c and b-d cross in the middle.
    edges = [Edge(CALL, "a", "c", ("C",)), Edge(EVENT, "b", "d", ("DHappened",))]
    order = ring_order(["d", "c", "b", "a"], edges)
    assert order == ["a", "b", "d", "c"]  # the first of the crossing-free rings
    assert ring_order(["a", "b", "c", "d"], edges) == order


def test_small_rings_keep_the_alphabetical_order() -> None:
    assert ring_order(["orders", "catalog", "inventory"], SHOP_EDGES) == ["catalog", "inventory", "orders"]


def test_one_module_sits_in_the_middle() -> None:
    svg = render_svg(nodes("catalog"), [])
    assert 'x="440.0" y="' in svg
