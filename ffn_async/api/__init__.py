"""Typed namespaces over every FFN operation, and the registry that maps operationIds to them.

``ffn.fulfiller``, ``ffn.merchant`` and ``ffn.shared`` on an :class:`~ffn_async.FFNClient` are
:class:`~ffn_async.api.fulfiller.FulfillerAPI`, :class:`~ffn_async.api.merchant.MerchantAPI`
and :class:`~ffn_async.api.shared.SharedAPI`. :data:`OPERATIONS` describes every operation of both
specs and ``users/current`` (API, method, path, scope, models, documented statuses), keyed
``"<api>.<operationId>"``; ``docs/operations.md`` is generated from it.
"""

from __future__ import annotations

from ._operation import Operation
from ._registry import OPERATIONS

__all__ = ["OPERATIONS", "Operation", "operation_for"]

_OPERATIONS_BY_ROUTE = {(op.method, op.path): key for key, op in OPERATIONS.items()}


def operation_for(method: str, template: str) -> str:
    """``"<api>.<operationId>"`` of the documented route ``method template``, else ``template``."""
    return _OPERATIONS_BY_ROUTE.get((method, template), template)
