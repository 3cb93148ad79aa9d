"""Fixtures for the forge-backed probes: one fake GitHub and one fake GitLab server per
session, and a fresh API state for every test (a repository, a project, tokens in the
environment, as the checklist references them)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .fake_forges import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    FakeGitHub,
    FakeGitLab,
    FakeServer,
    GitHubRepo,
    GitLabProject,
    serving,
)

RELEASE_SHA = "3f7c2a9be0d14c5a8e6f1b2d3c4a5e6f7a8b9c0d"
MAIN_SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
GITHUB_TOKEN_ENV = "GOLIVE_TEST_GITHUB_TOKEN"
GITLAB_TOKEN_ENV = "GOLIVE_TEST_GITLAB_TOKEN"


@pytest.fixture(scope="session")
def github_server() -> Iterator[FakeServer]:
    with serving(FakeGitHub()) as server:
        yield server


@pytest.fixture(scope="session")
def gitlab_server() -> Iterator[FakeServer]:
    with serving(FakeGitLab()) as server:
        yield server


@pytest.fixture
def github(github_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitHub:
    """valeo/neuroerp with tag v1.1.0 and branch main; no runs, issues or labels yet."""
    repo = GitHubRepo(id=4711, tags={"v1.1.0": RELEASE_SHA}, branches={"main": MAIN_SHA})
    fake = FakeGitHub(repos={"valeo/neuroerp": repo})
    github_server.api = fake
    monkeypatch.setenv(GITHUB_TOKEN_ENV, GITHUB_TOKEN)
    return fake


@pytest.fixture
def gitlab(gitlab_server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> FakeGitLab:
    """Project 42, valeo/erp, with tag v1.1.0 and branch main; no pipelines or issues yet."""
    project = GitLabProject(id=42, path="valeo/erp", tags={"v1.1.0"}, branches={"main"})
    fake = FakeGitLab(projects=[project])
    gitlab_server.api = fake
    monkeypatch.setenv(GITLAB_TOKEN_ENV, GITLAB_TOKEN)
    return fake


@pytest.fixture
def github_url(github_server: FakeServer) -> str:
    return github_server.base_url


@pytest.fixture
def gitlab_url(gitlab_server: FakeServer) -> str:
    return f"{gitlab_server.base_url}/api/v4"
