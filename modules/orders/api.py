"""Public REST endpoints of orders (mounted at /api/orders/), for customers: a token with the scope
``shop:customer`` and the customer's email address. An order is placed for the token's email, and
a customer sees only their own orders: another customer's order id answers 404, like one that does
not exist, so ids reveal nothing."""

from typing import Annotated

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import AuthorizationError
from pydantic import ConfigDict, Field

from contracts.catalog import Sku
from contracts.kernel.public import JsonInt, TokenAuth, error_responses
from contracts.orders import OrderDTO

from . import selectors, services

router = Router(tags=["orders"], auth=TokenAuth(scopes=["shop:customer"], require_email=True))

#: Order ids are 64-bit (BigAutoField); larger path values are 422, not an overflow.
MAX_ORDER_ID = 2**63 - 1
OrderId = Annotated[int, Field(ge=1, le=MAX_ORDER_ID)]


class OrderLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    #: The upper bound catches typing mistakes before they reach stock or overflow a column.
    quantity: JsonInt = Field(gt=0, le=10_000)


class OrderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)


def customer_email(request: HttpRequest) -> str:
    """The token's email, checked with Django's validator (what the model field accepts)."""
    email = request.auth.email.strip()  # type: ignore[attr-defined]
    try:
        validate_email(email)
    except ValidationError:
        raise AuthorizationError(message="This token's email is not a valid email address.") from None
    return email


@router.post("/", response={201: OrderDTO})
def place_order(request: HttpRequest, payload: OrderIn) -> Status:
    placed = services.order_place(
        customer_email=customer_email(request), lines=[(line.sku, line.quantity) for line in payload.lines]
    )
    # Read the status again: with in-process events the order is already confirmed or cancelled.
    # The lines and the total are those just placed, so one small query is enough.
    return Status(201, placed.model_copy(update={"status": selectors.order_status(placed.id)}))


@router.get("/{order_id}", response={200: OrderDTO, **error_responses(404)})
def get_order(request: HttpRequest, order_id: OrderId) -> OrderDTO:
    return selectors.order_get_for_customer(order_id, customer_email=customer_email(request))
