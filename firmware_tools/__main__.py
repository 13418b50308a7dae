"""``python -m firmware_tools``: the same as the ``firmware-tools`` command."""

from firmware_tools.cli import main

raise SystemExit(main())
