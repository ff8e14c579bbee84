"""Suite-wide setting: load runs in tests report an invalid run without failing on it.

Here the load generator shares two cores with the server it measures (the simulator or a hostile
server, often in the pytest process itself), so a run can be starved (event-loop lag, a saturated
core) by the machine rather than by the code under test. Every `maascheck load` a test starts
inherits `MAASCHECK_ALLOW_INVALID=1`: the run is still judged and `validity` still written, but
the exit code follows the SLOs. `tests/load/test_validity.py` removes it: validity is what it tests.
"""

from __future__ import annotations

import os

ALLOW_INVALID_ENV = "MAASCHECK_ALLOW_INVALID"
os.environ[ALLOW_INVALID_ENV] = "1"
