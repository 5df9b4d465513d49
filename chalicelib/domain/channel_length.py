"""How long a reply is, as each platform counts it: pure, so the approval page (before the run moves on) and the
platform's publisher (before it posts) measure with the same function and cannot disagree.

X counts with twitter-text v3 (:func:`weighted_length`); the other platforms (Facebook, Instagram, YouTube,
Trustpilot) state their limits in characters and count code points. The limits themselves stay with each
publisher (``limits``); the approval rules (:func:`chalicelib.domain.approval.over_limit`) are handed the limits
and the platform, and measure with :func:`reply_length`.
"""

from __future__ import annotations

import re
import unicodedata

X = "x"

TCO_LENGTH = 23  # every URL counts as a t.co link

# twitter-text v3 (config v3: scale 100, default weight 200, emojiParsingEnabled, transformedURLLength 23).
_LIGHT = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # code points weighing 1; everything else 2
# Top-level domains a URL without a scheme may end in: every country code, and the generic ones people write.
_CCTLDS = (
    "ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw by "
    "bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et eu fi fj fk "
    "fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is "
    "it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm "
    "mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps "
    "pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj "
    "tk tl tm tn to tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw"
)
_GTLDS = (
    "academy agency app art asia audio auto bank bar beer best bike bio biz blog blue book business buzz cafe cam "
    "camera camp capital care careers cars casa cash center chat city click clinic cloud club coach codes coffee "
    "college com community company computer consulting cool coop credit cyou dating deals delivery dental design dev "
    "digital direct directory discount dog domains download earth edu education email energy engineering "
    "enterprises equipment estate events exchange expert express fail family fans farm fashion finance financial "
    "fit fitness flights florist flowers foundation fun fund furniture gallery games garden gift gifts global gmbh "
    "gold golf gov graphics green group guide guru health healthcare help holdings holiday homes host hosting house "
    "icu inc info ink institute insurance int international jobs kitchen land law lawyer legal life lighting limited "
    "link live loan ltd luxury management market marketing media menu mil mobi money movie museum name net network "
    "news ngo ninja one onl online org page partners parts party pet photo photography photos pics pink pizza place "
    "plus press pro productions properties property pub recipes red rent rentals repair report rest restaurant "
    "review reviews rocks run sale salon school science services shoes shop shopping show site ski social software "
    "solar solutions space store stream studio style supply support surf systems taxi team tech technology tel tips "
    "today tools top tours town toys trade training travel tube uno university vacations video vip vision wang watch "
    "website wiki win wine work works world wtf xxx xyz zone"
)
_CCTLD_SET = frozenset(_CCTLDS.split())
_TLD = "|".join(sorted(_CCTLD_SET | set(_GTLDS.split()), key=len, reverse=True))
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"  # letters and digits, with hyphens (and underscores) only inside
_ASCII_LABEL = r"[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?"  # without a scheme, only ASCII domains are links
_PATH_CHAR = r"[\w!*';:=+,.$/%#\[\]\-~@|&\u2013]"
_PATH_END = r"[\w=#/+\-]"  # a URL's path never ends in . , ) ! ? ' " : ; (that is the sentence's punctuation)
_PARENS = rf"\({_PATH_CHAR}+\)"  # balanced parentheses stay in (wikipedia-style paths)
_URL = re.compile(
    rf"""(?<![A-Za-z0-9@＠$#＃\u202a-\u202e])
    (?:(?P<scheme>https?://)(?P<domain>(?:{_LABEL}\.)+(?:{_TLD}|xn--[a-z0-9-]+))
    |(?<![-_./])(?P<bare>(?:{_ASCII_LABEL}\.)+(?:{_TLD}|xn--[a-z0-9-]+)))
    (?![a-z0-9@+-])
    (?::[0-9]+)?
    (?P<path>/(?:(?:{_PATH_CHAR}|{_PARENS})*(?:{_PATH_END}|{_PARENS}))?)?
    (?:\?[\w!?*'@();:&=+$/%#\[\]\-.,~|]*[\w\-&=#/])?""",
    re.IGNORECASE | re.VERBOSE,
)
_SPECIAL_CCTLDS = frozenset({"co", "tv"})  # one label before them is enough for a URL without scheme or path
_VS16, _ZWJ, _KEYCAP = "\ufe0f", "\u200d", "\u20e3"
_PICTOGRAPHIC = ((0x2190, 0x21FF), (0x2300, 0x23FF), (0x25A0, 0x27BF), (0x2900, 0x297F), (0x2B00, 0x2BFF))
_PICTOGRAPHIC_POINTS = frozenset({0xA9, 0xAE, 0x203C, 0x2049, 0x2122, 0x2139, 0x24C2, 0x3030, 0x303D, 0x3297, 0x3299})


def _weight(char: str) -> int:
    point = ord(char)
    return 1 if any(low <= point <= high for low, high in _LIGHT) else 2


def _pictographic(char: str) -> bool:
    """An emoji base (Unicode's Extended_Pictographic, by its blocks): what a variation selector, a skin tone or a
    zero-width joiner attaches to."""
    point = ord(char)
    return (
        0x1F000 <= point <= 0x1FAFF
        or point in _PICTOGRAPHIC_POINTS
        or any(low <= point <= high for low, high in _PICTOGRAPHIC)
    )


def _emoji_element(text: str, at: int) -> int:
    """The end of the emoji element at ``at``: a base, then its presentation selector, skin tone and tag sequence
    (subdivision flags), whichever are there."""
    end = at + 1
    if end < len(text) and text[end] == _VS16:
        end += 1
    if end < len(text) and 0x1F3FB <= ord(text[end]) <= 0x1F3FF:  # skin tone modifier
        end += 1
    tags = end
    while tags < len(text) and 0xE0020 <= ord(text[tags]) <= 0xE007E:
        tags += 1
    if tags > end and tags < len(text) and ord(text[tags]) == 0xE007F:  # a complete tag sequence
        end = tags + 1
    return end


def _emoji_end(text: str, at: int) -> int | None:
    """The end of the emoji sequence starting at ``at`` (twemoji's grouping, which twitter-text weighs as one
    default-weight character whatever its code points), or None when none starts there."""
    char = text[at]
    following = text[at + 1] if at + 1 < len(text) else ""
    if 0x1F1E6 <= ord(char) <= 0x1F1FF:  # regional indicators: a pair is a flag
        return at + 2 if following and 0x1F1E6 <= ord(following) <= 0x1F1FF else None
    if char in "0123456789#*":  # keycaps: 1️⃣
        end = at + 2 if following == _VS16 else at + 1
        return end + 1 if text[end : end + 1] == _KEYCAP else None
    if not _pictographic(char):
        return None
    end = _emoji_element(text, at)
    while text[end : end + 1] == _ZWJ and end + 1 < len(text) and _pictographic(text[end + 1]):
        end = _emoji_element(text, end + 1)
    if end == at + 1 and _weight(char) == 1:
        return None  # ©, ® as plain text weigh as text
    return end


def _is_url(match: re.Match[str]) -> bool:
    """twitter-text takes a scheme-less domain of one label and a country code (``example.fr``) for a URL only with
    a path, or for ``.co`` and ``.tv``."""
    if match["scheme"] or match["path"]:
        return True
    labels = match["bare"].lower().split(".")
    return len(labels) > 2 or labels[-1] not in _CCTLD_SET or labels[-1] in _SPECIAL_CCTLDS


def _weighted_text(text: str) -> int:
    total, at = 0, 0
    while at < len(text):
        end = _emoji_end(text, at)
        if end is None:
            total += _weight(text[at])
            at += 1
        else:
            total += 2  # the default weight, once for the whole sequence
            at = end
    return total


def weighted_length(text: str) -> int:
    """X's counting (twitter-text v3), on the NFC text: every URL counts 23 (with or without a scheme: a domain
    with a known top-level domain is one; trailing punctuation is not part of it); an emoji sequence (skin tone,
    zero-width-joined family, flag, keycap, presentation selector) counts 2; other code points in the Latin, general
    punctuation and a few other light ranges count 1, everything else (CJK ...) 2. A post takes 280."""
    text = unicodedata.normalize("NFC", text)
    total, start = 0, 0
    for match in _URL.finditer(text):
        if _is_url(match):
            total += _weighted_text(text[start : match.start()]) + TCO_LENGTH
            start = match.end()
    return total + _weighted_text(text[start:])


COUNTINGS = {X: weighted_length}  # the platforms that do not count code points
COUNTING_NOTES = {X: "as X counts: a link 23, an emoji 2, a CJK character 2"}


def reply_length(platform: str, text: str) -> int:
    """The length of ``text`` as ``platform`` counts it against its limits (code points unless it says otherwise)."""
    counting = COUNTINGS.get(platform)
    return counting(text) if counting else len(text)


def counting_note(platform: str) -> str:
    """How ``platform`` counts, where it is not code points (shown with a refusal), else \"\"."""
    return COUNTING_NOTES.get(platform, "")
