"""Reading a file another process is still appending to (its spans file, its JSON log lines).

The kernel grows a file page by page while one ``write()`` copies into it, so a reader polling the
file can end in the middle of a line that a single write is still putting there (a 40 KB line,
3,000 writes, 96 reads: one ended mid-line). The test helpers read only up to the last newline.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.processes import appended_lines
from tests.support.tracing import read_spans

SPAN = {
    "name": "handle orders.OrderPlaced",
    "kind": "SpanKind.CONSUMER",
    "context": {"trace_id": "0x" + "1" * 32, "span_id": "0x" + "2" * 16},
    "parent_id": None,
    "attributes": {"seams.outcome": "completed"},
    "status": {"status_code": "UNSET"},
    "resource": {"attributes": {"service.name": "monolith"}},
}


def test_a_line_still_being_written_is_not_read_yet(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    log.write_text('{"level": "INFO"}\nplain text\n{"level": "WARN')
    assert appended_lines(log) == ['{"level": "INFO"}', "plain text"]
    with log.open("a") as out:
        out.write('ING"}\n')
    assert appended_lines(log) == ['{"level": "INFO"}', "plain text", '{"level": "WARNING"}']
    assert appended_lines(tmp_path / "not yet") == []


def test_spans_read_while_a_span_is_half_written(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    whole = json.dumps(SPAN)
    spans.write_text(whole + "\n" + whole[: len(whole) // 2])
    (span,) = read_spans(spans)  # before: json.JSONDecodeError on the half line
    assert (span["name"], span["kind"], span["service"]) == ("handle orders.OrderPlaced", "CONSUMER", "monolith")
    spans.write_text(whole + "\n" + whole + "\n")
    assert len(read_spans(spans)) == 2
