"""``type = seams``: an import-linter contract type that reads the module manifests itself.

Configured once in ``importlinter.ini``::

    [importlinter]
    root_packages =
        contracts
    contract_types =
        seams: contracts.kernel.importcontract.SeamsBoundaries

    [importlinter:contract:seams]
    name = Seams boundaries (every package of the project, read from the module manifests)
    type = seams

Why a contract type rather than a generated file: the generated file listed the packages and
modules it knew of the day it was written, so a package added later (``shared/``, a ``utils.py``)
was outside every rule until someone regenerated it. This type discovers the project's packages
and manifests on each run (``contracts.kernel.boundaries``), so the file has nothing to go stale.
It builds its own graph of every top-level package (``root_packages`` above only satisfies
import-linter, which wants one) and checks only direct imports, which is why it stays fast on a
hundred modules; chains are traced for what is broken.

Only ``lint-imports`` imports this file (import-linter and grimp are development dependencies).
"""

from __future__ import annotations

import sys
from pathlib import Path

from importlinter import Contract, ContractCheck, fields, output
from rich.markup import escape  # import-linter prints through rich: a '[rule]' would be read as markup

from .boundaries import Violation, check_project

#: import-linter's own cache directory; ``--no-cache`` on the command line turns ours off too.
CACHE_DIR = ".import_linter_cache"


class SeamsBoundaries(Contract):
    """Every top-level package of the project; the manifests read from ``modules/<x>/apps.py``."""

    modules_package = fields.StringField(required=False, default="modules")
    contracts_package = fields.StringField(required=False, default="contracts")
    #: More top-level names that are not the project's code (virtualenvs and build output never are).
    exclude = fields.ListField(subfield=fields.StringField(), required=False, default=[])
    #: The baseline of recorded violations (docs/adopting.md); set it if SEAMS_BASELINE moves the file.
    baseline = fields.StringField(required=False, default="seams-baseline.json")

    def check(self, graph: object, verbose: bool) -> ContractCheck:
        no_cache = "--no-cache" in sys.argv
        violations = check_project(
            Path.cwd(),
            modules_package=self.modules_package,
            contracts_package=self.contracts_package,
            exclude=self.exclude,
            cache_dir=None if no_cache else CACHE_DIR,
            baseline_file=self.baseline,
        )
        return ContractCheck(kept=not violations, metadata={"violations": violations})

    def render_broken_contract(self, check: ContractCheck) -> None:
        violations: list[Violation] = check.metadata["violations"]
        for violation in violations:
            output.print_error(escape(f"{violation.headline} [{violation.rule}]:"))
            output.new_line()
            for number, line in enumerate(violation.chain):
                if number == 0:
                    output.print_error(escape(f"-   {line}"), bold=False)
                else:
                    output.indent_cursor()
                    output.print_error(escape(line), bold=False)
            output.print(escape(f"    Fix: {violation.fix}"))
            output.new_line()
        output.print(f"{len(violations)} boundary violation{'s' if len(violations) != 1 else ''}.")
