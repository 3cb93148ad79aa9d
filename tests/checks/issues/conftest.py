from collections.abc import Iterator

import pytest

from tests.checks.pipeline.fake_forges import FakeServer, serving
from tests.checks.pipeline.forge_fixtures import (
    github,
    github_server,
    github_url,
    gitlab,
    gitlab_server,
    gitlab_url,
)

from .fake_jira import JIRA_API_TOKEN, JIRA_PAT, FakeJira

__all__ = ["github", "github_server", "github_url", "gitlab", "gitlab_server", "gitlab_url"]

JIRA_TOKEN_ENV = "GOLIVE_TEST_JIRA_TOKEN"
JIRA_PAT_ENV = "GOLIVE_TEST_JIRA_PAT"


@pytest.fixture(scope="session")
def jira_server() -> Iterator[FakeServer]:
    with serving(FakeJira()) as server:
        yield server


@pytest.fixture
def jira(jira_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeJira:
    fake = FakeJira()
    jira_server.api = fake
    monkeypatch.setenv(JIRA_TOKEN_ENV, JIRA_API_TOKEN)
    monkeypatch.setenv(JIRA_PAT_ENV, JIRA_PAT)
    return fake


@pytest.fixture
def jira_url(jira_server: FakeServer) -> str:
    return jira_server.base_url
