"""LocalBackend on SmolLM2-135M: batched decoding agrees with the naive loop, sampling and
answer distributions behave as documented."""

from __future__ import annotations

import torch

from inward.backends import Backend
from inward.backends.local import first_line, sample_rows

QUESTIONS = [
    "What is the capital of France? Answer in one word.",
    "Name a colour. Answer with one word.",
    "What is 7 times 6? Answer with the number only.",
    "Write a short poem about the sea.",
    "Is the sky blue? Answer yes or no.",
    "Which is larger, A) an elephant or B) a mouse? Answer with the letter only.",
]
CHATS = [[{"role": "user", "content": q}] for q in QUESTIONS]


def naive(b, chats, max_new_tokens):
    out = []
    for c in chats:
        ids = torch.tensor([b.encode([c])[0]])
        with torch.no_grad():
            g = b.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=b.tables.stop_ids,
                                 pad_token_id=b.tokenizer.pad_token_id)
        out.append(first_line(b.tokenizer.decode(g[0, ids.shape[1]:], skip_special_tokens=True)))
    return out


def test_protocol(smollm_backend):
    assert isinstance(smollm_backend, Backend)
    assert smollm_backend.name == "embedded:smollm2-135m"


def test_batched_greedy_matches_naive_loop(smollm_backend):
    b = smollm_backend
    got = b.generate(CHATS, max_new_tokens=16)
    assert got == naive(b, CHATS, 16)
    assert all("\n" not in a for a in got)
    assert "Paris" in got[0]


def test_order_batching_and_determinism(smollm_backend):
    b = smollm_backend
    full = b.generate(CHATS, max_new_tokens=10, batch_size=16)
    assert b.generate(CHATS, max_new_tokens=10, batch_size=2) == full
    rev = b.generate(CHATS[::-1], max_new_tokens=10)
    assert rev[::-1] == full
    assert b.generate([], 5) == []


def test_sampling_seeded(smollm_backend):
    b = smollm_backend
    s1 = b.sample(CHATS[:2], n=4, max_new_tokens=6, temperature=1.0, seed=3)
    s2 = b.sample(CHATS[:2], n=4, max_new_tokens=6, temperature=1.0, seed=3)
    assert s1 == s2 and [len(x) for x in s1] == [4, 4]
    assert len(set(s1[1])) > 1  # temperature 1 varies the colour / wording
    assert b.generate(CHATS[:1], 6, temperature=1.0, seed=4) != []


def test_answer_distribution_is_exact_grouped_topk(smollm_backend):
    b = smollm_backend
    chats = CHATS[4:6]
    dists = b.answer_distribution(chats, k=4)
    lp = b.next_token_logprobs(chats)
    n = len(b.tokenizer)
    texts = [t.strip() for t in b.tokenizer.batch_decode([[i] for i in range(n)])]
    special = set(b.tokenizer.all_special_ids)
    for d, row in zip(dists, lp, strict=False):
        assert len(d) == 4 and abs(sum(d.values()) - 1) < 1e-5
        assert all(key == key.strip() and key for key in d)
        # recompute by hand: merge tokens whose stripped text is equal
        probs: dict[str, float] = {}
        for i, p in enumerate(row.exp().tolist()[:n]):
            t = texts[i]
            if t and i not in special:
                probs[t] = probs.get(t, 0.0) + p
        top = sorted(probs.items(), key=lambda kv: -kv[1])[:4]
        z = sum(p for _, p in top)
        assert list(d) == [t for t, _ in top]
        for t, p in top:
            assert abs(d[t] - p / z) < 1e-4
    assert max(dists[1], key=dists[1].get) in {"A", "B"}


def test_samples_do_not_depend_on_the_other_prompts_in_the_call(smollm_backend):
    """A prompt's samples are the same alone, in a batch, or served one request at a time."""
    b = smollm_backend
    together = b.sample(CHATS[:3], n=3, max_new_tokens=6, temperature=1.0, seed=5)
    alone = [b.sample([c], n=3, max_new_tokens=6, temperature=1.0, seed=5)[0] for c in CHATS[:3]]
    assert together == alone
    assert len(set(map(tuple, together))) > 1 or len(set(together[0])) > 1  # it does sample


def test_sample_prefills_once_and_gives_the_samples_of_n_prompt_copies(smollm_backend,
                                                                      monkeypatch):
    """sample() prefills each prompt once and repeats its KV cache; its samples are those of
    generate() on n copies of the prompt (the same per-row generators)."""
    b = smollm_backend
    chats, n = CHATS[:3], 4
    flat = b.generate([c for c in chats for _ in range(n)], 6, temperature=1.0, seed=11)
    prompt_tokens = []
    forward = b._forward

    def counting(ids, attn, pos, cache):
        if ids.shape[1] > 1:  # a prefill (decoding steps feed one token per row)
            prompt_tokens.append(int(attn[:, -ids.shape[1]:].sum()))
        return forward(ids, attn, pos, cache)

    monkeypatch.setattr(b, "_forward", counting)
    got = b.sample(chats, n=n, max_new_tokens=6, temperature=1.0, seed=11)
    assert got == [flat[i * n:(i + 1) * n] for i in range(len(chats))]
    assert sum(prompt_tokens) <= sum(len(x) for x in b.encode(chats))  # not n copies


def test_cached_token_tables_equal_freshly_built_ones(smollm_backend, tmp_path, monkeypatch):
    """The token tables saved beside the weight cache (safetensors + JSON) load back equal to
    tables built from the vocabulary, both on a cold cache and on a warm one."""
    from inward.backends import bases
    from inward.models import embedded

    b = smollm_backend
    fresh = bases._build_tables(b.tokenizer, b.model, "cpu")
    monkeypatch.setattr(embedded, "cache_dir", lambda source: tmp_path)
    cold = bases._cached_tables(b.source, b.tokenizer, b.model, "cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"token_tables.v{bases.TABLES_VERSION}.json",
        f"token_tables.v{bases.TABLES_VERSION}.safetensors"]
    warm = bases._cached_tables(b.source, b.tokenizer, b.model, "cpu")
    for tables in (cold, warm):
        for field in ("stop", "has_nl", "content_before_nl", "content", "group"):
            assert torch.equal(getattr(tables, field), getattr(fresh, field)), field
        assert tables.group_text == fresh.group_text
        assert (tables.n_groups, tables.stop_ids) == (fresh.n_groups, fresh.stop_ids)


def test_control_tokens_end_the_answer_and_never_reach_its_text(smollm_backend):
    """SmolLM2's turn markers and its added tokens (<reponame>, <jupyter_code>, ...) all stop
    generation; tokens after a stop, and the stop itself, are not decoded into the answer."""
    b = smollm_backend
    tok = b.tokenizer
    stops = set(b.tables.stop_ids)
    for name in ["<|im_end|>", "<|im_start|>", "<|endoftext|>", "<reponame>", "<jupyter_code>",
                 "<empty_output>"]:
        assert tok.convert_tokens_to_ids(name) in stops, name
    assert not stops & set(tok("Paris, B) blue", add_special_tokens=False)["input_ids"])
    answer = tok("B", add_special_tokens=False)["input_ids"]
    after = (answer + tok.convert_tokens_to_ids(["<reponame>"])
             + tok("user", add_special_tokens=False)["input_ids"])
    assert b._until_stop(after) == answer
    assert tok.decode(b._until_stop(after)) == "B"


CONTEXT = ("Earlier you were sent this message:\n<<<\nHere is a list of animals:\nfox owl bee "
           "crab mole toad wren lynx\nContinue the list with the next 5 animals.\n>>>\n")
SHARED = [[{"role": "user", "content": CONTEXT + q}] for q in [
    "What is the first word of the reply you gave? One word only.",
    "What is the second character of the reply you gave? One character only.",
    "Did the reply you gave begin with a vowel? Answer true or false.",
]] + CHATS[:2]


def test_prompts_sharing_a_prefix_are_grouped_and_answer_as_alone(smollm_backend):
    """Questions about one earlier message share its long prefix: it is computed once for the
    group, and every answer and distribution equals that of the prompt on its own."""
    from inward.backends.prefixes import prefix_groups

    b = smollm_backend
    ids = b.encode(SHARED)
    batches = list(b._batches(ids))
    assert len(batches) == 1 and sorted(batches[0][:3]) == [0, 1, 2]  # the group is together
    assert [len(g) for g in prefix_groups([ids[i] for i in batches[0]])] == [3, 1, 1]
    assert b.generate(SHARED, max_new_tokens=6) == naive(b, SHARED, 6)
    together = b.answer_distribution(SHARED, k=4)
    alone = [b.answer_distribution([c], k=4)[0] for c in SHARED]
    for d, e in zip(together, alone, strict=False):
        assert d.keys() == e.keys() and all(abs(d[t] - e[t]) < 1e-4 for t in d)


def test_sample_rows_draws_from_the_tempered_softmax():
    """Frequencies of 20000 draws match softmax(logits / T) (chi-square), a zero-probability
    token is never drawn, and each row's draw depends only on its own generator."""
    logits = torch.tensor([[2.0, 0.0, -1.0, float("-inf"), 1.0]])
    gens = [torch.Generator().manual_seed(7)]
    counts = torch.zeros(5)
    for _ in range(20000):
        counts[sample_rows(logits, 0.7, gens)] += 1
    expected = torch.softmax(logits[0] / 0.7, -1) * 20000
    assert counts[3] == 0
    keep = expected > 0
    chi2 = float((((counts - expected) ** 2)[keep] / expected[keep]).sum())
    assert chi2 < 18.5  # 3 degrees of freedom, p = 0.0003
    pair = sample_rows(torch.stack([logits[0], logits[0]]), 1.0,
                       [torch.Generator().manual_seed(1), torch.Generator().manual_seed(2)])
    alone = sample_rows(logits, 1.0, [torch.Generator().manual_seed(2)])
    assert int(pair[1]) == int(alone[0])


def test_greedy_and_samples_equal_generate_and_sample(smollm_backend):
    """One pass gives the greedy answers of ``generate`` and the samples of ``sample``."""
    b = smollm_backend
    both = b.greedy_and_samples(CHATS[:3], n=3, max_new_tokens=6, temperature=1.0, seed=4)
    assert [g for g, _ in both] == b.generate(CHATS[:3], max_new_tokens=6)
    assert [s for _, s in both] == b.sample(CHATS[:3], n=3, max_new_tokens=6, temperature=1.0,
                                            seed=4)
    assert len({x for _, s in both for x in s}) > 1  # it does sample
