"""``POST /bench/plain/orders/``: the plain shop's order endpoint, with the Seams shop's input
schema (the same validation), the same customer authentication (a bearer token checked with the
same verifier: a team without Seams checks its tokens too, and the bench compares equal work) and
the same answer (the order with its outcome)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Status

from contracts.kernel.public import TokenAuth
from contracts.orders import OrderDTO, OrderLineDTO
from modules.orders.api import OrderIn

from . import services
from .models import Order

api = NinjaAPI(
    title="bench plain shop",
    urls_namespace="bench-plain",
    docs_url=None,
    auth=TokenAuth(scopes=["shop:customer"], require_email=True),
)


@api.exception_handler(services.PlainShopError)
def refused(request: HttpRequest, exc: services.PlainShopError):  # type: ignore[no-untyped-def]
    return api.create_response(request, {"message": str(exc)}, status=422)


@api.post("/orders/", response={201: OrderDTO})
def place_order(request: HttpRequest, payload: OrderIn) -> Status:
    order, lines = services.order_place(
        customer_email=request.auth.email.strip(),  # type: ignore[attr-defined]
        lines=[(line.sku, line.quantity) for line in payload.lines]
    )
    status = Order.objects.filter(pk=order.pk).values_list("status", flat=True).get()
    return Status(
        201,
        OrderDTO(
            id=order.pk,
            customer_email=order.customer_email,
            status=status,
            total_cents=order.total_cents,
            lines=[OrderLineDTO(sku=x.sku, quantity=x.quantity, unit_price_cents=x.unit_price_cents) for x in lines],
        ),
    )


@api.get("/orders/{order_id}", response=OrderDTO)
def get_order(request: HttpRequest, order_id: int) -> OrderDTO:
    order = Order.objects.prefetch_related("lines").get(pk=order_id)
    return OrderDTO(
        id=order.pk,
        customer_email=order.customer_email,
        status=order.status,
        total_cents=order.total_cents,
        lines=[
            OrderLineDTO(sku=x.sku, quantity=x.quantity, unit_price_cents=x.unit_price_cents) for x in order.lines.all()
        ],
    )
