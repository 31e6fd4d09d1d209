"""``python -m dalle_kit`` is the ``dalle-kit`` command."""

import sys

from .cli import main

sys.exit(main())
