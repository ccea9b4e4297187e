"""Demo step handlers: stand-ins for a budget system, a shop and a warehouse.

Each one is idempotent by the step's idempotency key, as real handlers must be
(delivery is at least once).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from orchestration.exceptions import BusinessError
from orchestration.handlers import StepContext, handler


def _ref(prefix: str, context: StepContext) -> str:
    return f"{prefix}-{hashlib.sha256(context.idempotency_key.encode()).hexdigest()[:10]}"


@handler("demo.check_budget")
def check_budget(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"budget_ok": float(variables.get("amount", 0)) <= 50_000}


@handler("demo.place_order")
def place_order(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"order_ref": _ref("PO", context)}


@handler("demo.cancel_order")
def cancel_order(variables: Mapping[str, Any], context: StepContext) -> None:
    return None


@handler("demo.generate_documents")
def generate_documents(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"documents": [f"loan-agreement-{_ref('DOC', context)}.pdf"]}


@handler("demo.verify_identity")
def verify_identity(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"identity_verified": bool(str(variables.get("applicant", "")).strip())}


@handler("demo.charge_payment")
def charge_payment(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    if str(variables.get("card", "")).endswith("0000"):
        raise BusinessError("card_declined", "the card was declined")
    return {"payment_ref": _ref("PAY", context)}


@handler("demo.refund_payment")
def refund_payment(variables: Mapping[str, Any], context: StepContext) -> None:
    return None


@handler("demo.reserve_inventory")
def reserve_inventory(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    if int(variables.get("quantity", 1)) > 100:
        raise BusinessError("out_of_stock", "not enough stock")
    return {"reservation_ref": _ref("RES", context)}


@handler("demo.release_inventory")
def release_inventory(variables: Mapping[str, Any], context: StepContext) -> None:
    return None


@handler("demo.create_shipment")
def create_shipment(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    if variables.get("country") not in {None, "", "US", "CA", "GB", "DE", "FR"}:
        raise BusinessError("no_carrier", "no carrier ships there")
    return {"tracking_number": _ref("TRK", context)}


@handler("demo.cancel_shipment")
def cancel_shipment(variables: Mapping[str, Any], context: StepContext) -> None:
    return None


@handler("demo.send_invoice")
def send_invoice(variables: Mapping[str, Any], context: StepContext) -> dict[str, Any]:
    return {"invoice_ref": _ref("INV", context)}
