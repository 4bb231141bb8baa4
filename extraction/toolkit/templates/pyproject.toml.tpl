# The {{ label }} service, extracted from the Seams monolith by `manage.py extract_module {{ label }}`.
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "{{ service }}"
version = "0.1.0"
description = "The {{ label }} module of the Seams monolith, served on its own."
requires-python = ">={{ python }}"
# The monolith's runtime dependencies.
dependencies = [
{% for dependency in dependencies %}
    {{ dependency }},
{% endfor %}
]

[tool.setuptools.packages.find]
include = ["service*", "modules*", "contracts*", "extraction*"]

[tool.ruff]
line-length = 120
target-version = "py311"
extend-exclude = ["var", "**/migrations/*"]

[tool.ruff.lint]
select = ["E", "F", "W", "I", "B", "UP", "DJ"]
ignore = ["B904", "E501"]
