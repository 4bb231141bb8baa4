#!/usr/bin/env python
"""Django's command-line utility for the Seams project."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "app.settings")
    from extraction.settings.cli import execute_from_command_line  # a settings mistake: one line, no traceback

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
