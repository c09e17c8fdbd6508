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
