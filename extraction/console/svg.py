"""The module graph as inline SVG, drawn on the server.

The console runs on machines with no internet and no front-end build, so the graph is not left to
a JavaScript renderer: the edges are the kernel's (``contracts.kernel.graph.module_edges``, the same
ones ``manage.py modules graph`` writes as Mermaid) and this file places them. Modules sit on an
ellipse, in the order (of those that keep the first module first) with the fewest crossing
connections, ties broken alphabetically, so the same manifests always give the same picture; each
edge is a quadratic curve bent to its right, so a pair of
modules that talk both ways gets two separate arcs; solid curves are contract calls (consumer ->
provider), dashed ones events (publisher -> subscriber), each labelled with its contracts or events.
Each node says where the module runs (in-process, a service URL, a Celery queue) and carries an
``id`` (``node-<label>``) the console's script uses to show rates and health.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from contracts.kernel.graph import CALL, Edge

__all__ = ["GraphNode", "render_svg", "ring_order"]

WIDTH, HEIGHT = 880, 460
NODE_W, NODE_H = 208, 66
BEND = 0.16  # control-point offset, as a fraction of the edge's length
#: Up to this many modules every ring order is tried (7! / 2 = 2520 orders); beyond, sorted order.
BRUTE_FORCE_UP_TO = 8


@dataclass(frozen=True)
class GraphNode:
    """One module as drawn: its label, where it runs (``inprocess``/``http``/``celery``/``elsewhere``)
    and a one-line description of that place."""

    label: str
    transport: str
    where: str


def _crossings(order: Sequence[str], pairs: Sequence[tuple[str, str]]) -> int:
    """How many pairs of chords of the ring cross (chords sharing a module never do)."""
    at = {label: i for i, label in enumerate(order)}
    chords = [tuple(sorted((at[a], at[b]))) for a, b in pairs]
    count = 0
    for (a, b), (c, d) in itertools.combinations(chords, 2):
        if len({a, b, c, d}) == 4 and (a < c < b) != (a < d < b):
            count += 1
    return count


def ring_order(labels: Sequence[str], edges: Sequence[Edge]) -> list[str]:
    """The modules in ring order: the fewest crossings, then alphabetical (deterministic)."""
    labels = sorted(labels)
    pairs = sorted({tuple(sorted((e.source, e.target))) for e in edges if e.source != e.target})
    if len(labels) <= 3 or len(labels) > BRUTE_FORCE_UP_TO:
        return labels
    first, rest = labels[0], labels[1:]
    best = min(
        ([first, *p] for p in itertools.permutations(rest) if p[0] < p[-1]),  # a ring and its mirror are one
        key=lambda order: (_crossings(order, pairs), order),
    )
    return best


def _positions(labels: Sequence[str]) -> dict[str, tuple[float, float]]:
    cx, cy = WIDTH / 2, HEIGHT / 2
    if len(labels) == 1:
        return {labels[0]: (cx, cy)}
    rx, ry = (WIDTH - NODE_W) / 2 - 24, (HEIGHT - NODE_H) / 2 - 24
    # Start at the top-left: four modules then sit at the corners of a rectangle, not a diamond.
    start = -math.pi * 3 / 4
    return {
        label: (cx + rx * math.cos(start + 2 * math.pi * i / len(labels)), cy + ry * math.sin(start + 2 * math.pi * i / len(labels)))
        for i, label in enumerate(labels)
    }


def _border(center: tuple[float, float], toward: tuple[float, float], gap: float = 4) -> tuple[float, float]:
    """Where the segment from ``center`` to ``toward`` leaves the node's box (plus a small gap)."""
    dx, dy = toward[0] - center[0], toward[1] - center[1]
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length, dy / length
    half_w, half_h = NODE_W / 2 + gap, NODE_H / 2 + gap
    t = min(half_w / abs(ux) if ux else math.inf, half_h / abs(uy) if uy else math.inf)
    return center[0] + ux * t, center[1] + uy * t


def _edge_svg(edge: Edge, positions: Mapping[str, tuple[float, float]]) -> tuple[str, str]:
    """The edge's curve and, separately, its label (drawn above the nodes, so no box hides it)."""
    (x1, y1), (x2, y2) = positions[edge.source], positions[edge.target]
    dx, dy = x2 - x1, y2 - y1
    length = math.hypot(dx, dy) or 1.0
    # Perpendicular to the right of the direction of travel (SVG's y axis points down).
    control = ((x1 + x2) / 2 - dy / length * BEND * length, (y1 + y2) / 2 + dx / length * BEND * length)
    start, end = _border((x1, y1), control), _border((x2, y2), control)
    mid = (0.25 * start[0] + 0.5 * control[0] + 0.25 * end[0], 0.25 * start[1] + 0.5 * control[1] + 0.25 * end[1])
    kind = "call" if edge.kind == CALL else "event"
    names = ", ".join(edge.names)
    verb, preposition = ("calls", "of") if kind == "call" else ("sends", "to")
    title = escape(f"{edge.source} {verb} {names} {preposition} {edge.target}")
    data = f'data-source="{escape(edge.source)}" data-target="{escape(edge.target)}"'
    curve = (
        f'<g class="edge {kind}" {data}><title>{title}</title>'
        f'<path d="M{start[0]:.1f},{start[1]:.1f} Q{control[0]:.1f},{control[1]:.1f} {end[0]:.1f},{end[1]:.1f}" '
        f'marker-end="url(#arrow-{kind})"/></g>'
    )
    label = (
        f'<g class="edge {kind}" {data}><title>{title}</title><text x="{mid[0]:.1f}" y="{mid[1]:.1f}" '
        f'text-anchor="middle" dominant-baseline="middle">{escape(names)}</text></g>'
    )
    return curve, label


def _node_svg(node: GraphNode, position: tuple[float, float]) -> str:
    x, y = position[0] - NODE_W / 2, position[1] - NODE_H / 2
    label = escape(node.label)
    return (
        f'<g class="node {escape(node.transport)}" id="node-{label}" data-module="{label}">'
        f"<title>{label}: {escape(node.where)}</title>"
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="8"/>'
        f'<text class="name" x="{position[0]:.1f}" y="{y + 20:.1f}" text-anchor="middle">{label}</text>'
        f'<text class="where" x="{position[0]:.1f}" y="{y + 38:.1f}" text-anchor="middle">{escape(node.where)}</text>'
        f'<text class="rates" x="{position[0]:.1f}" y="{y + 55:.1f}" text-anchor="middle"></text></g>'
    )


_DEFS = (
    "<defs>"
    '<marker id="arrow-call" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
    '<path d="M0,0 L10,5 L0,10 z"/></marker>'
    '<marker id="arrow-event" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
    '<path d="M0,0 L10,5 L0,10 z"/></marker>'
    "</defs>"
)


def render_svg(nodes: Sequence[GraphNode], edges: Sequence[Edge]) -> SafeString:
    """The whole graph as one ``<svg>`` element (every text escaped), ready to inline in a page."""
    by_label = {node.label: node for node in nodes}
    for edge in edges:  # a module known only from an edge (served elsewhere, not installed here)
        for label in (edge.source, edge.target):
            by_label.setdefault(label, GraphNode(label, "elsewhere", "not installed here"))
    labels = ring_order(list(by_label), edges)
    positions = _positions(labels)
    drawn = [_edge_svg(edge, positions) for edge in edges]
    parts = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="Module graph: {len(labels)} modules, {len(edges)} connections">',
        _DEFS,
        *(curve for curve, _ in drawn),
        *(_node_svg(by_label[label], positions[label]) for label in labels),
        *(label for _, label in drawn),
        "</svg>",
    ]
    return mark_safe("".join(parts))  # noqa: S308 - built above from escaped parts only
