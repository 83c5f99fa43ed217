from tests.api.conftest import (  # noqa: F401 (fixtures)
    anonymous_board,
    catalog_text,
    more_settings,
    reports,
    running,
)
