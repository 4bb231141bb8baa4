"""EMAIL_BACKEND and SEAMS_EVENT_BACKEND: a bad value is refused before its first use.

Both name a class by dotted path that was imported only when first used: a typo was a 500 at the
first e-mail, or at the first publish. Its form is checked at start-up (``Env.dotted``); importing
it is ``manage.py check``'s (seams.E019, seams.E020), after the settings and the apps are loaded.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contracts.kernel import ConfigurationError
from contracts.kernel.checks import backend_errors, check_backends
from extraction import settings as seams
from tests.support.processes import ROOT, project_env

#: (setting, value, id, what the message says after the setting and its value): refused by the check.
REFUSED = [
    ("EMAIL_BACKEND", "django.core.mail.backends.smtpp.EmailBackend", "seams.E019", "does not import: ModuleNotFoundError: No module named 'django.core.mail.backends.smtpp'."),
    ("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackends", "seams.E019", "does not import: ImportError: Module \"django.core.mail.backends.smtp\" does not define a \"EmailBackends\" attribute/class."),
    ("EMAIL_BACKEND", "django.core.mail.send_mail", "seams.E019", "is not a Django e-mail backend (a class with send_messages())."),
    ("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxBackend", "seams.E020", "does not import: ImportError:"),
    ("SEAMS_EVENT_BACKEND", "contracts.kernel.bus.deliver", "seams.E020", "is not a subclass of contracts.kernel.bus.EventBackend."),
    ("SEAMS_EVENT_BACKEND", "django.core.mail.backends.console.EmailBackend", "seams.E020", "is not a subclass of contracts.kernel.bus.EventBackend."),
]

ACCEPTED = [
    ("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend"),
    ("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend"),
    ("EMAIL_BACKEND", "tests.support.mail.FailingEmailBackend"),
    ("SEAMS_EVENT_BACKEND", "contracts.kernel.outbox.OutboxEventBackend"),
    ("SEAMS_EVENT_BACKEND", "contracts.kernel.bus.InlineEventBackend"),
]


@pytest.mark.parametrize(("name", "value", "id_", "says"), REFUSED, ids=[f"{n}={v}" for n, v, _, _ in REFUSED])
def test_a_backend_that_does_not_import_or_is_not_one_is_a_check_error(name: str, value: str, id_: str, says: str) -> None:
    (error,) = backend_errors({name: value})
    assert (error.id, error.obj) == (id_, name)
    assert error.msg.startswith(f"{name}={value!r} {says}"), error.msg
    assert error.hint.startswith(f"Set {name} to the dotted path of ")


@pytest.mark.parametrize(("name", "value"), ACCEPTED, ids=[f"{n}={v}" for n, v in ACCEPTED])
def test_a_backend_that_imports_passes(name: str, value: str) -> None:
    assert backend_errors({name: value}) == []


def test_the_installed_settings_pass() -> None:
    assert check_backends() == []


@pytest.mark.parametrize("name", ["EMAIL_BACKEND", "SEAMS_EVENT_BACKEND"])
@pytest.mark.parametrize("value", ["smtp", "outbox", "django.core.mail.", ".EmailBackend", "a.b-c.D", "a b.C"])
def test_a_value_that_is_no_dotted_path_stops_start_up(name: str, value: str, tmp_path: Path) -> None:
    env = seams.Env({name: value})
    with pytest.raises(ConfigurationError) as refused:
        seams.django_defaults(env, var_dir=tmp_path) if name == "EMAIL_BACKEND" else seams.seams_defaults(env, debug=True)
    assert str(refused.value).startswith(f"{name}={value!r} is not a dotted path to a class, package.module.Name (default ")


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("EMAIL_BACKEND", "django.core.mail.backends.smtpp.EmailBackend",
         "EMAIL_BACKEND: (seams.E019) EMAIL_BACKEND='django.core.mail.backends.smtpp.EmailBackend' does not import: "
         "ModuleNotFoundError: No module named 'django.core.mail.backends.smtpp'."),
        ("SEAMS_EVENT_BACKEND", "contracts.kernel.bus.deliver",
         "SEAMS_EVENT_BACKEND: (seams.E020) SEAMS_EVENT_BACKEND='contracts.kernel.bus.deliver' is not a subclass of "
         "contracts.kernel.bus.EventBackend."),
    ],
)
def test_manage_py_check_names_the_backend(name: str, value: str, line: str, tmp_path: Path) -> None:
    env = project_env({"SEAMS_VAR_DIR": str(tmp_path), name: value})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert line in result.stderr.splitlines(), result.stderr
