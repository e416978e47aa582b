"""The converter between FFN JSON and the model classes: bytes, dicts, and validation.

:mod:`~ffn_async.codec.serialization` is the public face (dicts and validation, and the
entry points for bytes); :mod:`~ffn_async.codec._wire` decodes and encodes bytes through
msgspec Structs; :mod:`~ffn_async.codec._modelinfo` is what both know about a model class
(its resolved fields, and the presence rules both paths apply, in one place).

The code both paths run is still generated at runtime, per class on first use, not committed
by the model generator (issue 25, item 5 weighed it): committed for every model it would be some
58,000 lines (two decode stages, checked and unchecked encoders and the dict path for ~380
classes) of which a program runs a few dozen, the compiler would have to stay anyway for attrs
classes the generator never writes (``decode`` takes any), and first use costs one page decode of
about 15 ms. What made it hard to change went instead: one small generator function per field
kind (none above cyclomatic complexity 11), the presence rules once in ``_modelinfo.Field``, every
generated source in :mod:`linecache` (tracebacks show it, debuggers step through it), and no
source re-read: the generated model modules import every name their annotations use.
"""

from __future__ import annotations

from .serialization import (
    converter,
    decode,
    decode_envelope,
    decoder,
    dumps,
    loads,
    structure,
    unstructure,
    validate,
)

__all__ = [
    "converter",
    "decode",
    "decode_envelope",
    "decoder",
    "dumps",
    "loads",
    "structure",
    "unstructure",
    "validate",
]
