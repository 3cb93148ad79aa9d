"""Every surface of golive: the CLI, the console, Slack and HTTP. The only layer that
talks to people; it drives ``golive.checks`` and ``golive.storage``."""
