"""Deterministic synthetic Korean dialogue-summarisation data: the offline default dataset.

Every example draws a topic, a dialogue variant and a set of FACTS (who, what, where, when, how
much). The dialogue opens with fact-free greetings, spreads the facts over later turns (some said
by different speakers), and mixes in small talk and distractors: a time proposed and then rejected,
a list price that is then discounted, a place mentioned in passing. The summary restates only the
agreed facts with the variant's DialogSum-ko-style template. The first utterance and the bare
template therefore score low; a model has to copy the right facts from the dialogue to score well.

Only ``random.Random(seed)`` instances are used (never the global generator), vocabularies are
tuples and nothing iterates over a set, so the output does not depend on PYTHONHASHSEED.
"""
from __future__ import annotations

import csv
import hashlib
import io
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from dialsum.tracking.atomic import write_text

# --------------------------------------------------------------------------- sizes and limits

GENERATOR_VERSION = 2  # bump when generated content changes: cached sets are regenerated
MIN_SPEAKERS = 2
MAX_SPEAKERS = 4
MAX_TURNS = 10
MIN_TURNS = 4
MAX_DIALOGUE_CHARS = 450
MAX_REDRAWS = 100  # bounded retries when drawing a value that must differ from others
HALF_HOUR_PROB = 0.3
SPOKEN_WON_PROB = 0.5  # else printed digits (35,000원)
SMALL_TALK_PROB = 0.5
ASIDE_PROB = 0.5
ECHO_PROB = 0.6  # an extra speaker repeats an agreed fact instead of a bare acknowledgement
WEEKDAY_DATE_PROB = 0.45
CALENDAR_DATE_PROB = 0.4  # the remainder are weekends (이번 주말)
MONTHS = 12
MAX_DAY_OF_MONTH = 28
WON_PER_MAN = 10_000
WON_PER_CHEON = 1_000
# Amount grids in won, as (low, high, step); a rejected price adds (min, max) steps on top.
GIFT_PRICE = (20_000, 150_000, 5_000)
GIFT_MARKUP = (10_000, 70_000, 10_000)
LODGING_PRICE = (50_000, 300_000, 10_000)
PACKAGE_PRICE = (200_000, 900_000, 50_000)
MOVING_PRICE = (400_000, 1_500_000, 50_000)
MOVING_MARKUP = (100_000, 400_000, 50_000)
MONTHLY_RENT = (400_000, 1_200_000, 50_000)
RENT_MARKUP = (50_000, 200_000, 50_000)
DEPOSIT = (5_000_000, 30_000_000, 1_000_000)
REPAIR_PRICE = (10_000, 50_000, 5_000)
REPAIR_LIST_MARKUP = (50_000, 240_000, 10_000)
SPLITS = ("train", "val", "test")
CSV_COLUMNS = ("fname", "dialogue", "summary", "topic")
SEED_BYTES = 8

# --------------------------------------------------------------------------- particles

HANGUL_FIRST = 0xAC00
HANGUL_LAST = 0xD7A3
JONGSEONG_COUNT = 28
RIEUL_JONGSEONG = 8

FINAL_VOWEL = "vowel"
FINAL_RIEUL = "rieul"
FINAL_CONSONANT = "consonant"

# (form after a consonant, form after a vowel); 으로/로 also uses 로 after a ㄹ-final word.
_PARTICLE_FORMS = (
    ("은", "는"), ("이", "가"), ("을", "를"), ("과", "와"), ("으로", "로"), ("이랑", "랑"),
    ("아", "야"), ("이야", "야"), ("이에요", "예요"), ("이면", "면"), ("이라서", "라서"),
    ("이었어", "였어"), ("이라던데", "라던데"), ("이나", "나"), ("이라고", "라고"), ("이지만", "지만"),
)
PARTICLE_PAIRS: dict[str, tuple[str, str]] = {
    **{f"{c}/{v}": (c, v) for c, v in _PARTICLE_FORMS},
    **{f"{v}/{c}": (c, v) for c, v in _PARTICLE_FORMS},
}
_RO_AFTER_RIEUL = "으로"

# DialogSum-ko reads #PersonN# in English: "one" (원) ends in a consonant, "two"/"three"/"four" in a
# vowel, so the data writes #Person1#은/이/과 but #Person2#는/가/와 and #Person3#가.
_ENGLISH_DIGIT_FINAL = {
    "0": FINAL_VOWEL, "1": FINAL_CONSONANT, "2": FINAL_VOWEL, "3": FINAL_VOWEL, "4": FINAL_VOWEL,
    "5": FINAL_VOWEL, "6": FINAL_VOWEL, "7": FINAL_CONSONANT, "8": FINAL_CONSONANT,
    "9": FINAL_CONSONANT,
}
# Masked-PII tags are read as their Korean word (전화번호, 주소, 이메일, 생년월일, 여권 번호 ...).
_TAG_FINAL = {
    "PhoneNumber": FINAL_VOWEL, "Address": FINAL_VOWEL, "Email": FINAL_RIEUL,
    "DateOfBirth": FINAL_RIEUL, "PassportNumber": FINAL_VOWEL, "CardNumber": FINAL_VOWEL,
    "CarNumber": FINAL_VOWEL, "SSN": FINAL_VOWEL,
}
# Plain numbers are read in Sino-Korean: 일(ㄹ) 이 삼 사 오 육 칠(ㄹ) 팔(ㄹ) 구; 0 ends 십/백/천/만/영.
_SINO_DIGIT_FINAL = {
    "0": FINAL_CONSONANT, "1": FINAL_RIEUL, "2": FINAL_VOWEL, "3": FINAL_CONSONANT,
    "4": FINAL_VOWEL, "5": FINAL_VOWEL, "6": FINAL_CONSONANT, "7": FINAL_RIEUL, "8": FINAL_RIEUL,
    "9": FINAL_VOWEL,
}
# Latin letters are read by their letter names (엘, 엠, 엔, 알 end in a consonant); an approximation.
_LATIN_FINAL = {"L": FINAL_RIEUL, "R": FINAL_RIEUL, "M": FINAL_CONSONANT, "N": FINAL_CONSONANT}
_TAG_AT_END = re.compile(r"#([A-Za-z]+)(\d*)#$")
_TRAILING_PUNCT = re.compile(r"[\s\"'()\[\].,!?~…]+$")


def _final_kind(word: str) -> str:
    """Classify how a word ends (vowel / ㄹ / other consonant) since particles depend on it."""
    word = _TRAILING_PUNCT.sub("", word)
    if not word:
        raise ValueError("cannot attach a particle to an empty word")
    tag = _TAG_AT_END.search(word)
    if tag:
        name, digits = tag.groups()
        if name == "Person" and digits:
            return _ENGLISH_DIGIT_FINAL[digits[-1]]
        return _TAG_FINAL.get(name, FINAL_VOWEL)
    last = word[-1]
    code = ord(last)
    if HANGUL_FIRST <= code <= HANGUL_LAST:
        jong = (code - HANGUL_FIRST) % JONGSEONG_COUNT
        if jong == 0:
            return FINAL_VOWEL
        return FINAL_RIEUL if jong == RIEUL_JONGSEONG else FINAL_CONSONANT
    if last.isdigit() and last in _SINO_DIGIT_FINAL:
        return _SINO_DIGIT_FINAL[last]
    if last.isascii() and last.isalpha():
        return _LATIN_FINAL.get(last.upper(), FINAL_VOWEL)
    return FINAL_VOWEL


def attach_particle(word: str, pair: str) -> str:
    """Append the right allomorph of a particle pair like "은/는", so templates read naturally."""
    try:
        consonant_form, vowel_form = PARTICLE_PAIRS[pair]
    except KeyError:
        raise ValueError(f"unknown particle pair {pair!r}; known: {sorted(PARTICLE_PAIRS)}") from None
    kind = _final_kind(word)
    if kind == FINAL_VOWEL or (kind == FINAL_RIEUL and consonant_form == _RO_AFTER_RIEUL):
        return word + vowel_form
    return word + consonant_form


class _KoreanFormatter(string.Formatter):
    """str.format where a field's format spec is a particle pair: "{place:으로/로}"."""

    def format_field(self, value: object, format_spec: str) -> str:
        """Attach the particle named by the spec (if any) to the field's value."""
        text = str(value)
        return attach_particle(text, format_spec) if format_spec else text


_FORMATTER = _KoreanFormatter()


def fill(template: str, facts: dict[str, str]) -> str:
    """Fill a template's named slots (with particles) from the facts of one example."""
    return _FORMATTER.vformat(template, (), facts)


def template_fields(template: str) -> tuple[str, ...]:
    """Slot names used by a template, in order, so tests and baselines can inspect them."""
    return tuple(name for _, name, _, _ in string.Formatter().parse(template) if name)


# --------------------------------------------------------------------------- vocabularies

PERSON_TAGS = ("#Person1#", "#Person2#", "#Person3#", "#Person4#")
NAMES = ("민수", "지영", "서연", "준호", "하은", "도윤", "수빈", "현우", "예진", "태민", "유나",
         "성민", "지훈", "소연", "은지", "재현")
SURNAMES = ("김", "이", "박", "최", "정", "강", "조", "윤", "장", "임")
TITLES = ("과장", "부장", "팀장", "대리", "실장", "이사")
WEEKS = ("이번 주", "다음 주")
WEEKDAYS = ("월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일")
WEEKENDS = ("이번 주말", "다음 주말")
DAY_SLOTS = (("오전", 9), ("오전", 10), ("오전", 11), ("오후", 1), ("오후", 2), ("오후", 3),
             ("오후", 4), ("오후", 5), ("오후", 6))
EVENING_SLOTS = (("오후", 5), ("오후", 6), ("오후", 7), ("오후", 8))

CLINIC_AREAS = ("강남역", "신촌", "종로", "잠실", "홍대", "분당", "여의도", "합정", "건대", "목동")
CLINIC_KINDS = (
    ("치과", ("스케일링", "충치 치료", "정기 검진")),
    ("피부과", ("피부 진료", "레이저 시술", "상담")),
    ("안과", ("시력 검사", "정기 검진")),
    ("정형외과", ("물리 치료", "진료")),
    ("한의원", ("침 치료", "진료")),
    ("이비인후과", ("진료", "청력 검사")),
)
GIFT_ITEMS = ("운동화", "가방", "목도리", "지갑", "블루투스 이어폰", "향수", "셔츠", "텀블러",
              "손목시계", "모자", "장갑", "원피스")
COLORS = ("검은색", "흰색", "남색", "베이지색", "빨간색", "회색", "하늘색", "초록색")
GIFT_OCCASIONS = ("생일", "졸업", "입학", "승진", "결혼기념일")
DESTINATIONS = ("제주도", "부산", "강릉", "경주", "여수", "전주", "속초", "통영", "안동", "남해")
ISLANDS = ("제주도",)
LAND_TRANSPORTS = ("KTX", "고속버스", "자동차", "기차", "비행기")
TICKETED_LAND_TRANSPORTS = ("KTX", "고속버스", "기차", "비행기")
ISLAND_TRANSPORTS = ("비행기", "배")
TRIP_LENGTHS = ("1박 2일", "2박 3일", "3박 4일")
PARTY_SIZES = ("두 명", "세 명", "네 명", "다섯 명", "여섯 명")
TRAVEL_PARTIES = ("두 명", "세 명", "네 명")
WORK_TASKS = ("분기 보고서", "발표 자료", "견적서", "회의록", "예산안", "설문 분석 자료",
              "신제품 기획안", "계약서 초안")
MEETING_ROOMS = ("3층 회의실", "대회의실", "7층 세미나실", "2층 소회의실", "5층 회의실")
SYMPTOMS = ("두통", "기침", "허리 통증", "소화불량", "목감기", "불면증", "어깨 통증", "콧물")
SICK_DURATIONS = ("이틀", "사흘", "나흘", "일주일", "열흘", "보름")
MEDICINES = ("진통제", "기침약", "소화제", "소염제", "감기약", "파스", "수면 보조제")
DOSAGES = ("하루 세 번", "하루 두 번", "자기 전에 한 번", "아침저녁으로")
LOCAL_CLINICS = ("역 앞 내과", "시청 옆 내과", "학교 근처 가정의학과", "회사 앞 한의원",
                 "동네 이비인후과")
RESTAURANTS = (
    ("을지로 냉면집", ("물냉면", "비빔냉면", "수육")),
    ("이태원 파스타집", ("해물 파스타", "크림 파스타", "마르게리타 피자")),
    ("광화문 한정식집", ("한정식 코스", "불고기 정식")),
    ("연남동 중식당", ("탕수육", "짜장면", "마라탕")),
    ("압구정 스시집", ("모둠 초밥", "연어 덮밥")),
    ("망원동 고깃집", ("삼겹살", "한우 갈비")),
    ("성수동 브런치 카페", ("팬케이크", "샌드위치 세트")),
    ("삼청동 수제비집", ("들깨 수제비", "감자전")),
)
DINNER_OCCASIONS = ("부모님 생신", "회사 회식", "친구 생일", "결혼기념일", "동창 모임", "가족 모임")
NEIGHBORHOODS = ("망원동", "판교", "일산", "수원", "마포", "송도", "분당", "성수동", "목동", "광교")
HOUSES = ("원룸", "투룸", "오피스텔", "빌라", "아파트")
MOVERS = ("행복 이삿짐센터", "번개 이사", "든든 익스프레스", "한마음 이사", "별빛 이삿짐센터")
APPLIANCES = (
    ("세탁기", (("물이 새요", "누수"), ("이상한 소리가 나요", "소음"), ("탈수가 안 돼요", "탈수 불량"))),
    ("냉장고", (("냉동실이 안 얼어요", "냉각 불량"), ("이상한 소리가 나요", "소음"))),
    ("노트북", (("전원이 안 켜져요", "전원 불량"), ("화면이 깜빡거려요", "화면 깜빡임"))),
    ("에어컨", (("찬 바람이 안 나와요", "냉방 불량"), ("물이 떨어져요", "누수"))),
    ("텔레비전", (("화면이 안 나와요", "화면 불량"), ("소리가 안 나와요", "음향 불량"))),
    ("청소기", (("흡입력이 약해졌어요", "흡입력 저하"), ("전원이 안 켜져요", "전원 불량"))),
)
APPLIANCE_AGES = ("6개월", "1년", "2년", "3년")
REPAIR_DURATIONS = ("20분", "30분", "40분", "한 시간")

# Opening pairs carry no facts, so "first utterance as summary" stays a weak baseline.
PHONE_OPENINGS = (
    ("여보세요? 안녕하세요.", "네, 안녕하세요. 무엇을 도와드릴까요?"),
    ("여보세요, 지금 통화 괜찮으세요?", "네, 괜찮습니다. 말씀하세요."),
    ("안녕하세요, 뭐 좀 여쭤보려고 전화드렸어요.", "네, 편하게 말씀하세요."),
)
STORE_OPENINGS = (
    ("안녕하세요.", "어서 오세요. 찾으시는 거 있으세요?"),
    ("실례합니다, 잠깐 여쭤봐도 될까요?", "네, 그럼요. 말씀하세요."),
    ("안녕하세요, 좀 둘러봐도 될까요?", "네, 천천히 보세요."),
)
OFFICE_OPENINGS = (
    ("지금 잠깐 얘기 좀 할 수 있을까요?", "네, 괜찮아요. 무슨 일이세요?"),
    ("좋은 아침이에요. 커피 드셨어요?", "네, 방금 마셨어요. 무슨 일 있으세요?"),
    ("바쁘신데 죄송해요. 잠깐 시간 되세요?", "네, 말씀하세요."),
)
CLINIC_OPENINGS = (
    ("어서 오세요. 이쪽에 앉으세요.", "네, 안녕하세요, 선생님."),
    ("안녕하세요. 오늘은 어떻게 오셨어요?", "안녕하세요. 요즘 몸이 좀 안 좋아서요."),
)
CASUAL_OPENINGS = (
    ("야, 뭐 해?", "그냥 쉬고 있었어. 왜?"),
    ("오늘 날씨 진짜 좋다.", "그러게, 밖에 나가고 싶은 날씨네."),
    ("잘 지냈어? 진짜 오랜만이다.", "응, 나야 잘 지냈지. 너는?"),
    ("점심 먹었어?", "응, 방금 먹었어. 너는?"),
    ("아, 오늘 진짜 피곤하다.", "나도. 이번 주는 유난히 길다."),
)
POLITE_SMALL_TALK = (
    ("요즘 날씨가 많이 쌀쌀해졌네요.", "그러게요, 감기 조심하세요."),
    ("오늘따라 사람이 정말 많네요.", "네, 요즘 계속 이래요."),
    ("요즘 일이 많아서 정신이 하나도 없어요.", "저도요. 그래도 조금만 힘내요."),
    ("주말에 비가 많이 온다고 하더라고요.", "아, 그래요? 우산 챙겨야겠네요."),
    ("아, 잠시만요. 메모 좀 할게요.", "네, 천천히 하세요."),
)
CASUAL_SMALL_TALK = (
    ("어제 그 드라마 봤어? 진짜 재밌더라.", "아직 못 봤어. 말하지 마."),
    ("배고프다. 이따 뭐 먹을래?", "일단 이것부터 정하고 생각하자."),
    ("잠깐만, 엄마한테 문자 왔다.", "응, 확인해."),
    ("요즘 너무 바빠서 운동을 하나도 못 했어.", "나도 그래. 다음 달부터 같이 할까?"),
    ("이번 주는 왜 이렇게 길지?", "그러니까. 빨리 주말이었으면 좋겠다."),
)
POLITE_ACKS = ("저도 그게 좋을 것 같아요.", "네, 저도 옆에서 들었어요.", "좋은 생각이네요.",
               "아, 그렇군요.")
CASUAL_ACKS = ("나도 찬성!", "오, 좋다.", "그거 괜찮네.", "나도 옆에서 들었어.")


# --------------------------------------------------------------------------- fact drawing

def format_won(amount: int, spoken: bool = True) -> str:
    """Write a won amount as said ("3만 5천 원") or as printed ("35,000원")."""
    if not spoken:
        return f"{amount:,}원"
    man, rest = divmod(amount, WON_PER_MAN)
    cheon = rest // WON_PER_CHEON
    parts = ([f"{man}만"] if man else []) + ([f"{cheon}천"] if cheon else [])
    return " ".join(parts) + " 원"


def _won_writer(rng: random.Random) -> Callable[[int], str]:
    """Pick one amount style per example (both occur in Korean text; digits can't be guessed)."""
    spoken = rng.random() < SPOKEN_WON_PROB
    return lambda amount: format_won(amount, spoken)


def _grid(rng: random.Random, grid: tuple[int, int, int]) -> int:
    """A won amount on a (low, high, step) grid, so prices look like real quotes."""
    low, high, step = grid
    return rng.randrange(low, high + 1, step)


def _date(rng: random.Random) -> str:
    """A day in one of the formats DialogSum-ko uses (다음 주 화요일, 5월 14일, 이번 주말)."""
    roll = rng.random()
    if roll < WEEKDAY_DATE_PROB:
        return f"{rng.choice(WEEKS)} {rng.choice(WEEKDAYS)}"
    if roll < WEEKDAY_DATE_PROB + CALENDAR_DATE_PROB:
        return f"{rng.randint(1, MONTHS)}월 {rng.randint(1, MAX_DAY_OF_MONTH)}일"
    return rng.choice(WEEKENDS)


def _clock(rng: random.Random, slots: tuple[tuple[str, int], ...] = DAY_SLOTS) -> str:
    """A time of day such as "오후 3시" or "오전 10시 30분"."""
    period, hour = rng.choice(slots)
    minutes = " 30분" if rng.random() < HALF_HOUR_PROB else ""
    return f"{period} {hour}시{minutes}"


def _distinct(rng: random.Random, draw: Callable[[random.Random], str], avoid: tuple[str, ...]) -> str:
    """Redraw until the value neither contains nor is contained in any avoided value."""
    for _ in range(MAX_REDRAWS):
        value = draw(rng)
        if all(value not in other and other not in value for other in avoid):
            return value
    raise RuntimeError(f"could not draw a value distinct from {avoid}")


def _pick(options: tuple[str, ...]) -> Callable[[random.Random], str]:
    """A draw function choosing from a vocabulary, for use with _distinct."""
    return lambda rng: rng.choice(options)


def _boss(rng: random.Random) -> str:
    """A superior referred to by surname and title (박 과장님)."""
    return f"{rng.choice(SURNAMES)} {rng.choice(TITLES)}님"


def _facts_appointment(rng: random.Random) -> dict[str, str]:
    """Clinic booking: place, service, date, agreed and rejected time."""
    area = rng.choice(CLINIC_AREAS)
    kind, services = rng.choice(CLINIC_KINDS)
    place = f"{area} {kind}"
    time = _clock(rng)
    return {
        "place": place, "service": rng.choice(services), "date": _date(rng), "time": time,
        "rej_time": _distinct(rng, _clock, (time,)),
        "other_place": _distinct(rng, lambda r: f"{r.choice(CLINIC_AREAS)} {kind}", (place,)),
    }


def _facts_shopping(rng: random.Random) -> dict[str, str]:
    """Gift shopping: recipient, occasion, item, colour, discounted and list price."""
    write = _won_writer(rng)
    item = rng.choice(GIFT_ITEMS)
    price_won = _grid(rng, GIFT_PRICE)
    price = write(price_won)
    name = rng.choice(NAMES)
    return {
        "name": name, "occasion": rng.choice(GIFT_OCCASIONS), "item": item,
        "color": rng.choice(COLORS), "price": price,
        "rej_price": _distinct(
            rng, lambda r: write(price_won + _grid(r, GIFT_MARKUP)), (price,)),
        "other_item": _distinct(rng, _pick(GIFT_ITEMS), (item,)),
        "other_name": _distinct(rng, _pick(NAMES), (name,)),
    }


def _facts_travel(rng: random.Random) -> dict[str, str]:
    """Trip planning: destination, dates, transport, length, price and party size."""
    write = _won_writer(rng)
    dest = rng.choice(DESTINATIONS)
    island = dest in ISLANDS
    transport = rng.choice(ISLAND_TRANSPORTS if island else LAND_TRANSPORTS)
    date = _date(rng)
    return {
        "dest": dest, "transport": transport, "date": date, "nights": rng.choice(TRIP_LENGTHS),
        "rej_transport": _distinct(
            rng, _pick(ISLAND_TRANSPORTS if island else TICKETED_LAND_TRANSPORTS), (transport,)),
        "rej_date": _distinct(rng, _date, (date,)),
        "amount": write(_grid(rng, LODGING_PRICE)),
        "package": write(_grid(rng, PACKAGE_PRICE)),
        "people": rng.choice(TRAVEL_PARTIES),
        "other_dest": _distinct(rng, _pick(DESTINATIONS), (dest,)),
    }


def _facts_work(rng: random.Random) -> dict[str, str]:
    """Office request: task, superior, deadline or meeting slot, room."""
    date = _date(rng)
    time = _clock(rng)
    return {
        "task": rng.choice(WORK_TASKS), "boss": _boss(rng), "date": date, "time": time,
        "rej_date": _distinct(rng, _date, (date,)), "rej_time": _distinct(rng, _clock, (time,)),
        "room": rng.choice(MEETING_ROOMS),
    }


def _facts_health(rng: random.Random) -> dict[str, str]:
    """Health consultation: symptom, duration, medicine, dosage, follow-up day, clinic."""
    med = rng.choice(MEDICINES)
    date = _date(rng)
    return {
        "symptom": rng.choice(SYMPTOMS), "duration": rng.choice(SICK_DURATIONS), "med": med,
        "rej_med": _distinct(rng, _pick(MEDICINES), (med,)), "dosage": rng.choice(DOSAGES),
        "date": date, "rej_date": _distinct(rng, _date, (date,)),
        "clinic": rng.choice(LOCAL_CLINICS),
    }


def _facts_restaurant(rng: random.Random) -> dict[str, str]:
    """Dinner booking: restaurant, menu, party, occasion, agreed and rejected evening time."""
    restaurant, menus = rng.choice(RESTAURANTS)
    time = _clock(rng, EVENING_SLOTS)
    return {
        "restaurant": restaurant, "menu": rng.choice(menus), "party": rng.choice(PARTY_SIZES),
        "occasion": rng.choice(DINNER_OCCASIONS), "date": _date(rng), "time": time,
        "rej_time": _distinct(rng, lambda r: _clock(r, EVENING_SLOTS), (time,)),
        "rej_restaurant": _distinct(rng, lambda r: r.choice(RESTAURANTS)[0], (restaurant,)),
    }


def _facts_moving(rng: random.Random) -> dict[str, str]:
    """Moving house: date, neighbourhood, mover and quotes, or a rent negotiation."""
    write = _won_writer(rng)
    price_won = _grid(rng, MOVING_PRICE)
    rent_won = _grid(rng, MONTHLY_RENT)
    price, rent = write(price_won), write(rent_won)
    rej_rent = _distinct(rng, lambda r: write(rent_won + _grid(r, RENT_MARKUP)), (rent,))
    hood = rng.choice(NEIGHBORHOODS)
    return {
        "date": _date(rng), "hood": hood, "mover": rng.choice(MOVERS), "price": price,
        "rej_price": _distinct(
            rng, lambda r: write(price_won + _grid(r, MOVING_MARKUP)), (price,)),
        "rent": rent, "house": rng.choice(HOUSES),
        "rej_rent": rej_rent,
        "deposit": _distinct(rng, lambda r: write(_grid(r, DEPOSIT)), (rent, rej_rent)),
        "other_hood": _distinct(rng, _pick(NEIGHBORHOODS), (hood,)),
    }


def _facts_repair(rng: random.Random) -> dict[str, str]:
    """Appliance repair: appliance, fault, visit slot, cost (list vs warranty)."""
    write = _won_writer(rng)
    appliance, faults = rng.choice(APPLIANCES)
    fault_said, fault_noun = rng.choice(faults)
    time = _clock(rng)
    amount_won = _grid(rng, REPAIR_PRICE)
    amount = write(amount_won)
    return {
        "appliance": appliance, "fault_said": fault_said, "fault": fault_noun, "date": _date(rng),
        "time": time, "rej_time": _distinct(rng, _clock, (time,)), "amount": amount,
        "rej_amount": _distinct(
            rng, lambda r: write(amount_won + _grid(r, REPAIR_LIST_MARKUP)), (amount,)),
        "age": rng.choice(APPLIANCE_AGES), "repair_time": rng.choice(REPAIR_DURATIONS),
    }


# --------------------------------------------------------------------------- topics and variants

Turn = tuple[int, tuple[str, ...]]  # (speaker number, alternative phrasings)


@dataclass(frozen=True)
class Variant:
    """One conversation script: its turns, the summary template it implies, and extras."""

    key: str
    casual: bool
    openings: tuple[tuple[str, str], ...]
    turns: tuple[Turn, ...]
    summary: str
    echoes: tuple[str, ...] = ()  # fact-bearing one-liners an extra speaker may add near the end
    asides: tuple[tuple[str, str], ...] = ()  # (#Person1# line, #Person2# reply) naming a distractor


@dataclass(frozen=True)
class Topic:
    """A topic label, its fact drawer and its 2-3 variants."""

    label: str
    draw_facts: Callable[[random.Random], dict[str, str]]
    variants: tuple[Variant, ...]


TOPICS: tuple[Topic, ...] = (
    Topic("진료 예약", _facts_appointment, (
        Variant(
            "appointment_book", False, PHONE_OPENINGS,
            (
                (1, ("{service} 예약을 하고 싶은데요, {date}에 가능할까요?",
                     "{date}에 {service:을/를} 받고 싶어서요. 예약되나요?")),
                (2, ("{date}에는 {rej_time}만 비어 있어요.", "그날은 {rej_time}에 자리가 하나 있어요.")),
                (1, ("{rej_time}에는 회사에 있어서 어려워요. {time:은/는} 안 될까요?",
                     "{rej_time:은/는} 제가 일이 있어서요. 혹시 {time:은/는} 어떠세요?")),
                (2, ("네, {time}에 예약해 드릴게요. 연락처를 알려 주시겠어요?",
                     "확인해 보니 {time}도 괜찮네요. 연락처 부탁드립니다.")),
                (1, ("제 번호는 #PhoneNumber#입니다.", "#PhoneNumber#로 연락 주세요.")),
                (2, ("감사합니다. {place:으로/로} 오시면 되고, 확인 문자 보내 드릴게요.",
                     "네, {place:으로/로} 10분 일찍 와 주세요. 확인 문자 드릴게요.")),
            ),
            "{P1:은/는} {date} {time}에 {place}에서 {service:을/를} 받기로 예약합니다.",
            echoes=("{time:이면/면} 저도 같이 갈 수 있어요.",),
            asides=(("지난번에 {other_place}에 갔을 때는 한참 기다렸거든요.", "요즘은 예약하시면 거의 안 기다리세요."),),
        ),
        Variant(
            "appointment_move", False,
            (("안녕하세요, 병원에서 연락드렸습니다.", "아, 네. 안녕하세요."),
             ("여보세요, 잠시 통화 가능하실까요?", "네, 괜찮아요. 누구시죠?")),
            (
                (1, ("{date} {rej_time:으로/로} 잡혀 있던 {service} 예약 때문에 연락드렸어요.",
                     "{date} {rej_time}에 {service} 예약하셨죠? 그 건으로 전화드렸어요.")),
                (2, ("무슨 문제라도 있나요?", "네, 맞아요. 무슨 일이시죠?")),
                (1, ("담당 선생님 일정이 바뀌어서요. 같은 날 {time:은/는} 어떠세요?",
                     "그 시간에 선생님이 학회에 가셔서요. 같은 날 {time:은/는} 괜찮으세요?")),
                (2, ("{time:이면/면} 괜찮아요. {place:은/는} 그대로죠?",
                     "네, {time}에 갈게요. 장소는 {place} 맞죠?")),
                (1, ("네, 맞습니다. 바뀐 시간은 문자로 다시 보내 드릴게요.",
                     "네, 그대로입니다. 협조해 주셔서 감사합니다.")),
            ),
            "{P1:은/는} {place} {service} 예약을 {date} {time:으로/로} 옮깁니다.",
            echoes=("{time:이면/면} 제가 모셔다 드릴게요.",),
        ),
    )),
    Topic("선물 쇼핑", _facts_shopping, (
        Variant(
            "shopping_store", False, STORE_OPENINGS,
            (
                (1, ("{name}한테 {occasion} 선물로 줄 {item:을/를} 찾고 있어요.",
                     "{name:이/가} 곧 {occasion:이라서/라서} 선물로 {item:을/를} 사려고요.")),
                (2, ("이 {color} {item:은/는} 어떠세요? 원래 {rej_price}인데요.",
                     "이 {color} {item:이/가} 요즘 제일 잘 나가요. 정가는 {rej_price:이에요/예요}.")),
                (1, ("예쁘긴 한데 생각보다 비싸네요.", "음, 예산보다 조금 비싸네요.")),
                (2, ("이번 주까지 할인 행사라서 {price}에 드릴 수 있어요.",
                     "마침 할인 중이라 {price}에 가져가실 수 있어요.")),
                (1, ("좋아요, 그걸로 할게요. #Address#로 배송해 주실 수 있나요?",
                     "그럼 살게요. 배송은 #Address#로 부탁드려요.")),
                (2, ("물론이죠. 선물 포장도 해 드릴게요.", "네, 내일까지 도착하도록 보내 드릴게요.")),
            ),
            "{P1:은/는} {name}의 {occasion} 선물로 {color} {item:을/를} {price}에 삽니다.",
            echoes=("{color}도 잘 어울리겠네요.",),
            asides=(("처음엔 {other_item:을/를} 볼까 했어요.", "그것도 요즘 많이 찾으세요."),),
        ),
        Variant(
            "shopping_friends", True, CASUAL_OPENINGS,
            (
                (1, ("{name:이/가} 다음 주에 {occasion:이라서/라서} 선물을 사야 하거든.",
                     "나 {name} {occasion} 선물 사러 가야 해.")),
                (2, ("뭐 생각해 둔 거 있어?", "뭐 사 주려고?")),
                (1, ("{other_item:을/를} 보고 있었는데 {rej_price:이라서/라서} 좀 부담돼.",
                     "원래 {other_item:을/를} 사려고 했는데 {rej_price:이나/나} 하더라.")),
                (2, ("그럼 {color} {item:은/는} 어때? {price:이면/면} 살 수 있어.",
                     "저기 {color} {item} 예쁘다. {price}밖에 안 해.")),
                (1, ("오, 괜찮다. 그걸로 사야겠다.", "좋네. 그걸로 할래.")),
            ),
            "{P1:은/는} {P2:과/와} {name}의 {occasion} 선물로 {price}짜리 {color} {item:을/를} 고릅니다.",
            echoes=("{color} {item} 진짜 예쁘다.",),
            asides=(("지난번에 {other_name} 선물 고를 때도 진짜 오래 걸렸는데.", "맞아, 그때 한참 돌아다녔지."),),
        ),
    )),
    Topic("여행 계획", _facts_travel, (
        Variant(
            "travel_friends", True, CASUAL_OPENINGS,
            (
                (1, ("그럼 {date}에 {dest:으로/로} {nights} 여행 갈래?",
                     "우리 {date}에 {dest} 가자. {nights:으로/로}.")),
                (2, ("좋아! 뭐 타고 갈까? {rej_transport}?", "완전 좋지. {rej_transport} 타고 갈까?")),
                (1, ("{rej_transport:은/는} 표가 다 매진이더라. {transport:으로/로} 가자.",
                     "{rej_transport:은/는} 벌써 매진이야. 그냥 {transport:으로/로} 가자.")),
                (2, ("알았어. 숙소는 내가 알아볼게. 1인당 {amount} 정도면 되지?",
                     "그래. 숙소는 내가 찾아볼게. 1인당 {amount} 정도 생각하면 될까?")),
                (1, ("응, 그 정도면 딱 좋아.", "응, 그 정도면 괜찮아. 신난다!")),
            ),
            "{P1:과/와} {P2:은/는} {date}에 {transport:으로/로} {dest} {nights} 여행을 떠납니다.",
            echoes=("{dest}? 나도 끼워 줘!",),
            asides=(("작년에 {other_dest}에 갔을 때는 비가 와서 고생했잖아.", "맞아, 그때 우산도 없었지."),),
        ),
        Variant(
            "travel_agency", False,
            (("안녕하세요, 상담 좀 받으러 왔어요.", "어서 오세요. 어디로 가실 계획이세요?"),
             ("실례합니다, 지금 상담 되나요?", "네, 그럼요. 이쪽으로 앉으세요.")),
            (
                (1, ("{dest:으로/로} {nights} 정도 다녀오고 싶어요. {rej_date}에 출발할 수 있나요?",
                     "{nights:으로/로} {dest}에 가려고요. {rej_date} 출발이 되나요?")),
                (2, ("{rej_date:은/는} 이미 마감됐고, {date} 출발은 자리가 있어요.",
                     "죄송하지만 {rej_date:은/는} 자리가 없어요. {date:은/는} 가능합니다.")),
                (1, ("그럼 {date:으로/로} 할게요. 가격은 얼마예요?",
                     "아쉽네요. 그럼 {date:으로/로} 해 주세요. 얼마인가요?")),
                (2, ("{transport} 왕복 포함해서 1인당 {package}입니다.",
                     "1인당 {package:이에요/예요}. {transport} 왕복이랑 숙소가 포함돼 있어요.")),
                (1, ("좋아요. {people:으로/로} 예약해 주세요.", "괜찮네요. 저희 {people} 예약할게요.")),
            ),
            "{P1:은/는} {date} 출발 {dest} {nights} 상품을 1인당 {package}에 {people:으로/로} 예약합니다.",
            echoes=("{date:이면/면} 저도 휴가 낼 수 있어요.",),
            asides=(("요즘 {other_dest} 쪽은 어때요?", "{other_dest} 쪽도 문의가 많아요."),),
        ),
    )),
    Topic("업무 요청", _facts_work, (
        Variant(
            "work_deadline", False, OFFICE_OPENINGS,
            (
                (1, ("{boss}께서 {task:을/를} 찾으시는데, {rej_date}까지 정리해 줄 수 있어요?",
                     "{task:이/가} 급하게 필요해요. {boss}께서 찾으셔서요. {rej_date}까지 될까요?")),
                (2, ("{rej_date:은/는} 좀 빠듯해요. {date} {time}까지는 끝낼 수 있어요.",
                     "{rej_date}까지는 어렵고요, {date} {time}까지는 드릴 수 있어요.")),
                (1, ("알겠어요. 그 정도면 괜찮을 것 같아요.", "그럼 그렇게 해 주세요. {boss}께는 제가 말씀드릴게요.")),
                (2, ("다 되면 #Email#로 보내 드릴게요.", "완성되면 #Email#로 바로 보낼게요.")),
                (1, ("고마워요. 부탁해요.", "네, 고마워요.")),
            ),
            "{P2:은/는} {boss}께 드릴 {task:을/를} {date} {time}까지 완성하기로 합니다.",
            echoes=("{task}에 필요한 자료는 제가 드릴게요.",),
        ),
        Variant(
            "work_meeting", False, OFFICE_OPENINGS,
            (
                (1, ("{task} 검토 회의를 잡아야 하는데, {date} {rej_time:은/는} 어때요?",
                     "{date}에 {task} 검토 회의를 하려고 해요. {rej_time} 괜찮으세요?")),
                (2, ("그 시간엔 {boss:과/와} 외근이 있어요. {time:은/는} 어떠세요?",
                     "{rej_time}에는 {boss:과/와} 미팅이 있어서요. {time:이면/면} 될 것 같아요.")),
                (1, ("좋아요. 그럼 {time}에 {room:을/를} 예약할게요.",
                     "그래요, {time:으로/로} 하죠. {room:은/는} 제가 잡아 둘게요.")),
                (2, ("네, 자료는 제가 미리 준비해 갈게요.", "알겠어요. 필요한 자료는 제가 챙길게요.")),
            ),
            "{P1:과/와} {P2:은/는} {date} {time}에 {room}에서 {task} 회의를 합니다.",
            echoes=("{time:이면/면} 저도 참석할게요.",),
        ),
    )),
    Topic("건강 상담", _facts_health, (
        Variant(
            "health_doctor", False, CLINIC_OPENINGS,
            (
                (1, ("어디가 불편하셔서 오셨어요?", "증상이 어떠세요?")),
                (2, ("{duration}째 {symptom:이/가} 심해서요.", "{symptom:이/가} {duration}째 계속돼서 왔어요.")),
                (1, ("혹시 약은 드셔 보셨어요?", "따로 드신 약은 있으세요?")),
                (2, ("집에 있던 {rej_med:을/를} 먹었는데 소용이 없었어요.",
                     "네, {rej_med:을/를} 먹어 봤는데 그대로예요.")),
                (1, ("그럼 {med:을/를} 처방해 드릴게요. {dosage} 드시고, {date}에 다시 오세요.",
                     "{rej_med:은/는} 그만 드시고 {med:을/를} {dosage} 드세요. {date}에 경과를 보죠.")),
                (2, ("네, 알겠습니다.", "네, 감사합니다, 선생님.")),
            ),
            "{P2:은/는} {duration}째 {symptom:으로/로} {med:을/를} {dosage} 처방받고 {date}에 다시 옵니다.",
            echoes=("{dosage} 잊지 않게 제가 챙길게요.",),
        ),
        Variant(
            "health_friend", True, CASUAL_OPENINGS,
            (
                (1, ("근데 너 안색이 안 좋아 보인다. 어디 아파?", "목소리가 안 좋네. 어디 아파?")),
                (2, ("응, {duration}째 {symptom} 때문에 고생이야.", "{symptom:이/가} {duration}째 안 나아.")),
                (1, ("병원은 가 봤어?", "병원은 다녀왔어?")),
                (2, ("아직. {rej_date}에 가려고 했는데 그날은 휴진이래.",
                     "{rej_date}에 가 보려고 했는데 그날 문을 닫는대.")),
                (1, ("그럼 {date}에 {clinic}에 가 봐. 거기 잘 봐 줘.",
                     "{clinic:이/가} 잘 본대. {date}에 꼭 가 봐.")),
                (2, ("알았어. {date}에 가 볼게.", "고마워. 그렇게 할게.")),
            ),
            "{P2:은/는} {duration}째 {symptom:으로/로} {date}에 {clinic}에 가기로 합니다.",
            echoes=("맞아, {clinic} 진짜 친절해.",),
        ),
    )),
    Topic("식당 예약", _facts_restaurant, (
        Variant(
            "restaurant_phone", False, PHONE_OPENINGS,
            (
                (1, ("{date} 저녁에 {party} 자리 예약할 수 있을까요? {occasion:이라서/라서}요.",
                     "{occasion:이/가} 있어서 {date} 저녁에 {party} 예약하려고요.")),
                (2, ("{rej_time:은/는} 예약이 다 찼고, {time}에는 가능합니다.",
                     "죄송하지만 {rej_time:은/는} 어렵고, {time:이면/면} 자리가 있어요.")),
                (1, ("그럼 {time:으로/로} 해 주세요. {menu:을/를} 미리 주문할 수 있나요?",
                     "{time:으로/로} 할게요. 혹시 {menu}도 미리 주문되나요?")),
                (2, ("네, 가능합니다. 예약자 연락처를 알려 주세요.", "그럼요. 연락처 하나만 남겨 주세요.")),
                (1, ("#PhoneNumber#입니다.", "제 번호는 #PhoneNumber#예요.")),
                (2, ("감사합니다. {restaurant}에서 뵙겠습니다.", "예약됐습니다. {date}에 {restaurant}에서 뵐게요.")),
            ),
            "{P1:은/는} {occasion:으로/로} {date} {time}에 {restaurant} {party} 자리와 {menu:을/를} 예약합니다.",
            echoes=("{menu} 꼭 먹어 보고 싶었어요.",),
        ),
        Variant(
            "restaurant_friends", True, CASUAL_OPENINGS,
            (
                (1, ("오늘 저녁 뭐 먹을까? {rej_restaurant} 갈래?", "저녁은 {rej_restaurant}에서 먹을까?")),
                (2, ("거기는 지난주에 갔잖아. {restaurant:은/는} 어때? {menu:이/가} 맛있대.",
                     "{rej_restaurant:은/는} 너무 멀어. {restaurant}에서 {menu} 먹자.")),
                (1, ("좋아. 몇 시에 만날까?", "오, 좋다. 몇 시에 볼까?")),
                (2, ("{rej_time:은/는} 내가 일이 안 끝나. {time}에 보자.",
                     "난 {rej_time:은/는} 안 되고 {time:이면/면} 돼.")),
                (1, ("그래, {time}에 가게 앞에서 만나. 예약은 내가 할게.",
                     "알았어. 내가 {time:으로/로} 예약해 둘게.")),
            ),
            "{P1:과/와} {P2:은/는} {time}에 {restaurant}에서 {menu:을/를} 먹습니다.",
            echoes=("{menu} 좋지! 나도 갈래.",),
        ),
    )),
    Topic("이사 준비", _facts_moving, (
        Variant(
            "moving_mover", True, CASUAL_OPENINGS,
            (
                (1, ("나 {date}에 {hood:으로/로} 이사 가. 근데 이삿짐센터를 아직 못 정했어.",
                     "{date}에 {hood:으로/로} 이사하는데 업체를 아직 못 구했어.")),
                (2, ("작년에 내가 쓴 {mover} 괜찮았어.", "{mover:이/가} 꼼꼼하게 잘해 줘. 나도 거기 썼어.")),
                (1, ("견적은 얼마나 나와? 다른 데는 {rej_price:이라던데/라던데}.",
                     "비싸지 않아? 다른 업체는 {rej_price:을/를} 부르더라.")),
                (2, ("나는 {price:이었어/였어}. 번호는 #PhoneNumber#야.",
                     "거기는 {price} 정도야. 전화번호는 #PhoneNumber#고.")),
                (1, ("오, 훨씬 싸네. 바로 연락해 볼게.", "그럼 거기로 해야겠다. 고마워!")),
            ),
            "{P1:은/는} {date} {hood} 이사를 {mover}에 {price:으로/로} 맡깁니다.",
            echoes=("{hood}? 우리 집이랑 가깝네!",),
            asides=(("너 예전에 {other_hood}에 살 때 이사했었지?", "응, 그때 업체를 잘못 골라서 고생했어."),),
        ),
        Variant(
            "moving_rent", False,
            (("안녕하세요, 오시느라 고생 많으셨어요.", "아니에요. 오늘 집 좀 보려고요."),
             ("어서 오세요, 찾아오시기 어렵지 않으셨어요?", "네, 금방 찾았어요.")),
            (
                (1, ("이 {house:은/는} {hood}에서도 역이랑 가까워요. 보증금 {deposit}에 월세는 {rej_rent:이에요/예요}.",
                     "여기 {house:은/는} {hood}에서 제일 조용해요. 보증금은 {deposit}, 월세는 {rej_rent:이에요/예요}.")),
                (2, ("집은 마음에 드는데 {rej_rent:은/는} 좀 부담돼요. 조금 깎아 주실 수 있나요?",
                     "좋네요. 그런데 월세를 조금만 낮춰 주실 수 있을까요?")),
                (1, ("집주인께 여쭤보니 {rent}까지 해 주신대요.", "집주인과 통화했는데 {rent:으로/로} 해 주시겠대요.")),
                (2, ("그럼 계약할게요. {date}에 입주하고 싶어요.", "좋아요, 계약하죠. 입주는 {date:으로/로} 하고 싶어요.")),
                (1, ("네, 그렇게 전해 드릴게요. 계약은 #Address#에 있는 저희 사무실에서 하시면 돼요.",
                     "알겠습니다. 계약서에 주소는 #Address#로 적어 드릴게요.")),
            ),
            "{P2:은/는} {hood} {house:을/를} 보증금 {deposit}, 월세 {rent}에 계약하고 {date}에 입주합니다.",
            echoes=("{hood:이면/면} 출퇴근도 편하겠어요.",),
            asides=(("요즘 {other_hood:은/는} 매물이 거의 없어요.", "아, 그래서 이쪽으로 알아보고 있어요."),),
        ),
    )),
    Topic("가전 수리", _facts_repair, (
        Variant(
            "repair_visit", False, PHONE_OPENINGS,
            (
                (1, ("{appliance:이/가} 고장 난 것 같아요. {fault_said}.",
                     "집에 있는 {appliance}에 문제가 생겼어요. {fault_said}.")),
                (2, ("기사님 방문이 필요하겠네요. {date} {rej_time:은/는} 어떠세요?",
                     "확인하려면 방문해야 해요. {date} {rej_time}에 가능하세요?")),
                (1, ("그 시간엔 집에 없어요. {time:은/는} 안 될까요?",
                     "{rej_time}에는 출근해서요. {time}에 와 주실 수 있나요?")),
                (2, ("네, {time}에 방문하겠습니다. 주소는 #Address#가 맞으시죠?",
                     "{time:으로/로} 잡아 드릴게요. #Address#로 가면 되죠?")),
                (1, ("네, 맞아요. 수리비는 얼마나 나올까요?", "네. 혹시 비용은 어느 정도예요?")),
                (2, ("출장비 포함해서 {amount} 정도 예상됩니다.", "부품에 따라 다르지만 {amount} 정도예요.")),
            ),
            "{P1:은/는} {date} {time}에 {appliance} {fault} 수리를 예약하고, 비용은 {amount} 정도입니다.",
            echoes=("{time:이면/면} 제가 집에 있을게요.",),
        ),
        Variant(
            "repair_home", False,
            (("안녕하세요, 수리 기사입니다.", "네, 들어오세요. 이쪽이에요."),
             ("안녕하세요, 서비스 센터에서 왔습니다.", "아, 네. 기다리고 있었어요.")),
            (
                (1, ("{appliance:이/가} 어떻게 안 되세요?", "{appliance}에 어떤 증상이 있으세요?")),
                (2, ("{fault_said}. 산 지 {age}밖에 안 됐는데요.", "{fault_said}. 구입한 지 {age} 됐어요.")),
                (1, ("부품을 바꿔야겠네요. 원래 {rej_amount}인데 보증 기간이라 {amount}만 내시면 됩니다.",
                     "부품 교체가 필요해요. 보통 {rej_amount:이지만/지만} 보증 기간이라 {amount}만 받을게요.")),
                (2, ("다행이네요. 오래 걸리나요?", "그나마 다행이네요. 시간은 얼마나 걸려요?")),
                (1, ("{repair_time} 정도면 끝나요.", "{repair_time:이면/면} 충분해요.")),
            ),
            "{P1:은/는} {age} 된 {appliance} {fault:을/를} {repair_time} 만에 {amount}에 수리합니다.",
            echoes=("{repair_time}이라니 생각보다 빠르네요.",),
        ),
    )),
)


# --------------------------------------------------------------------------- assembly

@dataclass(frozen=True)
class SyntheticExample:
    """A generated row plus the ground truth the tests and baselines need."""

    row: dict[str, str]
    variant: str
    n_speakers: int
    summary_facts: dict[str, str]  # slot values the summary states (speaker tags excluded)
    distractors: dict[str, str]  # values said in the dialogue that the summary must not state


_DISTRACTOR_PREFIXES = ("rej_", "other_")


def _speaker_line(speaker: int, text: str) -> str:
    """Competition format: "#PersonN#: text"."""
    return f"{PERSON_TAGS[speaker - 1]}: {text}"


def _render(lines: list[tuple[int, str]]) -> str:
    """Join turns with newlines, as in the competition CSVs."""
    return "\n".join(_speaker_line(speaker, text) for speaker, text in lines)


def _build_example(rng: random.Random, fname: str, min_speakers: int, max_speakers: int) -> SyntheticExample:
    """Draw examples until no distractor is spelled inside the summary (e.g. 100만 원 in 2100만 원)."""
    for _ in range(MAX_REDRAWS):
        example = _draw_example(rng, fname, min_speakers, max_speakers)
        if not any(v in example.row["summary"] for v in example.distractors.values()):
            return example
    raise RuntimeError(f"could not draw a clean example for {fname}")


def _draw_example(rng: random.Random, fname: str, min_speakers: int, max_speakers: int) -> SyntheticExample:
    """Draw one example: topic, variant, facts, then the dialogue and its summary."""
    topic = rng.choice(TOPICS)
    variant = rng.choice(topic.variants)
    facts = topic.draw_facts(rng)
    facts.update({"P1": PERSON_TAGS[0], "P2": PERSON_TAGS[1]})
    n_speakers = rng.randint(min_speakers, max_speakers)
    used: list[str] = []  # templates actually spoken, to know which distractors the dialogue has

    def say(speaker: int, alternatives: tuple[str, ...]) -> tuple[int, str]:
        """Pick one phrasing, remember it, and fill it."""
        template = rng.choice(alternatives)
        used.append(template)
        return speaker, fill(template, facts)

    opener, answer = rng.choice(variant.openings)
    core = [say(speaker, alts) for speaker, alts in variant.turns]
    extra = _extra_speaker_lines(rng, variant, facts, n_speakers, used)
    optional: list[list[tuple[int, str]]] = []  # groups after the opening, dropped first if too long
    if rng.random() < SMALL_TALK_PROB:
        talk = rng.choice(CASUAL_SMALL_TALK if variant.casual else POLITE_SMALL_TALK)
        optional.append([(1, talk[0]), (2, talk[1])])
    if variant.asides and rng.random() < ASIDE_PROB:
        line, reply = rng.choice(variant.asides)
        optional.append([say(1, (line,)), say(2, (reply,))])

    lines = _assemble([(1, opener), (2, answer)], core, extra, optional)
    dialogue = _render(lines)
    summary = fill(variant.summary, facts)
    spoken = {k for template in used for k in template_fields(template)}
    row = {"fname": fname, "dialogue": dialogue, "summary": summary, "topic": topic.label}
    summary_keys = [k for k in template_fields(variant.summary) if k not in ("P1", "P2")]
    return SyntheticExample(
        row=row, variant=variant.key, n_speakers=n_speakers,
        summary_facts={k: facts[k] for k in summary_keys},
        distractors={k: facts[k] for k in sorted(spoken)
                     if k.startswith(_DISTRACTOR_PREFIXES) and facts[k] in dialogue},
    )


def _extra_speaker_lines(rng: random.Random, variant: Variant, facts: dict[str, str], n_speakers: int,
                         used: list[str]) -> list[tuple[int, str, tuple[str, ...]]]:
    """One line per speaker beyond #Person2#: an echo of agreed facts (with them) or an acknowledgement."""
    lines = []
    for speaker in range(MIN_SPEAKERS + 1, n_speakers + 1):
        if variant.echoes and rng.random() < ECHO_PROB:
            template = rng.choice(variant.echoes)
            used.append(template)
            echoed = tuple(facts[k] for k in template_fields(template))
            lines.append((speaker, fill(template, facts), echoed))
        else:
            lines.append((speaker, rng.choice(CASUAL_ACKS if variant.casual else POLITE_ACKS), ()))
    return lines


def _assemble(opening: list[tuple[int, str]], core: list[tuple[int, str]],
              extra: list[tuple[int, str, tuple[str, ...]]],
              optional: list[list[tuple[int, str]]]) -> list[tuple[int, str]]:
    """Order the turns and drop optional chit-chat groups until the turn and length limits hold.

    Extra speakers chime in just before the closing turn, or after it when they echo a fact that
    only the closing turn states (an echo must never precede the fact it repeats).
    """
    body, closing = core[:-1], core[-1:]
    said_before_closing = "\n".join(text for _, text in opening + body)
    grounded = [all(v in said_before_closing for v in echoed) for _, _, echoed in extra]
    ordered = [text for (_, text, _), ok in zip(extra, grounded) if ok]
    ordered += [text for (_, text, _), ok in zip(extra, grounded) if not ok]
    # Number extra speakers by first appearance, so #Person3# always speaks before #Person4#.
    numbered = [(MIN_SPEAKERS + 1 + i, text) for i, text in enumerate(ordered)]
    n_early = sum(grounded)
    early, late = numbered[:n_early], numbered[n_early:]
    while True:
        chit_chat = [line for group in optional for line in group]
        lines = opening + chit_chat + body + early + closing + late
        too_long = len(_render(lines)) > MAX_DIALOGUE_CHARS or len(lines) > MAX_TURNS
        if not too_long or not optional:
            return lines
        optional = optional[1:]


def _iter_examples(rng: random.Random, prefix: str, min_speakers: int,
                   max_speakers: int) -> Iterator[SyntheticExample]:
    """An endless stream of examples named prefix_0, prefix_1, ..."""
    index = 0
    while True:
        yield _build_example(rng, f"{prefix}_{index}", min_speakers, max_speakers)
        index += 1


def _check_speakers(min_speakers: int, max_speakers: int) -> None:
    """Refuse speaker bounds the turn budget and tag list cannot honour."""
    if not MIN_SPEAKERS <= min_speakers <= max_speakers <= MAX_SPEAKERS:
        raise ValueError(
            f"need {MIN_SPEAKERS} <= min_speakers <= max_speakers <= {MAX_SPEAKERS}, "
            f"got min_speakers={min_speakers}, max_speakers={max_speakers}"
        )


def generate_annotated(n: int, seed: int, prefix: str = "train", min_speakers: int = MIN_SPEAKERS,
                       max_speakers: int = MAX_SPEAKERS) -> list[SyntheticExample]:
    """Like generate_examples, but keeps the facts and distractors behind each row."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    _check_speakers(min_speakers, max_speakers)
    stream = _iter_examples(random.Random(seed), prefix, min_speakers, max_speakers)
    return [next(stream) for _ in range(n)]


def generate_examples(n: int, seed: int, prefix: str = "train", min_speakers: int = MIN_SPEAKERS,
                      max_speakers: int = MAX_SPEAKERS) -> list[dict[str, str]]:
    """n rows (fname, dialogue, summary, topic); the same arguments always give the same rows."""
    return [example.row for example in generate_annotated(n, seed, prefix, min_speakers, max_speakers)]


# --------------------------------------------------------------------------- writing splits

def split_seed(seed: int, split: str) -> int:
    """A per-split seed derived with SHA-256, so splits differ and never depend on hash()."""
    digest = hashlib.sha256(f"{seed}:{split}".encode("utf-8")).digest()
    return int.from_bytes(digest[:SEED_BYTES], "big")


def _write_csv_atomic(path: Path, rows: list[dict[str, str]]) -> None:
    """Write to a temp file in the same folder, then os.replace, so readers never see half a file."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, buffer.getvalue(), newline="")


def write_splits(out_dir: Path, sizes: dict[str, int], seed: int) -> dict[str, Path]:
    """Write train/val/test CSVs (all with summaries, so test can be scored) and return their paths."""
    missing = [s for s in SPLITS if s not in sizes]
    unknown = sorted(s for s in sizes if s not in SPLITS)
    if missing or unknown:
        raise ValueError(
            f"sizes must have exactly the keys {list(SPLITS)}; missing {missing}, unknown {unknown}"
        )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split in SPLITS:
        rows = generate_examples(sizes[split], split_seed(seed, split), prefix=split)
        paths[split] = out_dir / f"{split}.csv"
        _write_csv_atomic(paths[split], rows)
    return paths
