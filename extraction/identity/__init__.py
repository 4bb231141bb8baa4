"""Service identity: every internal call carries a short-lived signed token, checked locally.

* :mod:`.keys`: Ed25519 key pairs, one per service; the trust (peers, their modules and keys);
* :mod:`.config`: the ``SEAMS_IDENTITY`` setting from the environment, checked at start-up;
* :mod:`.tokens`: issuing and verifying the JWTs (PyJWT; EdDSA through libsodium);
* :mod:`.replay`: each token is good for one request (its ``jti``, remembered until it expires);
* :mod:`.policy`: authorisation from the manifests (``consumes``, the declaring publisher).

See docs/security.md. ``python -m extraction.identity NAME`` (or ``manage.py service_key NAME``)
creates a key pair.
"""

from typing import TYPE_CHECKING

from contracts.kernel.lazy import lazy_exports

from .config import identity_from_env
from .keys import generate_private_pem, key_id, public_text

if TYPE_CHECKING:
    from .policy import admit_call, admit_event, allowed_callers, allowed_publisher, authorise_event, bearer
    from .tokens import Forbidden, Identity, Refused, Replayed, Unauthenticated, issue, verify

__all__ = [
    "Forbidden",
    "Identity",
    "Refused",
    "Replayed",
    "Unauthenticated",
    "admit_call",
    "admit_event",
    "allowed_callers",
    "allowed_publisher",
    "authorise_event",
    "bearer",
    "generate_private_pem",
    "identity_from_env",
    "issue",
    "key_id",
    "public_text",
    "verify",
]

#: Imported when first asked for: the settings import ``identity.config`` (and the keys it loads),
#: and need neither the tokens (PyJWT, PyNaCl) nor the policy (pydantic, the manifests).
__getattr__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(("admit_call", "admit_event", "allowed_callers", "allowed_publisher", "authorise_event", "bearer"), "policy"),
        **dict.fromkeys(("Forbidden", "Identity", "Refused", "Replayed", "Unauthenticated", "issue", "verify"), "tokens"),
    },
)
