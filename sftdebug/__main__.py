"""`python -m sftdebug` is the `sftdebug` command."""

from sftdebug.cli import main

raise SystemExit(main())
