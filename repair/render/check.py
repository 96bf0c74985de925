"""What ``repair check`` shows: the report, then what ``--pre-update`` found (the ``update``
object) and what ``--before-install`` predicts (the ``before_install`` object)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from repair.render.report import report_text

if TYPE_CHECKING:
    from repair.model import Report


def check_text(
    report: Report, *, color: bool = False, verbose: bool = False, width: int = 0
) -> str:
    """``repair check``: the report, then what ``--pre-update`` and ``--before-install`` found."""
    text = report_text(report, color=color, verbose=verbose, width=width)
    if "update" in report.extra:
        text += "\n" + update_text(report.extra["update"])
    if "before_install" in report.extra:
        text += "\n" + before_install_text(report.extra["before_install"])
    return text


def update_text(update: dict[str, Any]) -> str:
    """A short text summary of the ``update`` object, for the text report."""
    lines = ["Update"]
    if update.get("fetched"):
        lines.append(f"  fetched  {update.get('upstream') or 'upstream'}")
    elif update.get("fetch_error"):
        lines.append(f"  fetch    failed ({update['fetch_error']}); last fetched state used")
    if update.get("behind") is not None:
        lines.append(f"  behind   {update['behind']} commit(s), ahead {update['ahead']}")
    for change in update.get("requirements", []):
        lines.append(
            f"  require  {change['name']}: {change['from'] or '(new)'} -> "
            f"{change['to'] or '(removed)'}  [{change['file']}]"
        )
    for move in update.get("packages", []):
        flag = "  RISKY" if move.get("risky") else ""
        lines.append(f"  moves    {move['name']} {move['from'] or '(new)'} -> {move['to']}{flag}")
    if update.get("prediction") and update["prediction"] not in ("pip", "requirements unchanged"):
        lines.append(f"  predict  unavailable: {update['prediction']}")
    snap = update.get("snapshot") or {}
    if snap:
        lines.append(
            f"  snapshot {snap.get('status')}" + (f" {snap['id']}" if snap.get("id") else "")
        )
    for reason in update.get("refused", []):
        lines.append(f"  refused  {reason}")
    if update.get("not_compared") or (not update.get("compared") and not update.get("refused")):
        verdict = (
            "nothing could be compared: "
            + (update.get("not_compared") or "no upstream")
            + "; what an update would change is unknown"
        )
    elif update.get("safe"):
        verdict = "safe to update" + ("" if update.get("fetched") else " (as of the last fetch)")
    else:
        verdict = "do not update yet"
    lines.append("  verdict  " + verdict)
    return "\n".join(lines) + "\n"


def before_install_text(data: dict[str, Any]) -> str:
    """A short text summary of the ``before_install`` object, for the text report."""
    lines = [f"Before installing {data.get('input')}"]
    if data.get("prediction") not in (None, "pip"):
        lines.append(f"  predict  unavailable: {data['prediction']}")
    for m in data.get("packages", []):
        flag = f"  PROTECTED: {m['reason']}" if m.get("protected") else ""
        lines.append(f"  moves    {m['name']} {m['from'] or '(new)'} -> {m['to']}{flag}")
    con = data.get("constraints")
    if con:
        lines.append(f"  wrote    {con['file']} ({len(con['lines'])} constraint(s))")
        if con.get("resolves"):
            kept = (
                "no protected package moves"
                if not con.get("protected")
                else "still moves " + ", ".join(con["protected"])
            )
            lines.append(f"  with it  pip installs {len(con['packages'])} package(s); {kept}")
        elif con.get("resolves") is False:
            lines.append(f"  with it  pip cannot install it: {con.get('why')}")
    lines.append(
        "  verdict  "
        + (
            "safe to install"
            if data.get("safe")
            else "installing it as it is breaks the environment"
        )
    )
    return "\n".join(lines) + "\n"
