"""Composition root: knows every process of the hub (runner, CLI, OpenAPI export).

Services never import this package; it imports them.
"""
