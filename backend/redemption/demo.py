"""The demo's points shops, merchant offers and redemption windows, for `linli demo load`.

Windows are placed relative to the day the demo is loaded, so browser tests can rely on them:
- 东园社区 is always open today: it has the current quarter's first two weeks (一季一兑换) and, when today falls
  outside them, a two-week window starting today;
- 西园社区 is always closed today: it has the current quarter's first two weeks only when today is past them, and
  the next quarter's first two weeks;
- both have the past exchange week (21–30 September) the demo history's shop redemptions happened in.
"""
from __future__ import annotations

from datetime import date, timedelta

from backend.demo import data
from backend.people import service as people
from backend.redemption import rules, service

# goods beyond the word list the demo history used; a haircut voucher is a classic of the schemes (000)
EXTRA_GOODS = (("理发券", 30),)
# merchant offer (as the demo history's memos name it) -> what the holder gets, limit per person, limit in all
OFFERS: dict[str, tuple[str, int | None, int | None]] = {
    "兑换理发服务": ("男士或女士剪发一次（不含烫染）", None, None),
    "兑换老人理发服务": ("六十岁以上老人剪发一次，可上门", 2, None),
    "兑换购物抵扣 10 元": ("结账时抵扣 10 元，满 30 元可用", None, None),
    "兑换购物抵扣 20 元": ("结账时抵扣 20 元，满 60 元可用", 1, 50),
    "兑换医用口罩 1 盒": ("一次性医用口罩一盒（50 只）", 2, None),
    "兑换创可贴 1 盒": ("创可贴一盒（20 片）", None, None),
    "兑换早餐套餐 1 份": ("包子两个、豆浆一杯", None, None),
    "兑换豆浆油条 1 份": ("豆浆一杯、油条一根", None, None),
    "兑换修鞋服务": ("修鞋一双（换跟、补面、缝线）", None, None),
    "兑换配钥匙 2 把": ("普通钥匙两把", None, None),
    "兑换干洗外套 1 件": ("外套干洗一件", 1, None),
    "兑换洗衣服务": ("水洗衣物一袋（5 公斤以内）", None, None),
    "兑换时令水果 1 份": ("当季水果一份（约 2 斤）", None, None),
    "兑换家政保洁 1 小时": ("上门保洁一小时", 2, 20),
    "兑换小家电维修 1 次": ("电饭煲、电风扇等小家电检修一次（零件另计）", 1, None),
    "兑换挂面 2 把": ("挂面两把", None, None),
    "兑换食用盐 2 袋": ("食用盐两袋", None, None),
}
SOLD_OUT = "保温杯"  # one item at zero, so the screens show what sold out looks like


def _stock(points: int) -> int:
    """Cheap goods come by the box, dear ones a few at a time."""
    return max(5, min(60, 600 // points))


async def add_demo_shop(communities: dict[str, int], admins: dict[str, int], merchants: dict[str, int],
                        clerks: dict[int, int], today: date) -> None:
    """`communities` and `admins`: community name -> node id / the user who manages it; `merchants`: merchant
    name -> account id; `clerks`: merchant account id -> its clerk's user id, who publishes that merchant's offers."""
    principals = {name: await people.principal(user) for name, user in admins.items()}
    for name, community_id in communities.items():
        admin = principals[name]
        for goods, points in [(g, p) for g, _, p in data.SHOP_GOODS] + list(EXTRA_GOODS):
            await service.add_goods(admin, community_id, goods, points, 0 if goods == SOLD_OUT else _stock(points))
        await service.add_window(admin, community_id, date(2026, 9, 21), date(2026, 9, 30), "三季度兑换周")
        for window, note in _windows(name, today):
            await service.add_window(admin, community_id, window.starts_on, window.ends_on, note)
        for merchant, offers in data.MERCHANTS[name].items():
            account = merchants[merchant]
            author = await people.principal(clerks[account]) if account in clerks else admin
            for title, points in offers:
                gives, per_person, total = OFFERS[title]
                await service.add_offer(author, account, title.removeprefix("兑换").strip(), gives, points, per_person,
                                        total, min(date(2026, 7, 1), today), date(today.year + 1, 12, 31))


def _windows(community: str, today: date) -> list[tuple[rules.Window, str]]:
    quarter = (rules.first_two_weeks_of_quarter(today), "一季一兑换")
    inside = quarter[0].starts_on <= today <= quarter[0].ends_on
    if community == "东园社区":
        return [quarter] if inside else [quarter, (rules.Window(today, today + timedelta(days=13)), "本期补充兑换")]
    later = (rules.first_two_weeks_of_quarter(rules.next_quarter(today)), "一季一兑换")
    return [later] if inside else [quarter, later]
