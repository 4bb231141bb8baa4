"""The published language of the project.

``contracts/<module>.py`` holds one module's contract(s), DTOs, contract errors and events; it is
the only thing other modules may import from it. ``contracts.kernel`` is the small machinery that
makes contracts and events work; it imports no contract declaration and no module.
"""
