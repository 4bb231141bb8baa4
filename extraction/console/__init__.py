"""The operator console: one staff-only page per process (the monolith, each extracted service)
that shows the module graph, live call and event rates, the outbox backlog, the dead letters (with
a resubmit button each and per event type) and the health of every bound service.

Server-rendered Django templates plus a small inline script that polls the console's own JSON
endpoints; no front-end build, nothing fetched from the internet. Mounted at ``/console/`` by
``app/urls.py`` and by the generated services' URLconf (``include("extraction.console.urls")``).
"""
