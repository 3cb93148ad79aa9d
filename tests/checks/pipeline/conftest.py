from .forge_fixtures import github, github_server, github_url, gitlab, gitlab_server, gitlab_url

__all__ = ["github", "github_server", "github_url", "gitlab", "gitlab_server", "gitlab_url"]
