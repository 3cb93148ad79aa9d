"""Everything that speaks Slack (Bolt and slack_sdk): the app, commands, buttons and modals,
approvers, the request guard, the Web client, the Slack surface and error replies."""
