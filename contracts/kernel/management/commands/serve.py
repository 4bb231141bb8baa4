"""``manage.py serve``: the development server with the outbox relay running beside it.

What ``make run`` starts. It is the project's own ``runserver`` (whichever app provides it, e.g.
staticfiles) plus a :class:`~contracts.kernel.relay_loop.RelayLoop` in a daemon thread of the
process that serves requests, so a handler that failed once is retried, a publication whose
delivery was interrupted is re-sent, and an event forwarded to an extracted service that was down
reaches it once it is back, all without anyone running ``manage.py relay_events``. The thread
starts in the serving process (the autoreloader's child), so it restarts with the code on every
reload and stops with the server.

Every argument of ``runserver`` works; ``--relay-interval`` sets the seconds between passes and
``--no-relay`` serves without one (another process relays, e.g. ``celery beat``).
"""

from __future__ import annotations

from typing import Any

from django.core.management import CommandError, CommandParser, get_commands, load_command_class

from contracts.kernel.relay_loop import RelayLoop


def _runserver() -> type:
    """The class of ``manage.py runserver`` as the installed apps resolve it."""
    return type(load_command_class(get_commands()["runserver"], "runserver"))


class Command(_runserver()):  # type: ignore[misc]
    help = "Serve the project for development, with the outbox relay running in a thread beside it."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--relay-interval", type=float, default=2.0, help="seconds between relay passes (default 2)"
        )
        parser.add_argument("--no-relay", action="store_true", help="serve without the relay thread")

    def handle(self, *args: Any, **options: Any) -> None:
        # Checked before the autoreloader starts: a bad interval raised in inner_run killed the
        # serving thread with a traceback while the reloader kept the process up, serving nothing.
        if not options["no_relay"] and not options["relay_interval"] > 0:
            raise CommandError(f"--relay-interval must be a positive number of seconds, got {options['relay_interval']:g}")
        super().handle(*args, **options)

    def inner_run(self, *args: Any, **options: Any) -> None:
        # Runs in the process that serves (with the autoreloader, its child), once per reload.
        if not options["no_relay"]:
            interval = options["relay_interval"]
            RelayLoop(interval).start_thread()
            self.stdout.write(f"Relaying events every {interval:g}s in this process (--no-relay to turn off).")
        super().inner_run(*args, **options)
