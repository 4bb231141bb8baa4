from contracts.kernel import ModuleConfig


class EventProbeConfig(ModuleConfig):
    name = "tests.eventprobe"
    label = "eventprobe"
