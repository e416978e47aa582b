"""``python -m ffn_async.testing``: serve the fake FFN server."""

from __future__ import annotations

import sys

from .standalone import main

sys.exit(main())
