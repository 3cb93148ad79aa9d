"""Independent of any surface: the use cases, publishing a run, the schedule, notifications
and their alert rules, the outbox, verdict transitions, run diffs and run progress."""
