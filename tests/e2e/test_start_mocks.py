"""The mock launcher of the end-to-end tests: several mocks side by side, all stopped on exit."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import start_mocks


def test_mocks_started_side_by_side_answer_then_stop() -> None:
    with start_mocks(("rest",), ("fortigate",)) as started:
        assert len(started) == 2 and started[0][0] != started[1][0]
        for url, process in started:
            assert process.poll() is None
            assert httpx.get(f"{url}/_mock/requests", timeout=10).status_code == 200
    assert all(process.poll() is not None for _, process in started)


def test_a_mock_that_does_not_start_is_named() -> None:
    with pytest.raises(RuntimeError, match="mock no-such-mock did not start"), \
            start_mocks(("rest",), ("no-such-mock",)):
        pytest.fail("not reached")
