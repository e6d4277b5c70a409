"""On the real SmolLM2 server, a seeded candidate at T=0.7 is no longer trivially stable: its
repeats run with seeds 7, 8, 9, 10, so open questions get different answers across repeats.

Measured here: with distinct seeds, mean agreement 0.000 and exact-match consistency 0.000 (every
item gave four different answers). When every repeat reused seed 7: agreement 0.917, consistency
0.833; the one item that flipped did so only on its first repeat, where the server's prompt
cache held the previous item's prompt (a numerical difference, not sampling)."""

from __future__ import annotations

from pathlib import Path

from schemas.candidate import CandidateSpec, Decoding
from schemas.events.evaluations import EvaluationRequested
from schemas.task import DatasetItem, TaskSpec
from services.evaluator.adapters.engines import engines_for
from services.evaluator.adapters.store import EvaluationStore
from services.evaluator.handlers.evaluation import evaluate

QUESTIONS = ["Describe the sea in one sentence.", "Name a colour and say why you like it.",
             "Write a short greeting for a friend.", "Tell me one fact about cats.",
             "Suggest a name for a bakery.", "What should I cook tonight?"]
ITEMS = {"open": [DatasetItem(id=f"q{i}", input=q, expected="-") for i, q in enumerate(QUESTIONS)]}


async def test_a_seeded_candidate_at_positive_temperature_is_not_trivially_stable(smollm2_url: str,
                                                                                  tmp_path: Path) -> None:
    spec = CandidateSpec(name="smol", model="smollm2", task="open", engine="openai", endpoint=smollm2_url,
                         decoding=Decoding(temperature=0.7, max_tokens=24, seed=7))
    req = EvaluationRequested(evaluation_id="stab", candidate_id="c", task="open", candidate=spec,
                              task_spec=TaskSpec(name="open", metric="exact_match"), kinds=["stability"],
                              stability_repeats=4, stability_temperature=0.7, concurrency=1)
    engines = engines_for(req)
    try:
        done = await evaluate(req, ITEMS, [], engines=engines, store=EvaluationStore(tmp_path, "stab"), n_boot=50)
    finally:
        await engines.aclose()
    s = done.stability
    assert s is not None and s.seeds == [7, 8, 9, 10]
    assert s.seeding == "derived per repeat from seed 7: 7, 8, 9, 10"
    figures = f"agreement {s.mean_agreement:.3f}, consistency {s.exact_match_consistency:.3f}, flips {s.flipping_items}"
    # most items flip: one seed for all repeats left at most a cache artefact (1 item of 6)
    assert s.exact_match_consistency <= 0.5 and s.mean_agreement < 0.5, figures
