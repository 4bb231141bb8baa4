"""contracts/kernel/validation.py: the proxy that checks values crossing an in-process contract call."""

import datetime
import decimal

import pytest

from contracts.kernel import Contract, ContractViolation, NotFound, Schema
from contracts.kernel.validation import validating_proxy


class StockDTO(Schema):
    sku: str
    on_hand: int


class StockMissing(NotFound):
    """No stock for this SKU."""


class Stock(Contract, module="testmod"):
    def level(self, sku: str) -> StockDTO: ...

    def levels(self, skus: list[str], *, at: datetime.date | None = None) -> list[StockDTO]: ...

    def value(self, sku: str) -> decimal.Decimal: ...

    def forget(self, sku: str) -> None: ...

    def restock(self, item: StockDTO) -> int: ...


class HonestStock(Stock):
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def level(self, sku: str) -> StockDTO:
        self.calls.append(("level", sku))
        if sku == "missing":
            raise StockMissing(sku=sku)
        return StockDTO(sku=sku, on_hand=3)

    def levels(self, skus: list[str], *, at: datetime.date | None = None) -> list[StockDTO]:
        self.calls.append(("levels", at))
        return [StockDTO(sku=s, on_hand=1) for s in skus]

    def value(self, sku: str) -> decimal.Decimal:
        return decimal.Decimal("1.50")

    def forget(self, sku: str) -> None:
        return None

    def restock(self, item: StockDTO) -> int:
        self.calls.append(("restock", item))
        return item.on_hand


class LeakyStock(HonestStock):
    """Returns what an implementation must not: dicts, a float for a Decimal, a value for None."""

    def level(self, sku: str) -> StockDTO:
        return {"sku": sku, "on_hand": 3}  # type: ignore[return-value]

    def levels(self, skus: list[str], *, at: datetime.date | None = None) -> list[StockDTO]:
        return (StockDTO(sku=s, on_hand=1) for s in skus)  # type: ignore[return-value]

    def value(self, sku: str) -> decimal.Decimal:
        return 1.5  # type: ignore[return-value]

    def forget(self, sku: str) -> None:
        return sku  # type: ignore[return-value]


def test_good_calls_go_through_to_the_implementation() -> None:
    implementation = HonestStock()
    proxy = validating_proxy(Stock, implementation)
    assert isinstance(proxy, Stock)
    assert proxy.level("A") == StockDTO(sku="A", on_hand=3)
    assert proxy.levels(["A", "B"], at=datetime.date(2025, 1, 1))[1].sku == "B"
    assert proxy.value("A") == decimal.Decimal("1.50")
    assert proxy.forget("A") is None
    assert proxy.restock(StockDTO(sku="A", on_hand=2)) == 2
    assert implementation.calls == [
        ("level", "A"),
        ("levels", datetime.date(2025, 1, 1)),
        ("restock", StockDTO(sku="A", on_hand=2)),
    ]


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (lambda p: p.level(42), "testmod.Stock.level(sku)"),
        (lambda p: p.level(sku=b"A"), "testmod.Stock.level(sku)"),
        (lambda p: p.levels("AB"), "testmod.Stock.levels(skus)"),
        (lambda p: p.levels(["A", 1]), "testmod.Stock.levels(skus)"),
        (lambda p: p.levels(["A"], at="2025-01-01"), "testmod.Stock.levels(at)"),
        (lambda p: p.levels(["A"], at=datetime.datetime(2025, 1, 1, 12)), "testmod.Stock.levels(at)"),
        (lambda p: p.restock({"sku": "A", "on_hand": 2}), "testmod.Stock.restock(item)"),
    ],
    ids=[
        "int-for-str",
        "bytes-for-str",
        "str-for-list",
        "int-in-list",
        "str-for-date",
        "datetime-for-date",
        "dict-for-dto",
    ],
)
def test_a_wrong_argument_type_is_a_contract_violation(call: object, where: str) -> None:
    implementation = HonestStock()
    with pytest.raises(ContractViolation) as caught:
        call(validating_proxy(Stock, implementation))  # type: ignore[operator]
    assert str(caught.value).startswith(f"{where}: ")
    assert "(got " in str(caught.value)
    assert implementation.calls == []  # refused before the implementation runs


def test_a_wrong_number_of_arguments_is_a_contract_violation() -> None:
    proxy = validating_proxy(Stock, HonestStock())
    with pytest.raises(ContractViolation, match=r"^testmod\.Stock\.level: "):
        proxy.level()  # type: ignore[call-arg]
    with pytest.raises(ContractViolation, match=r"^testmod\.Stock\.level: "):
        proxy.level("A", "B")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("method", "args"),
    [("level", ("A",)), ("levels", (["A"],)), ("value", ("A",)), ("forget", ("A",))],
)
def test_a_wrong_return_type_is_a_contract_violation(method: str, args: tuple[object, ...]) -> None:
    proxy = validating_proxy(Stock, LeakyStock())
    with pytest.raises(ContractViolation, match=rf"^testmod\.Stock\.{method} -> return: "):
        getattr(proxy, method)(*args)


def test_contract_violation_is_also_a_type_error() -> None:
    assert issubclass(ContractViolation, TypeError)


def test_declared_contract_errors_pass_through_unchanged() -> None:
    with pytest.raises(StockMissing) as caught:
        validating_proxy(Stock, HonestStock()).level("missing")
    assert caught.value.details == {"sku": "missing"}
