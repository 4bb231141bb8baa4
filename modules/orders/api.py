"""Public REST endpoints of orders (mounted at /api/orders/)."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field, field_validator

from contracts.orders import OrderDTO

from . import selectors, services

router = Router(tags=["orders"])


class OrderLineIn(Schema):
    sku: str = Field(min_length=1, max_length=64)
    #: The upper bound catches typing mistakes before they reach stock or overflow a column.
    quantity: int = Field(gt=0, le=10_000)


class OrderIn(Schema):
    customer_email: str = Field(max_length=254, examples=["ada@example.com"])
    lines: list[OrderLineIn] = Field(min_length=1, max_length=100)

    @field_validator("customer_email")
    @classmethod
    def _is_an_email_address(cls, value: str) -> str:
        """Django's validator, so the API accepts exactly what the model field would."""
        value = value.strip()
        try:
            validate_email(value)
        except ValidationError:
            raise ValueError("Enter a valid email address.") from None
        return value


@router.post("/", response={201: OrderDTO})
def place_order(request: HttpRequest, payload: OrderIn) -> Status:
    placed = services.order_place(
        customer_email=payload.customer_email, lines=[(line.sku, line.quantity) for line in payload.lines]
    )
    # Read the status again: with in-process events the order is already confirmed or cancelled.
    # The lines and the total are those just placed, so one small query is enough.
    return Status(201, placed.model_copy(update={"status": selectors.order_status(placed.id)}))


@router.get("/{order_id}", response=OrderDTO)
def get_order(request: HttpRequest, order_id: int) -> OrderDTO:
    return selectors.order_get(order_id)
