"""The documentation of a rule, as ``kmigrate explain`` prints it (also SARIF's rule help)."""

from __future__ import annotations

from kmigrate.catalogue import Rule

__all__ = ["explain_text"]


def explain_text(rule: Rule) -> str:
    lines = [
        f"# {rule.code} {rule.name}",
        "",
        rule.title,
        "",
        f"What breaks: {rule.breaks}. Applies to Keras {rule.keras}. Catalogue entries: "
        + ", ".join(str(c) for c in rule.catalogue)
        + ".",
        "",
        f"Keras 2: {rule.keras2}",
        f"Keras 3: {rule.keras3}",
    ]
    if rule.description.strip():
        lines += ["", rule.description.strip()]
    lines += ["", "## Example", "", "```python", rule.example.before.strip("\n"), "```"]
    if rule.example.after is not None:
        lines += ["", "becomes", "", "```python", rule.example.after.strip("\n"), "```"]
    fix_line = {"safe": "safe", "unsafe": "unsafe (applied only with --unsafe-fixes)", "none": "none"}[rule.fix]
    lines += ["", f"## Fix safety: {fix_line}"]
    if rule.fix_title:
        lines += ["", rule.fix_title + "."]
    if rule.fix_safety_note.strip():
        lines += ["", rule.fix_safety_note.strip()]
    if rule.intended_difference.strip():
        lines += [
            "",
            "Intended difference (applied under `fix --verify` only with `--unsafe-fixes`): "
            + rule.intended_difference.strip(),
        ]
    if not rule.default_enabled:
        lines += ["", f"Off by default: enable with `--select {rule.code}`."]
    if rule.references:
        lines += ["", "## References", ""] + [f"- {ref}" for ref in rule.references]
    return "\n".join(lines) + "\n"
