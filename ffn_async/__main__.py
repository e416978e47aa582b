"""``python -m ffn_async``: the ``ffn-async`` command, for when the script is not on PATH."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
