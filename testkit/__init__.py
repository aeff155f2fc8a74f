"""Test support shared by tests/ and benchmarks/: loopback fakes and tiny model builders.

Not shipped (pyproject's packages.find leaves it out); importable from the repository root.
"""
