"""The topics of the synthetic data: per-topic fact drawers, dialogue scripts and summary templates.

Each ``Topic`` pairs a label with a fact drawer (``_facts_*``: who, what, where, when, how much,
plus distractors prefixed ``rej_`` / ``other_``) and 2-3 ``Variant`` scripts whose turns and
summary template are filled from those facts.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from dialsum.data.synthetic.korean import format_won
from dialsum.data.synthetic.vocabulary import (
    APPLIANCE_AGES,
    APPLIANCES,
    CASUAL_OPENINGS,
    CLINIC_AREAS,
    CLINIC_KINDS,
    CLINIC_OPENINGS,
    COLORS,
    DAY_SLOTS,
    DESTINATIONS,
    DINNER_OCCASIONS,
    DOSAGES,
    EVENING_SLOTS,
    GIFT_ITEMS,
    GIFT_OCCASIONS,
    HOUSES,
    ISLAND_TRANSPORTS,
    ISLANDS,
    LAND_TRANSPORTS,
    LOCAL_CLINICS,
    MEDICINES,
    MEETING_ROOMS,
    MOVERS,
    NAMES,
    NEIGHBORHOODS,
    OFFICE_OPENINGS,
    PARTY_SIZES,
    PHONE_OPENINGS,
    REPAIR_DURATIONS,
    RESTAURANTS,
    SICK_DURATIONS,
    STORE_OPENINGS,
    SURNAMES,
    SYMPTOMS,
    TICKETED_LAND_TRANSPORTS,
    TITLES,
    TRAVEL_PARTIES,
    TRIP_LENGTHS,
    WEEKDAYS,
    WEEKENDS,
    WEEKS,
    WORK_TASKS,
)

# --------------------------------------------------------------------------- sizes and limits

MAX_REDRAWS = 100  # bounded retries when drawing a value that must differ from others
HALF_HOUR_PROB = 0.3
SPOKEN_WON_PROB = 0.5  # else printed digits (35,000원)
WEEKDAY_DATE_PROB = 0.45
CALENDAR_DATE_PROB = 0.4  # the remainder are weekends (이번 주말)
MONTHS = 12
MAX_DAY_OF_MONTH = 28
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


# --------------------------------------------------------------------------- fact drawing

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
