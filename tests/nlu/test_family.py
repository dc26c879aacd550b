"""Who answered: a relative of the patient?"""

import pytest

from dialog.nlu import is_family_member


@pytest.mark.parametrize(
    "text",
    [
        "我是他女儿",
        "我是她爱人",
        "我是她家属",
        "我是张三的儿子",
        "他是我爸",
        "不是我，是我爸",
        "我替他接的电话",
        "I'm his wife",
        "this is her son",
        "I am the patient's daughter",
        "he is my husband",
        "我是她先生",
    ],
)
def test_family(text: str) -> None:
    assert is_family_member(text, "zh")


@pytest.mark.parametrize(
    "text", ["我是他", "我是护士", "我是王先生", "是的", "I am his doctor", "你打错了", ""]
)
def test_not_family(text: str) -> None:
    assert not is_family_member(text, "en")
