"""Events of the probe module (declared here, with an explicit publisher, instead of in contracts/)."""

from typing import ClassVar

from contracts.kernel import Event


class ProbeHappened(Event):
    """Published by the probe module; listed in its 'publishes'."""

    publisher: ClassVar[str] = "probe"
    key_field: ClassVar[str] = "probe_id"
    probe_id: int
    note: str = ""


class ProbeUnlisted(Event):
    """Declared for the probe module but missing from its 'publishes'."""

    publisher: ClassVar[str] = "probe"
    probe_id: int
