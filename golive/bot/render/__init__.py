"""Pure renderers, data in, output out: the EN/DE message catalogue, Block Kit, text, JSON,
the Markdown report, charts and the checklist authors' guide."""
