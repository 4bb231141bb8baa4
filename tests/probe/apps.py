from contracts.kernel import ModuleConfig


class ProbeConfig(ModuleConfig):
    name = "tests.probe"
    label = "probe"
