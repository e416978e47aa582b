"""``python -m ffn_async.cli``: the ``ffn-async`` command."""

from __future__ import annotations

import sys

from .app import main

sys.exit(main())
