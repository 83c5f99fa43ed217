from tests.api.conftest import anonymous_board, reports, running  # noqa: F401 (fixtures)
