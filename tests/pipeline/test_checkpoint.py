import json

import pytest

from inward.pipeline import checkpoint


@pytest.fixture(autouse=True)
def work_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint, "WORK_DIR", tmp_path / "work")


def test_resumes_without_recomputing_done_inputs(tmp_path):
    calls = []

    def square(xs):
        calls.append(list(xs))
        if len(calls) == 2:
            raise KeyboardInterrupt  # interrupted during the second chunk
        return [x * x for x in xs]

    inputs = [1, 2, 3, 4, 5]
    keys = [checkpoint.request_key("m", x) for x in inputs]
    out = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        checkpoint.resumable_map(square, inputs, keys, out, chunk_size=2)
    assert calls == [[1, 2], [3, 4]]

    calls.clear()
    result = checkpoint.resumable_map(lambda xs: calls.append(list(xs)) or [x * x for x in xs],
                                      inputs, keys, out, chunk_size=2)
    assert result == [1, 4, 9, 16, 25]
    assert calls == [[3, 4], [5]]  # 1 and 2 were not asked again


def test_truncated_checkpoint_line_is_recomputed(tmp_path):
    out = tmp_path / "o.jsonl"
    keys = ["k1", "k2"]
    path = checkpoint.checkpoint_path(out)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"key": "k1", "value": "A"}) + "\n" + '{"key": "k2", "val')
    seen = []
    got = checkpoint.resumable_map(lambda xs: seen.extend(xs) or ["B"] * len(xs), ["x1", "x2"],
                                   keys, out)
    assert got == ["A", "B"] and seen == ["x2"]


def test_clear_removes_the_checkpoint(tmp_path):
    out = tmp_path / "o.jsonl"
    checkpoint.resumable_map(lambda xs: xs, [1], ["k"], out)
    assert checkpoint.checkpoint_path(out).exists()
    checkpoint.clear(out)
    assert not checkpoint.checkpoint_path(out).exists()


def test_request_key_is_order_insensitive_for_dicts_and_sensitive_to_content():
    assert checkpoint.request_key({"a": 1, "b": 2}) == checkpoint.request_key({"b": 2, "a": 1})
    assert checkpoint.request_key("x") != checkpoint.request_key("y")


def test_file_digest_covers_folder_contents(tmp_path):
    (tmp_path / "ad").mkdir()
    (tmp_path / "ad" / "w.bin").write_bytes(b"1")
    first = checkpoint.file_digest(tmp_path / "ad")
    (tmp_path / "ad" / "w.bin").write_bytes(b"2")
    assert checkpoint.file_digest(tmp_path / "ad") != first
    assert checkpoint.file_digest(None) is None


def test_a_finished_studys_resume_keys_are_unchanged(tmp_path, monkeypatch):
    """The keys under which answers are checkpointed, for the same params, are the ones the
    code before typed configuration computed (digests pinned from commit cd5dfa1): a study
    interrupted before the change resumes after it without recomputing anything."""
    from inward.config.types import CalibrationConfig, GenerationConfig, ModelConfig
    from inward.pipeline import steps
    from inward.records.jsonl import write_jsonl
    from inward.tasks.catalog import Item

    item = Item("animals", "animals-00001", "Continue: cat, dog, cow", None, "test")
    items = tmp_path / "items.jsonl"
    write_jsonl([item.to_dict()], items)
    adapter = tmp_path / "adapter.bin"
    adapter.write_bytes(b"")
    model = ModelConfig.from_params({"backend": "local", "source": "embedded:smollm2-135m",
                                     "shift_finetune": {"learning_rate": 0.0015}})
    seen = []

    def capture(fn, inputs, keys, output, chunk_size=64, on_chunk=None):
        seen.append(list(keys))
        return [["a", ["b"]] if str(output).endswith("h.jsonl") else "a" for _ in keys]

    monkeypatch.setattr(checkpoint, "resumable_map", capture)
    gen = GenerationConfig(object_max_new_tokens=20, hypothetical_max_new_tokens=6,
                           batch_size=8, demonstration=True)
    steps.object_answers(item_file=str(items), answers=str(tmp_path / "o.jsonl"),
                         model_cfg=model, gen=gen, seed=0)
    calib = CalibrationConfig(n_samples=5, temperature=1.0, top_k=3, n_bins=10)
    monkeypatch.setattr(checkpoint, "file_digest", lambda path: "abc" if path else None)
    steps.hypothetical_answers_and_samples(
        item_file=str(items), answers=str(tmp_path / "h.jsonl"),
        samples=str(tmp_path / "samples.jsonl"), model_cfg=model, gen=gen, calib=calib,
        props=["second_character"], seed=0, adapter=str(adapter))
    assert seen == [["25c2f86098a6dcca4085fa2f34dda98a3f330a89051c34e5cfd65be11a997beb"],
                    ["db63851f3aee957949ef31fcbe9b86fad10a834784040fae6e909fef9a1b4c7e"]]
