"""The measured benchmarks behind the README's results table: run each from the repository root as a module.

    python -m benchmarks.sentiment | benchmarks.ner | benchmarks.efficient | benchmarks.active_learning

See benchmarks/README.md for their flags, --tiny smoke runs and --resume.
"""
