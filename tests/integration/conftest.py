"""Shared fixtures: one real infrastructure (MariaDB, Redis, etcd, Kafka) per test run."""
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from cluster import Cluster  # noqa: E402


@pytest.fixture(scope="session")
def infra():
    run = os.environ.get("CIM_TEST_RUN") or tempfile.mkdtemp(prefix="cim-test-")
    c = Cluster(run)
    yield c
    c.down()


@pytest.fixture
def cluster(infra):
    """The infrastructure plus whatever daemons a test starts; they are stopped after it."""
    yield infra
    infra.stop_daemons()
