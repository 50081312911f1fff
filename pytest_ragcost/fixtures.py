"""The ``ragcost`` fixture: thin, it hands the test a
:class:`~pytest_ragcost.record.recorder.Recorder`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from .keys import RECORDER_KEY, get_session, requests_cap
from .marker import MarkerError, params_of, parse

if TYPE_CHECKING:
    from .record.recorder import Recorder


@pytest.fixture
def ragcost(request: pytest.FixtureRequest) -> Recorder:
    """Meter a RAG scenario: ``for q in ragcost.requests(items):`` opens one request per
    item; ``with ragcost.stage("name") as st:`` opens a stage with ``st.tokens()``,
    ``st.usage()``, ``st.count()`` and ``st.first_token()``; ``ragcost.sample(...)`` records a
    quality sample. Without ``--ragcost`` the code runs and nothing is measured.
    """
    # the recorder module loads only when a test asks for the fixture: start-up stays cheap
    from .record.recorder import Recorder

    item = request.node
    try:
        spec = parse(item.get_closest_marker("ragcost"), item.nodeid, params_of(item))
    except MarkerError as exc:
        pytest.fail(str(exc), pytrace=False)
    session = get_session(request.config)
    if session is None:
        recorder = Recorder(
            scenario=spec.scenario,
            nodeid=item.nodeid,
            metering=False,
            requests_cap=requests_cap(request.config),
            marker_requests=spec.requests,
            marker_load=spec.load,
        )
    else:
        recorder = session.recorder_for(item, spec)
    item.stash[RECORDER_KEY] = recorder
    return recorder
