"""explain's answers as text, for a person (docs/explain.md has an example)."""

from __future__ import annotations

from typing import Any

Answer = dict[str, Any]


def render_runs(runs: list[tuple[int, str, list[Answer]]], total: int) -> str:
    """The answers to each target found, as (number among the `total` targets given, target,
    answers). With several targets given each block starts with a `== TARGET (i of n) ==` line
    and blocks are separated by a blank line; a target not found has no block (its error line
    goes to stderr)."""
    if total == 1:
        return "".join(render_text(answers) for _, _, answers in runs)
    return "\n".join(f"== {target} ({number} of {total}) ==\n{render_text(answers)}" for number, target, answers in runs)


def render_text(answers: list[Answer]) -> str:
    lines: list[str] = []
    for answer in answers:
        lines.append(f"{answer['type']} {answer['target']}: {answer['verdict'].upper()}")
        if "rule" in answer:
            lines.append(f"  rule: {answer['rule']}: {answer['description']}")
        if "path" in answer:
            lines.append(f"  path: {' → '.join(answer['path'])}")
        if answer["type"] == "imagestreamtag":
            lines.append(f"  {answer['removedItems']} of {len(answer['items'])} history items are removed")
            _used_by(lines, answer["usedBy"], "  tag used by")
            for item in answer["items"]:
                _item_lines(lines, item, "  ", with_reasons=True)
        elif answer["type"] in ("image", "missing-image"):
            _image_lines(lines, answer)
        else:
            _used_by(lines, answer["usedBy"], "  used by images")
            _used_by(lines, answer["survivingUsers"], "  surviving users")
            if answer["linksDeletedIn"]:
                lines.append(f"  repository links deleted in: {', '.join(answer['linksDeletedIn'])}")
    return "\n".join(lines) + "\n"


def _image_lines(lines: list[str], answer: Answer) -> None:
    if "created" in answer:
        lines.append(f"  created {answer['created'] or 'never (zero time)'}, managed={str(answer['managed']).lower()}")
    if "age" in answer:
        lines.append(f"  age: {answer['age']['text']}")
    for size in answer.get("sizeLimits", []):
        lines.append(f"  size: {size['text']}")
    _reason_lines(lines, answer.get("reasons"), "  ")
    if not answer["historyItems"]:
        lines.append("  no image stream history item names it")
    for item in answer["historyItems"]:
        # an image's reasons already hold those of its items
        _item_lines(lines, item, "  ", with_reasons=answer["type"] == "missing-image")
    for parent in answer.get("manifestLists", []):
        lines.append(f"  child of manifest list {parent['image']}")
        for item in parent["historyItems"]:
            _item_lines(lines, item, "    ", with_reasons=False)
    if answer.get("freesBlobs"):
        lines.append(f"  deleting it frees {len(answer['freesBlobs'])} blob(s): {', '.join(answer['freesBlobs'])}")


def _reason_lines(lines: list[str], reasons: list[Answer] | None, indent: str) -> None:
    if not reasons:
        return
    count = f"{len(reasons)} reasons" if len(reasons) > 1 else "1 reason"
    lines.append(f"{indent}kept because ({count}):")
    lines.extend(f"{indent}  - {reason['rule']}: {reason['text']}" for reason in reasons)


def _used_by(lines: list[str], sample: dict[str, Any], label: str) -> None:
    if not sample["total"]:
        lines.append(f"{label}: none")
        return
    more = f" and {sample['more']} more" if sample["more"] else ""
    lines.append(f"{label}: {', '.join(sample['shown'])}{more}")


def _item_lines(lines: list[str], item: Answer, indent: str, *, with_reasons: bool) -> None:
    lines.append(f"{indent}{item['where']}: {item['verdict']} ({item['rule']}) image {item['image']}")
    lines.append(f"{indent}  {item['description']}")
    if "facts" in item:
        lines.append(f"{indent}  {item['facts']}")
    if with_reasons:
        _reason_lines(lines, item["reasons"], indent + "  ")
    if "usedBy" in item:
        _used_by(lines, item["usedBy"], f"{indent}  used by")
