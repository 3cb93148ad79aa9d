"""Every user-facing string of the Slack and console surfaces, in English and German.

The checklist's ``release.language`` picks the language. Keys are plain names; values are
``str.format`` templates. A test checks both languages define the same keys with the same
placeholders.
"""

from __future__ import annotations

from typing import Any, Literal

Language = Literal["en", "de"]

EN: dict[str, str] = {
    "help": (
        "*golive* decides whether {release} may go live.\n"
        "• `/golive status [phase]` — latest state and the verdict, no probing\n"
        "• `/golive run [phase]` — probe now; results in the thread\n"
        "• `/golive signoff` — the sign-off card\n"
        "• `/golive confirm` — confirm manual items with an evidence link\n"
        "• `/golive note <text>` — add a note to the report\n"
        "• `/golive waive <item> <days> <reason>` — waive a failing item for a while\n"
        "• `/golive report` — the checklist filled in"
    ),
    "unknown_command": "I don't know `{command}`.",
    "run_started": "{release}: run #{run} started by <@{user}> ({scope})",
    "run_header": "Go-live run #{run} · {release}",
    "run_progress": "{done} of {total} items decided",
    "run_finished": "Run #{run} finished in {seconds:.1f} s",
    "run_in_flight": "A run is already in flight (#{run}); its results will follow in its thread.",
    "all_phases": "all phases",
    "phase_scope": "phase {phase}",
    "phase_summary": "*{phase}*: {counts}",
    "phase_all_green": "all {total} items fine",
    "phase_problems": "Problems in {phase}",
    "continued": "(continued {part}/{parts})",
    "item_line": "{mark} *{title}* (`{item}`) — {status}: {message}",
    "owner": "owner: {owner}",
    "evidence": "<{link}|evidence>",
    "not_run": "not run yet",
    "verdict_go": ":rocket: *GO* — every blocking item passes and every sign-off holds.",
    "verdict_no_go": ":no_entry: *NO-GO* — {count} blocker(s)",
    "blocker_line": "• `{subject}` {title} — {status}: {reason}",
    "more_blockers": "… and {count} more",
    "status_header": "Go-live status · {release}",
    "status_no_run": "No run yet: `/golive run` probes now.",
    "signoff_header": "Sign-off · {release}",
    "signoff_intro": "Each role signs the results of run #{run} (fingerprint `{fingerprint}`).",
    "signoff_role_held": ":white_check_mark: *{role}* — <@{user}> on {date}",
    "signoff_role_pending": ":hourglass_flowing_sand: *{role}* — {reason}",
    "signoff_button": "Sign as {role}",
    "revoke_button": "Revoke {role}",
    "signoff_done": "{role} signed off by <@{user}> on run #{run}.",
    "signoff_already": "{role} is already signed off by <@{user}>.",
    "signoff_revoked": "{role} sign-off revoked by <@{user}>.",
    "signoff_nothing_to_revoke": "{role} has no sign-off to revoke.",
    "signoff_invalidated": ":warning: The {role} sign-off no longer holds: {reason}. {mentions} please review and sign again.",
    "not_approver": "Only approvers of {role} can do that.",
    "no_run_to_sign": "Nothing to sign yet: run the checklist first (`/golive run`).",
    "confirm_header": "Manual items · {release}",
    "confirm_item_done": ":white_check_mark: *{title}* — confirmed by <@{user}>: {link}",
    "confirm_item_pending": ":hourglass_flowing_sand: *{title}* (`{item}`) — owner: {owner}",
    "confirm_button": "Confirm",
    "confirm_modal_title": "Confirm item",
    "confirm_modal_submit": "Confirm",
    "confirm_modal_evidence": "Evidence link",
    "confirm_modal_comment": "Comment",
    "confirm_done": "{title} confirmed by <@{user}>.",
    "evidence_invalid": "Give an http(s) link to the evidence.",
    "note_saved": "Note saved.",
    "note_usage": "Usage: `/golive note <text>`",
    "waive_usage": "Usage: `/golive waive <item> <days> <reason>`",
    "waived": "{item} waived until {until} by <@{user}>: {reason}",
    "error": "That did not work: {reason}",
    "report_intro": "The checklist, filled in:",
    "go_announcement": ":rocket: *GO for {release}* — every blocking item passes and every sign-off holds.",
    "no_go_announcement": ":no_entry: *NO-GO for {release}* — GO withdrawn: {reason}",
    "rollback_header": "Rollback plan",
    "rollback_procedure": "*Procedure:* {procedure}",
    "rollback_revision": "*Last known-good revision:* `{revision}`",
    "rollback_triggers": "*Triggers:*\n{triggers}",
    "rollback_roles": "*Roles:*\n{roles}",
    "rollback_contacts": "*Contacts:*\n{contacts}",
    "rollback_communication": "*Communication plan:* {plan}",
    "rollback_missing": "_not declared_",
    "chart_latency_title": "{phase}: probe latency over recent runs",
    "chart_errors_title": "{phase}: failing and erroring items over recent runs",
    "chart_latency_alt": "Line chart of probe durations in milliseconds for the last {runs} runs of {phase}; latest slowest probe {slowest:.0f} ms.",
    "chart_errors_alt": "Bar chart of failing and erroring items for the last {runs} runs of {phase}; latest run: {failing} failing, {erroring} erroring.",
    "chart_axis_run": "run",
    "chart_axis_ms": "milliseconds",
    "chart_axis_items": "items",
    "chart_failing": "FAIL",
    "chart_erroring": "ERROR",
    "chart_limit": "limit",
    "chart_error_rate": "error rate",
}

DE: dict[str, str] = {
    "help": (
        "*golive* entscheidet, ob {release} live gehen darf.\n"
        "• `/golive status [phase]` — letzter Stand und Entscheidung, ohne neue Prüfung\n"
        "• `/golive run [phase]` — jetzt prüfen; Ergebnisse im Thread\n"
        "• `/golive signoff` — die Sign-off-Karte\n"
        "• `/golive confirm` — manuelle Punkte mit Nachweis-Link bestätigen\n"
        "• `/golive note <Text>` — Notiz zum Bericht hinzufügen\n"
        "• `/golive waive <Punkt> <Tage> <Grund>` — fehlschlagenden Punkt befristet ausnehmen\n"
        "• `/golive report` — die ausgefüllte Checkliste"
    ),
    "unknown_command": "`{command}` kenne ich nicht.",
    "run_started": "{release}: Lauf #{run} gestartet von <@{user}> ({scope})",
    "run_header": "Go-Live-Lauf #{run} · {release}",
    "run_progress": "{done} von {total} Punkten entschieden",
    "run_finished": "Lauf #{run} nach {seconds:.1f} s beendet",
    "run_in_flight": "Es läuft bereits ein Lauf (#{run}); seine Ergebnisse folgen in seinem Thread.",
    "all_phases": "alle Phasen",
    "phase_scope": "Phase {phase}",
    "phase_summary": "*{phase}*: {counts}",
    "phase_all_green": "alle {total} Punkte in Ordnung",
    "phase_problems": "Probleme in {phase}",
    "continued": "(Fortsetzung {part}/{parts})",
    "item_line": "{mark} *{title}* (`{item}`) — {status}: {message}",
    "owner": "verantwortlich: {owner}",
    "evidence": "<{link}|Nachweis>",
    "not_run": "noch nicht geprüft",
    "verdict_go": ":rocket: *GO* — alle blockierenden Punkte bestanden, alle Sign-offs gültig.",
    "verdict_no_go": ":no_entry: *NO-GO* — {count} Blocker",
    "blocker_line": "• `{subject}` {title} — {status}: {reason}",
    "more_blockers": "… und {count} weitere",
    "status_header": "Go-Live-Status · {release}",
    "status_no_run": "Noch kein Lauf: `/golive run` prüft jetzt.",
    "signoff_header": "Sign-off · {release}",
    "signoff_intro": "Jede Rolle zeichnet die Ergebnisse von Lauf #{run} ab (Fingerabdruck `{fingerprint}`).",
    "signoff_role_held": ":white_check_mark: *{role}* — <@{user}> am {date}",
    "signoff_role_pending": ":hourglass_flowing_sand: *{role}* — {reason}",
    "signoff_button": "Abzeichnen als {role}",
    "revoke_button": "{role} zurückziehen",
    "signoff_done": "{role} abgezeichnet von <@{user}> auf Lauf #{run}.",
    "signoff_already": "{role} ist bereits abgezeichnet von <@{user}>.",
    "signoff_revoked": "Sign-off {role} zurückgezogen von <@{user}>.",
    "signoff_nothing_to_revoke": "{role} hat kein Sign-off zum Zurückziehen.",
    "signoff_invalidated": ":warning: Das Sign-off {role} gilt nicht mehr: {reason}. {mentions} bitte prüfen und neu abzeichnen.",
    "not_approver": "Das dürfen nur Freigebende von {role}.",
    "no_run_to_sign": "Noch nichts abzuzeichnen: zuerst die Checkliste prüfen (`/golive run`).",
    "confirm_header": "Manuelle Punkte · {release}",
    "confirm_item_done": ":white_check_mark: *{title}* — bestätigt von <@{user}>: {link}",
    "confirm_item_pending": ":hourglass_flowing_sand: *{title}* (`{item}`) — verantwortlich: {owner}",
    "confirm_button": "Bestätigen",
    "confirm_modal_title": "Punkt bestätigen",
    "confirm_modal_submit": "Bestätigen",
    "confirm_modal_evidence": "Nachweis-Link",
    "confirm_modal_comment": "Kommentar",
    "confirm_done": "{title} bestätigt von <@{user}>.",
    "evidence_invalid": "Bitte einen http(s)-Link zum Nachweis angeben.",
    "note_saved": "Notiz gespeichert.",
    "note_usage": "Verwendung: `/golive note <Text>`",
    "waive_usage": "Verwendung: `/golive waive <Punkt> <Tage> <Grund>`",
    "waived": "{item} ausgenommen bis {until} von <@{user}>: {reason}",
    "error": "Das hat nicht geklappt: {reason}",
    "report_intro": "Die ausgefüllte Checkliste:",
    "go_announcement": ":rocket: *GO für {release}* — alle blockierenden Punkte bestanden, alle Sign-offs gültig.",
    "no_go_announcement": ":no_entry: *NO-GO für {release}* — GO zurückgenommen: {reason}",
    "rollback_header": "Rollback-Plan",
    "rollback_procedure": "*Prozedur:* {procedure}",
    "rollback_revision": "*Letzte bekannt gute Revision:* `{revision}`",
    "rollback_triggers": "*Trigger:*\n{triggers}",
    "rollback_roles": "*Rollen:*\n{roles}",
    "rollback_contacts": "*Kontakte:*\n{contacts}",
    "rollback_communication": "*Kommunikationsplan:* {plan}",
    "rollback_missing": "_nicht festgelegt_",
    "chart_latency_title": "{phase}: Latenz der Prüfungen in den letzten Läufen",
    "chart_errors_title": "{phase}: fehlschlagende Punkte in den letzten Läufen",
    "chart_latency_alt": "Liniendiagramm der Prüfdauern in Millisekunden der letzten {runs} Läufe von {phase}; langsamste Prüfung zuletzt {slowest:.0f} ms.",
    "chart_errors_alt": "Balkendiagramm fehlschlagender Punkte der letzten {runs} Läufe von {phase}; letzter Lauf: {failing} FAIL, {erroring} ERROR.",
    "chart_axis_run": "Lauf",
    "chart_axis_ms": "Millisekunden",
    "chart_axis_items": "Punkte",
    "chart_failing": "FAIL",
    "chart_erroring": "ERROR",
    "chart_limit": "Grenze",
    "chart_error_rate": "Fehlerrate",
}

CATALOGUES: dict[str, dict[str, str]] = {"en": EN, "de": DE}


def text(language: str, key: str, **values: Any) -> str:
    """The message ``key`` in ``language`` (English when a language lacks it)."""
    template = CATALOGUES.get(language, EN).get(key) or EN[key]
    return template.format(**values)
