"""Run segment-analytics-python's own call-semantics tests against edgetrack (a script).

The installed package ships its tests (``segment/analytics/test/``). This script runs
``test_client.py`` and ``test_module.py`` with ``segment.analytics`` standing for edgetrack:

- ``segment.analytics`` is the ``edgetrack`` module itself (its Segment-style settings and
  module-level calls);
- ``segment.analytics.client.Client`` is a constructor shim: ``edgetrack.compat.SegmentClient``
  pointed at the loopback emulator (which accepts the suite's write keys as Segment's API
  does), each client with a queue file of its own;
- ``mock`` is ``unittest.mock``.

``TestClient`` overrides ``TestCase.fail`` to record on_error calls, which also silences every
``assertEqual`` on strings and dicts (they report through ``self.fail``); the script puts the
raising behaviour back for those calls, so a wrong value fails as it should. With the argument
``segment`` it runs the same tests against segment-analytics-python itself, pointed at the same
emulator, for comparison.

It prints one JSON object: the outcome of every test. ``tests/test_segment_suite.py`` runs it.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import sys
import tempfile
import types
import unittest
import unittest.mock
from pathlib import Path
from typing import Any


def main(against: str) -> None:
    from edgetrack.emulator import Emulator

    spec = importlib.util.find_spec("segment.analytics")
    assert spec is not None and spec.origin is not None, "segment-analytics-python is not installed"
    suite_dir = Path(spec.origin).parent / "test"
    emulator = Emulator(segment_write_key="testsecret").start()
    folder = Path(tempfile.mkdtemp())
    numbers = itertools.count()
    if against == "segment":
        _point_segment_at(emulator.url)
    else:
        _install_shim(emulator.url, folder, numbers)
    print(json.dumps(_run(suite_dir)), flush=True)
    # The emulator keeps serving until the process ends: the clients' exit-time flushes use it.


def _point_segment_at(url: str) -> None:
    """The real package, its clients and module-level calls sent to the emulator."""
    import segment.analytics as analytics
    import segment.analytics.client as client_module

    original = client_module.Client

    class Pointed(original):  # type: ignore[misc, valid-type]
        def __init__(self, write_key: Any = None, host: Any = None, *args: Any, **kwargs: Any) -> None:
            super().__init__(write_key, host or url, *args, **kwargs)

    client_module.Client = Pointed
    analytics.Client = Pointed
    analytics.host = url
    sys.modules["mock"] = unittest.mock


def _install_shim(url: str, folder: Path, numbers: Any) -> None:
    import edgetrack
    from edgetrack.compat import SegmentClient

    class Shim(SegmentClient):
        def __init__(self, write_key: Any = None, host: Any = None, *args: Any, **kwargs: Any) -> None:
            kwargs.setdefault("path", folder / f"client-{next(numbers)}.db")
            super().__init__(write_key, host or url, *args, **kwargs)

    edgetrack.host = url  # the module-level client, as the suite's setUp leaves host unset
    client_module = types.ModuleType("segment.analytics.client")
    client_module.Client = Shim  # type: ignore[attr-defined]
    version_module = types.ModuleType("segment.analytics.version")
    version_module.VERSION = edgetrack.__version__  # type: ignore[attr-defined]
    package = types.ModuleType("segment")
    package.__path__ = []
    sys.modules.update(
        {
            "segment": package,
            "segment.analytics": edgetrack,
            "segment.analytics.client": client_module,
            "segment.analytics.version": version_module,
            "mock": unittest.mock,
        }
    )


def _run(suite_dir: Path) -> dict[str, Any]:
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in ("test_client", "test_module"):
        module_spec = importlib.util.spec_from_file_location(
            f"segment_suite_{name}", suite_dir / f"{name}.py"
        )
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        case = getattr(module, "TestClient", None)
        if case is not None:
            case.fail = _fail_or_record
        suite.addTests(loader.loadTestsFromModule(module))
    ran = [test.id().split(".", 1)[1] for test in _tests(suite)]  # the suite forgets them as it runs
    result = unittest.TestResult()
    suite.run(result)
    failed = {
        test.id().split(".", 1)[1]: text.strip().splitlines()[-1]
        for test, text in result.failures + result.errors
    }
    return {"ran": ran, "failed": failed}


def _fail_or_record(self: Any, error: Any = None, batch: Any = None) -> None:
    """An on_error call (two arguments) is recorded, as the suite meant; an assertion's message
    (one str) fails the test, as ``TestCase.fail`` does."""
    if batch is None and isinstance(error, str):
        raise self.failureException(error)
    self.failed = True


def _tests(suite: unittest.TestSuite) -> list[unittest.TestCase]:
    found: list[unittest.TestCase] = []
    for item in suite:
        found += _tests(item) if isinstance(item, unittest.TestSuite) else [item]
    return found


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "edgetrack")
