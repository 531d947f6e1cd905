"""Every string a person sees has a zh-CN translation, with the same placeholders."""
import re

from backend.web import i18n


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", text))


def test_every_message_is_translated_to_chinese():
    assert i18n.missing("zh_CN") == {}, "untranslated: run `linli i18n missing`"


def test_translations_keep_their_placeholders():
    catalogue = i18n.translations("zh_CN")
    wrong = [m for m in i18n.extract_messages() if isinstance(m, str) and placeholders(catalogue.gettext(m)) != placeholders(m)]
    wrong += [m for m in i18n.extract_messages() if isinstance(m, tuple) and placeholders(catalogue.ngettext(*m, 2)) != placeholders(m[1])]
    assert wrong == []


def test_language_choice_order():
    assert i18n.pick_language("en", "zh_CN", "zh", "zh_CN") == "en"
    assert i18n.pick_language(None, "en", "zh", "zh_CN") == "en"
    assert i18n.pick_language(None, None, "en-US,en;q=0.9", "zh_CN") == "en"
    assert i18n.pick_language("xx", None, None, "zh_CN") == "zh_CN"
