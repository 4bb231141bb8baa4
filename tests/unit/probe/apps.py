from contracts.catalog import Catalog
from contracts.kernel import ModuleConfig

from .events import ProbeHappened


class ProbeConfig(ModuleConfig):
    name = "tests.unit.probe"
    label = "probe"
    database = "catalog"
    consumes = [Catalog]
    publishes = [ProbeHappened]
