"""Turning the ``explain`` signature's outputs into codes with evidence, as text, JSON or a
self-contained HTML page that highlights each code's evidence in the note (as the JLAN
paper's figures 9 and 10 do). Works on plain NumPy outputs: no model code is needed."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

import numpy as np

from jlan_tf.tokenization import token_spans


EVIDENCE = ("contribution", "attention")  # the explain outputs that can rank the evidence


@dataclass
class Evidence:
    token: str
    weight: float      # the token's contribution to the code's logit, or its attention weight (``by``)
    position: int      # token index in the note


@dataclass
class CodePrediction:
    code: str
    description: str
    probability: float
    evidence: list[Evidence] = field(default_factory=list)
    coded: bool | None = None  # the score reaches the run's dev-tuned threshold (None: an export without it)
    attention: list[float] = field(default_factory=list, repr=False)  # the ranking weights of all tokens, for highlighting


@dataclass
class NotePrediction:
    name: str
    codes: list[CodePrediction]


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def from_explain(names: list[str], outputs: dict, top_k: int, evidence_words: int = 5,
                 by: str = "contribution") -> list[NotePrediction]:
    """Per note, its ``top_k`` codes with their ``evidence_words`` best tokens, ranked ``by`` the
    explain output ``contribution`` (each token's share of the code's logit; the default,
    chosen on CodiEsp's dev spans) or ``attention``."""
    if by not in EVIDENCE:
        raise ValueError(f"evidence ranking must be one of {EVIDENCE}, got {by!r}")
    if by not in outputs:
        raise KeyError(f"this export's explain signature has no {by!r} output (exported by an older version?): "
                       f"export the run again, or rank by 'attention'")
    notes = []
    for i, name in enumerate(names):
        tokens = [_text(t) for t in outputs["tokens"][i]]
        n_tokens = sum(1 for t in tokens if t)
        codes = []
        for j in range(min(top_k, outputs["top_codes"].shape[1])):
            attention = np.asarray(outputs[by][i, j, :n_tokens], np.float64)
            best = np.argsort(-attention, kind="stable")[:evidence_words]
            codes.append(CodePrediction(
                code=_text(outputs["top_codes"][i, j]), description=_text(outputs["top_descriptions"][i, j]),
                probability=float(outputs["top_scores"][i, j]),
                evidence=[Evidence(tokens[p], float(attention[p]), int(p)) for p in best],
                attention=attention.tolist(),
                coded=bool(outputs["top_coded"][i, j]) if "top_coded" in outputs else None,
            ))
        notes.append(NotePrediction(name, codes))
    return notes


def to_text(notes: list[NotePrediction]) -> str:
    lines = []
    for note in notes:
        lines.append(f"== {note.name}")
        for c in note.codes:
            words = ", ".join(dict.fromkeys(e.token for e in c.evidence))  # each word once, by weight
            mark = {True: "+", False: " ", None: ""}[c.coded]  # +: at or above the dev-tuned threshold
            lines.append(f"{mark}{c.code:>8}  {c.probability:.3f}  {c.description}  [evidence: {words}]")
    return "\n".join(lines) + "\n"


def to_json(notes: list[NotePrediction]) -> list[dict]:
    out = []
    for note in notes:
        codes = [{k: v for k, v in asdict(c).items() if k != "attention"} for c in note.codes]
        out.append({"name": note.name, "codes": codes})
    return out


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-bottom: 1px solid #ccc; }
details { margin: .6em 0; border: 1px solid #ddd; border-radius: 6px; padding: .4em .8em; }
summary { cursor: pointer; } .code { font-weight: bold; font-family: monospace; }
.prob { color: #555; } .note { white-space: pre-wrap; line-height: 1.6; font-family: Georgia, serif; }
mark.evidence { background: rgba(255, 140, 0, var(--w)); border-radius: 3px; padding: 0 1px; }
.words { color: #444; font-size: .9em; }
"""


def _highlighted(text: str, code: CodePrediction, highlight: int) -> str:
    """The note with this code's ``highlight`` best tokens marked (opacity ~ weight; only
    tokens with a positive weight: a negative contribution speaks against the code)."""
    spans = token_spans(text, max_tokens=None)
    attention = np.asarray(code.attention)
    if spans is None or not len(attention):
        return html.escape(text)
    top = np.argsort(-attention, kind="stable")[:highlight]
    strength = {int(p): attention[p] / attention[top[0]] for p in top if attention[p] > 0}
    parts, cursor = [], 0
    for position, (start, end) in enumerate(spans[:len(attention)]):
        if position in strength:
            parts.append(html.escape(text[cursor:start]))
            w = 0.25 + 0.75 * strength[position]
            title = f"weight {attention[position]:.3f}"
            parts.append(f'<mark class="evidence" style="--w:{w:.2f}" title="{title}" '
                         f'data-position="{position}">{html.escape(text[start:end])}</mark>')
            cursor = end
    parts.append(html.escape(text[cursor:]))
    return "".join(parts)


def to_html(notes: list[NotePrediction], texts: list[str], highlight: int = 10,
            title: str = "JLAN: codes and their evidence") -> str:
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>Each code lists its probability (<i>coded</i>: at or above the threshold tuned on dev); the note below it marks the words the model attended "
            "to for that code (darker = more weight). Open a code to see its evidence.</p>"]
    for note, text in zip(notes, texts):
        body.append(f'<section class="note-block"><h2>{html.escape(note.name)}</h2>')
        for k, code in enumerate(note.codes):
            words = ", ".join(html.escape(e.token) for e in code.evidence)
            body.append(
                f'<details{" open" if k == 0 else ""} data-code="{html.escape(code.code)}"><summary>'
                f'<span class="code">{html.escape(code.code)}</span> {html.escape(code.description)} '
                f'<span class="prob">p = {code.probability:.3f}{" (coded)" if code.coded else ""}</span> '
                f'<span class="words">evidence: {words}</span></summary>'
                f'<div class="note">{_highlighted(text, code, highlight)}</div></details>')
        body.append("</section>")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")
