from contracts.catalog import Catalog
from contracts.kernel import ModuleConfig


class CatalogConfig(ModuleConfig):
    name = "modules.catalog"
    label = "catalog"
    provides = [Catalog]
