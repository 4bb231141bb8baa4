"""One POST of the HTTP transport: straight to the ``httpx.Client``'s transport.

``httpx.Client.post`` wraps the exchange in machinery that a contract call or a forwarded event
never uses: it merges cookies, query parameters and a base URL into a new request, runs an auth
flow and a redirect loop (two generators), wraps the answer's stream, extracts cookies from every
answer into the client's jar (through ``urllib``'s cookie parser, a fifth of the calling side's CPU
per call under cProfile) and logs it. The transport's requests carry an absolute URL parsed once,
their own headers and a body already encoded; they follow no redirect and keep no cookie.

:func:`post` sends the request the same client would send, minus that machinery: the client's
default headers (``User-Agent``, ``Accept``...) then the caller's, the timeouts as
``request.extensions["timeout"]`` (as ``Client.build_request`` puts them), through the transport
the client would pick for the URL (its mounts, so a proxy from the environment still applies), with
its ``event_hooks`` called as ``Client.send`` calls them, so whatever wraps that transport or
hooks into the client still sees every request: OpenTelemetry's httpx instrumentation
(``HTTPXClientInstrumentor.instrument_client``) and ``httpx.MockTransport`` in tests. The answer
is read whole, as ``Client.send`` does without ``stream=True``. Exceptions are the transport's
(``httpx.ConnectError``, ``ReadTimeout``...), as through the client.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

__all__ = ["post"]


def post(
    client: httpx.Client,
    url: httpx.URL,
    content: bytes,
    headers: Mapping[str, str],
    timeout: Mapping[str, float | None],
) -> httpx.Response:
    """POST ``content`` to the absolute ``url`` through ``client``'s transport; ``timeout`` is
    ``httpx.Timeout(...).as_dict()``."""
    if client.is_closed:
        raise RuntimeError("Cannot send a request, as the client has been closed.")
    request = httpx.Request(
        "POST",
        url,
        headers=[*client.headers.raw, *((name.encode("ascii"), value.encode("ascii")) for name, value in headers.items())],
        content=content,
        extensions={"timeout": timeout},
    )
    hooks = client.event_hooks
    for hook in hooks["request"]:
        hook(request)
    response = client._transport_for_url(url).handle_request(request)
    response.request = request
    try:
        for hook in hooks["response"]:
            hook(response)
        response.read()
    except BaseException:
        response.close()
        raise
    return response
