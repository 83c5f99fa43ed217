from tests.api.conftest import anonymous_board, running  # noqa: F401 (fixtures)
