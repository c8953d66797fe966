"""Answer: extractive and honest.

The answer is made only of the report's own sentences, each followed by the
number of the passage it comes from. When the retrieved evidence is too weak
the answer says the report does not appear to address the question and shows
the passages as closest matches, not as an answer.
"""

from __future__ import annotations

import numpy as np

from assistant.config import Config
from assistant.retrieve.hybrid import Retrieval
from assistant.types import Answer, AnswerSentence


def compose(question: str, r: Retrieval, spans: np.ndarray, cfg: Config,
            index_of: dict[str, int], note: str = "") -> Answer:
    """Build the Answer from a retrieval: best sentences with [n] markers, or an abstention."""
    hits = r.hits
    abstain, reason = should_abstain(r, cfg, index_of)
    if abstain:
        topic = question.strip().rstrip("?.!")
        text = f"The report does not appear to address this: “{topic}”."
        if hits:
            text += " The closest passages are shown below as near matches, not as an answer."
        return Answer(question, text, (), hits, True, _join(reason, note), r.query)

    # Candidate sentences: every sentence of the cited passages, scored by its
    # similarity to the question, with a small prior for the passage's rank.
    cands: list[tuple[float, int, int, int]] = []  # score, citation, start, end
    for n, hit in enumerate(hits, start=1):
        pi = index_of[hit.passage.id]
        rows = np.flatnonzero(spans[:, 0] == pi) if len(spans) else []
        for row in rows:
            score = float(r.sent_scores[row]) - 0.01 * (n - 1)
            cands.append((score, n, int(spans[row, 1]), int(spans[row, 2])))
    cands.sort(key=lambda c: -c[0])
    if not cands:
        return Answer(question, "", (), hits, False, note, r.query)
    best = cands[0][0]
    # Keep sentences nearly as good as the best one: a second sentence that
    # scores far below the first is more likely noise than more answer.
    chosen = [c for c in cands[: cfg.answer_sentences] if c[0] >= best - 0.12]
    chosen.sort(key=lambda c: (c[1], c[2]))
    sentences = tuple(
        AnswerSentence(hits[c[1] - 1].passage.text[c[2]:c[3]], c[1], round(c[0], 4))
        for c in chosen
    )
    text = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
    return Answer(question, text, sentences, hits, False, note, r.query)


def should_abstain(r: Retrieval, cfg: Config, index_of: dict[str, int]) -> tuple[bool, str]:
    """Decide whether the report answers the question at all.

    The evidence is the best cosine similarity between the question and any
    single sentence of the retrieved passages (a sentence that answers a
    question sits close to it; a topic that is merely nearby does not).
    Two thresholds, calibrated on the dev questions plus the out-of-scope set
    (eval/out_of_scope.jsonl) by `python -m assistant calibrate`:

    * below ``abstain_dense`` nothing in the report is close enough: abstain;
    * below ``abstain_support`` abstain too when the question leans on words
      the report never uses (a name, place or thing it does not mention):
      nearby sentences about other things are then not an answer.
    """
    if not r.hits:
        return True, "nothing was retrieved"
    support = max(float(r.sentence[index_of[h.passage.id]]) for h in r.hits)
    if support < cfg.abstain_dense:
        return True, f"no passage is close to the question (best sentence similarity {support:.2f})"
    if r.unknown_terms and support < cfg.abstain_support:
        terms = ", ".join(r.unknown_terms[:4])
        return True, (f"the report never mentions {terms}, and the closest sentence is only "
                      f"loosely related ({support:.2f})")
    return False, ""


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
