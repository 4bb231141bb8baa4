"""``python -m extraction.identity NAME [--modules a,b] [--out DIR]``: create a service key pair."""

from .keygen import main

raise SystemExit(main())
