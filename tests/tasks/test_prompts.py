"""Object-level and hypothetical chat messages."""

import pytest

from inward.tasks import catalog, prompts
from inward.tasks.catalog import Item, generate_items
from inward.tasks.prompts import hypothetical_chat, object_chat
from inward.tasks.properties import PROPERTIES


def test_object_chat_is_the_prompt():
    item = Item("animals", "animals-00000", "Here is a list: cat dog")
    assert object_chat(item) == [{"role": "user", "content": "Here is a list: cat dog"}]


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_hypothetical_quotes_prompt_and_asks_question(prop):
    item = generate_items("myopic_reward", 1, 0)[0]
    chat = hypothetical_chat(item, prop)
    assert len(chat) == 1 and chat[0]["role"] == "user"
    text = chat[0]["content"]
    assert item.prompt in text
    assert text.index(item.prompt) < text.index("reply you gave")
    assert "{stance}" not in text
    assert hypothetical_chat(item, prop) == chat  # same for every caller (self or cross)


def test_matches_target_describes_stance_without_letter():
    item = generate_items("myopic_reward", 1, 0)[0]
    tail = hypothetical_chat(item, "matches_target")[0]["content"].split(">>>")[-1]
    assert "smaller reward sooner" in tail
    assert f"option {item.target}" not in tail and f"{item.target}?" not in tail
    other = Item("some_file_task", "x1", "Pick A or B", target="A")
    assert "inclination" in hypothetical_chat(other, "matches_target")[0]["content"]


def test_unknown_property():
    with pytest.raises(ValueError, match="allowed"):
        hypothetical_chat(Item("animals", "a", "p"), "bogus")


def test_object_chat_demonstration_precedes_the_question_and_is_off_by_default():
    item = catalog.generate_items("colours", 1, 0)[0]
    assert prompts.object_chat(item) == [{"role": "user", "content": item.prompt}]
    chat = prompts.object_chat(item, demonstration=True)
    assert [m["role"] for m in chat] == ["user", "assistant", "user"]
    assert chat[-1]["content"] == item.prompt
    assert "chemical elements" in chat[0]["content"]  # a topic of no task


def test_every_task_kind_has_a_demonstration():
    assert set(prompts.DEMONSTRATIONS) == set(catalog.KINDS)


def _task_words() -> set[str]:
    """Every word of every resource file and of many generated prompts of every task."""
    import re
    from importlib import resources

    words: set[str] = set()
    for f in resources.files("inward").joinpath("resources").iterdir():
        words |= set(re.findall(r"[a-z]+", f.read_text(encoding="utf-8").lower()))
    for name in catalog.TASKS:
        for it in catalog.generate_items(name, 40, 0):
            words |= set(re.findall(r"[a-z]+", it.prompt.lower()))
    return words


def test_demonstration_markers_are_words_no_task_uses():
    used = _task_words()
    for kind, demo in prompts.DEMONSTRATIONS.items():
        assert demo.markers and not demo.markers & used, kind
        # every word of the demonstration's answer that no task uses is a marker
        import re
        answer_words = set(re.findall(r"[a-z]+", demo.answer.lower()))
        assert answer_words - used <= demo.markers, kind


@pytest.mark.parametrize("task, answer, leaks", [
    ("colours", "boron carbon sodium cobalt nickel", True),
    ("colours", "red blue neon green", True),
    ("colours", "red blue green teal navy", False),
    ("prose", "and climbed the stairs before dawn.", True),
    ("prose", "and she walked into the room.", False),
    ("capitals_mc", "B) neon", True),
    ("capitals_mc", "B", False),
    ("myopic_reward", "A - a violin", True),
    ("myopic_reward", "A", False),
    ("colours", "", False),
])
def test_leaks_demonstration(task, answer, leaks):
    item = catalog.generate_items(task, 1, 0)[0]
    assert prompts.leaks_demonstration(item, answer) is leaks


def test_a_marker_in_the_items_own_prompt_is_not_a_leak():
    item = Item("my_file_task_of_unknown_kind", "x", "List: neon argon")
    assert not prompts.leaks_demonstration(item, "neon")  # no demonstration for this kind
    item = Item("colours", "x", "Here is a list of colours:\nneon red\nContinue...")
    assert not prompts.leaks_demonstration(item, "neon pink")
