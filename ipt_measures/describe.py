"""Instruments and scores in words a clinician can check against the published paper."""

from __future__ import annotations

from typing import Any

from .plain import Instrument, Scale, Score, scale_range


def instrument_summary(instrument: Instrument, plugin: str | None = None) -> dict[str, Any]:
    """One row of `ipt instruments list`."""
    low, high = scale_range(instrument, instrument.primary)
    return {
        "id": instrument.id,
        "name": instrument.short_name or instrument.name,
        "domain": instrument.domain,
        "items": len(instrument.items),
        "respondent": instrument.respondent,
        "range": f"{low:g}-{high:g}",
        "licence": instrument.licence,
        "plugin": plugin,
    }


def bands_text(scale: Scale) -> str:
    return "; ".join(f"{b.min:g}-{b.max:g} {b.label}" for b in sorted(scale.bands, key=lambda b: b.min)) or "none published"


def readme_table(instruments: list[Instrument]) -> str:
    """The README's instruments table (Markdown), generated so it cannot drift from the definitions."""
    header = "| id | instrument | domain | items | respondent | range | bands (total) | licence |"
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for inst in sorted(instruments, key=lambda i: (i.domain, i.id)):
        low, high = scale_range(inst, inst.primary)
        lines.append(
            f"| `{inst.id}` | {inst.short_name or inst.name} | {inst.domain} | {len(inst.items)} | {inst.respondent} "
            f"| {low:g}-{high:g} | {bands_text(inst.primary)} | {inst.licence} |"
        )
    return "\n".join(lines)


def scale_rule_text(instrument: Instrument, scale: Scale) -> list[str]:
    """The scoring rule of one scale, sentence by sentence."""
    lines = []
    groups = {g.id: g for g in scale.groups}
    parts = []
    for ref in scale.items:
        if ref in groups:
            g = groups[ref]
            parts.append(f"{g.method} of items {', '.join(g.items)} ({g.id})")
        else:
            parts.append(f"item {ref}")
    how = "Sum" if scale.method == "sum" else "Mean"
    lines.append(f"{how} of: {'; '.join(parts)}.")
    if scale.reversed:
        lines.append(f"Reversed before scoring (min + max - answer): items {', '.join(scale.reversed)}.")
    if scale.multiplier != 1:
        lines.append(f"Multiplied by {scale.multiplier:g}.")
    if scale.decimals:
        lines.append(f"Rounded half-up to {scale.decimals} decimal(s) before banding.")
    low, high = scale_range(instrument, scale)
    lines.append(f"Range {low:g} to {high:g}.")
    m = scale.missing
    if m.max_missing == 0:
        lines.append("Missing answers: none allowed; with any missing the scale is not scored.")
    else:
        how_missing = (
            "prorated (sum x components / answered, rounded half-up)"
            if m.prorate and scale.method == "sum"
            else ("mean of the answered items" if scale.method == "mean" else "sum of the answered items")
        )
        lines.append(f"Missing answers: up to {m.max_missing} allowed, {how_missing}; beyond that not scored.")
    lines.append(f"  Source: {m.source}")
    return lines


def instrument_detail(instrument: Instrument, plugin: str | None = None) -> dict[str, Any]:
    """Everything `ipt instruments show` prints, as data (the JSON form) ."""
    data = instrument.model_dump(mode="json", exclude_none=True)
    data["plugin"] = plugin
    data["scale_rules"] = {s.id: scale_rule_text(instrument, s) for s in instrument.scales}
    return data


def instrument_text(instrument: Instrument, plugin: str | None = None) -> str:
    """The human form of `ipt instruments show`."""
    out: list[str] = []
    title = f"{instrument.name} ({instrument.short_name or instrument.id}), id {instrument.id}, version {instrument.version}"
    out += [title, "=" * min(len(title), 100)]
    out.append(f"Respondent: {instrument.respondent}.  Domain: {instrument.domain}.")
    if instrument.recall_period:
        out.append(f"Recall period: {instrument.recall_period}.")
    if instrument.populations:
        out.append(f"Populations: {', '.join(instrument.populations)}.")
    out.append(f"Citation: {instrument.citation}")
    if instrument.scoring_source:
        out.append(f"Scoring guide: {instrument.scoring_source}")
    out.append(f"Licence: {instrument.licence}" + (f". {instrument.licence_note}" if instrument.licence_note else ""))
    if plugin:
        out.append(f"Registered by plugin: {plugin}")
    if instrument.loinc:
        out.append(f"LOINC panel: {instrument.loinc}")
    if instrument.instructions:
        out += ["", f"Instructions: {instrument.instructions}"]
    out += ["", "Items"]
    shared = instrument.options
    if shared:
        out.append("  Answers for every item unless shown: " + "; ".join(f"{o.value} = {o.label}" for o in shared))
    for item in instrument.items:
        tag = " (recorded, not scored)" if item.optional else ""
        out.append(f"  {item.id}. {item.display()}{tag}")
        if item.options is not None:
            out.append("       " + "; ".join(f"{o.value} = {o.label}" for o in item.options))
    for scale in instrument.scales:
        kind = "Total" if scale is instrument.primary else "Subscale"
        out += ["", f"{kind}: {scale.name} ({scale.id})"]
        out += [f"  {line}" for line in scale_rule_text(instrument, scale)]
        if scale.bands:
            out.append("  Bands: " + "; ".join(f"{b.min:g}-{b.max:g} {b.label}" for b in sorted(scale.bands, key=lambda b: b.min)))
            out.append(f"    Source: {scale.bands_source}")
        if scale.change:
            c = scale.change
            facts = ["higher is worse" if c.higher_is_worse else "higher is better"]
            if c.reliable_change is not None:
                facts.append(f"reliable change {c.reliable_change:g} points")
            if c.reliability is not None and c.sd is not None:
                facts.append(f"reliability {c.reliability:g}, SD {c.sd:g}")
            elif c.reliability is not None:
                facts.append(f"reliability {c.reliability:g}")
            if c.clinical_cutoff is not None:
                facts.append(f"clinical cut-off {c.clinical_cutoff:g}")
            if c.remission is not None:
                facts.append(f"remission {'below' if c.higher_is_worse else 'above'} {c.remission:g}")
            out.append("  Change: " + ", ".join(facts) + ".")
            out.append(f"    Source: {c.source}")
            if c.reliable_change is None and (c.reliability is None or c.sd is None):
                out.append("  Reliable change: not assessable (no published threshold, and no reliability and SD "
                           "from one sample verified); change is shown as points and cut-off crossing only.")
    if instrument.critical:
        out += ["", "Critical items (shown to the clinician at once)"]
        for rule in instrument.critical:
            cond = f">= {rule.at_least}" if rule.at_least is not None else f"one of {rule.any_of}"
            out.append(f"  Item {rule.item} answered {cond}: {rule.message} [{rule.kind}]")
            out.append(f"    Source: {rule.source}")
    if instrument.notes:
        out += ["", f"Notes: {instrument.notes}"]
    return "\n".join(out)


def score_lines(score: Score) -> list[str]:
    """A score as the clinician reads it: total, band, subscales (critical items are shown by the caller)."""
    lines = []
    for scale in score.scales:
        label = "Total" if scale is score.total else f"  {scale.name}"
        if scale.value is None:
            lines.append(f"{label}: not scored ({scale.note})")
            continue
        band = f", {scale.band}" if scale.band else ""
        note = f" [{scale.note}]" if scale.note else ""
        lines.append(f"{label}: {scale.display()}{band}{note}")
    return lines
