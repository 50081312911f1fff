"""Where the plugin keeps its state on pytest objects: the stash keys, and the two
look-ups the fixture needs.

A leaf module: plugin.py, session.py and fixtures.py all import it, and it imports none
of them, so there is no import circle between the three.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .config import Settings

if TYPE_CHECKING:
    from .record.recorder import Recorder  # noqa: F401 - named in a string below
    from .session import RagcostSession

#: The run's :class:`~pytest_ragcost.session.RagcostSession`, on ``config.stash``.
SESSION_KEY = pytest.StashKey["RagcostSession"]()
#: The resolved :class:`~pytest_ragcost.config.Settings`, on ``config.stash``.
SETTINGS_KEY = pytest.StashKey[Settings]()
#: The test's :class:`~pytest_ragcost.record.recorder.Recorder`, on ``item.stash`` (named
#: as a string: the recorder module loads only when a test asks for the fixture)
RECORDER_KEY = pytest.StashKey["Recorder"]()


def get_session(config: pytest.Config) -> RagcostSession | None:
    """The run's session object, or None when ``--ragcost`` is off."""
    return config.stash.get(SESSION_KEY, None)


def requests_cap(config: pytest.Config) -> int | None:
    """``--ragcost-requests``, which caps scenarios with or without metering."""
    settings = config.stash.get(SETTINGS_KEY, None)
    return settings.requests if settings is not None else None

#: the plugin name of ``ragcost estimate``'s collector: beside it the plugin collects
#: and meters nothing
COLLECTOR = "ragcost-estimate"
