"""``python -m textinpaint``: the same as the ``textinpaint`` command."""

import sys

from .cli import main

sys.exit(main())
