"""The pipelines' tests use the untrained experts of the distill tests."""

from tests.distill.conftest import experts  # noqa: F401 (a fixture)
