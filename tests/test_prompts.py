"""Object-level and hypothetical chat messages."""

import pytest

from inward import prompts, tasks
from inward.prompts import hypothetical_chat, object_chat
from inward.properties import PROPERTIES
from inward.tasks import Item, generate_items


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
    item = tasks.generate_items("colours", 1, 0)[0]
    assert prompts.object_chat(item) == [{"role": "user", "content": item.prompt}]
    chat = prompts.object_chat(item, demonstration=True)
    assert [m["role"] for m in chat] == ["user", "assistant", "user"]
    assert chat[-1]["content"] == item.prompt
    assert "fruits" in chat[0]["content"]  # a topic of no task: nothing leaks


def test_every_task_kind_has_a_demonstration():
    assert set(prompts.DEMONSTRATIONS) == set(tasks.KINDS)
