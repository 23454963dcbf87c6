"""Loaded first by every pytest process of this project (`-p tests.pytest_start`, pyproject.toml's addopts).

nbval's plugin imports nbformat as pytest starts, and with it jsonschema, which compiles rfc3987-syntax's IRI grammar
(over a second, for a format no notebook schema uses): a cost paid by each of the suite's thirty-odd pytest
processes. An early `-p` plugin loads before the installed plugins, so it can turn that import off first, as
curiolib's own command line does.
"""
from curiolib.classroom.harness import skip_iri_grammar

skip_iri_grammar()
