"""Identity tests share the suite-wide fixtures of tests/conftest.py."""
