"""The word lists the demo community is made from. Invented, but drawn from the seed reports:
the 7 × 5 points catalogue valued 5/10/20 (report 000), red/blue/green accounts (002), resident
organisations and alliance merchants (000, 003), building leads (004)."""
from __future__ import annotations

from dataclasses import dataclass

STREET = "红旗街道"

# community -> compounds -> number of grids in each compound
COMMUNITIES: dict[str, dict[str, int]] = {
    "东园社区": {"东园小区": 3, "东园新村": 2},
    "西园社区": {"西园小区": 3, "翠柳苑": 2},
}
GRID_NAMES = ("第一网格", "第二网格", "第三网格")
UNITS_PER_BUILDING = 2

# common surnames, most frequent first; the weight falls off along the list
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
    "余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官")

# given names of one character (two-character full names) and of two (three-character full names)
GIVEN_1 = tuple("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚辉鹏华红玲斌波宇浩凯健俊帆旭宁林欢阳亮成峰颖琳婷雪慧丹萍鑫倩")
GIVEN_2 = (
    # grandparents' generation
    "建国", "建华", "国强", "国庆", "志强", "志刚", "秀英", "秀兰", "桂英", "桂兰", "玉兰", "玉梅", "淑珍", "淑英",
    "凤英", "美华", "建军", "卫东", "红梅", "丽华", "海燕", "德明", "永刚", "振华", "文华", "春梅", "秋菊", "冬梅",
    "学军", "爱国", "素芬", "金花", "长林", "宝山",
    # parents' generation
    "晓东", "晓燕", "晓明", "丽娟", "海涛", "海波", "红霞", "建平", "志勇", "艳红", "立新", "雪梅", "春燕", "国栋",
    "小红", "小军", "文静", "俊峰", "晓丽", "伟东", "丽萍", "永红", "建英", "海军",
    # children's generation
    "子涵", "浩然", "欣怡", "宇轩", "梓萱", "雨涵", "一诺", "思远", "佳怡", "子轩", "梓涵", "俊杰", "嘉怡", "雨桐",
    "明轩", "诗涵", "欣妍", "博文", "浩宇", "若曦",
)

# fake mobile numbers: a common prefix and eight random digits
PHONE_PREFIXES = ("138", "139", "137", "136", "135", "150", "151", "158", "159", "186", "187", "188", "133", "189")


@dataclass(frozen=True)
class Item:
    """One points catalogue item (积分项目及分值标准)."""

    category: str
    name: str
    points: int

    @property
    def label(self) -> str:
        return f"{self.category} · {self.name}（{self.points}分）"


_CATALOGUE: dict[str, tuple[tuple[str, int], ...]] = {
    "理论宣讲": (("参加理论宣讲活动", 5), ("参加主题读书分享会", 5), ("入户开展政策宣传", 10),
                 ("参与普法反诈宣传", 10), ("担任宣讲员开展宣讲", 20)),
    "平安创建": (("劝导电动车规范充电", 5), ("报告安全隐患并协助处置", 5), ("参加治安巡逻", 10),
                 ("消防安全隐患排查", 10), ("参与邻里纠纷调解", 20)),
    "文明实践": (("文明交通劝导", 5), ("光盘行动宣传", 5), ("垃圾分类督导", 10),
                 ("参与文明家庭评选展示", 10), ("策划组织文明实践活动", 20)),
    "爱心帮扶": (("为独居老人代购代办", 5), ("看望空巢老人", 10), ("参加爱心义诊测血压", 10),
                 ("结对帮扶困难家庭", 20), ("参加无偿献血", 20)),
    "环境整治": (("楼道清理", 5), ("清理乱贴小广告", 5), ("参加环境卫生大扫除", 10),
                 ("认养绿地并养护", 10), ("牵头整治楼院脏乱点", 20)),
    "邻里互助": (("参加红色议事厅协商", 5), ("帮办代办", 5), ("公益理发", 10),
                 ("认领完成居民微心愿", 10), ("牵头组建邻里互助帮帮团", 20)),
    "志愿服务": (("志愿服务满2小时", 5), ("志愿服务满半天", 10), ("担任楼栋值守志愿者", 10),
                 ("在职党员回家报到", 10), ("大型活动保障志愿服务", 20)),
}
CATALOGUE: tuple[Item, ...] = tuple(Item(c, n, p) for c, items in _CATALOGUE.items() for n, p in items)
CATEGORIES: tuple[str, ...] = tuple(_CATALOGUE)


def item(name: str) -> Item:
    return next(i for i in CATALOGUE if i.name == name)


# in-service party members check in at home in the last week of each month (报到); awarded on its own schedule
HOME_CHECK_IN = "在职党员回家报到"

# how often each category comes up, by who the resident is
CATEGORY_WEIGHTS: dict[str, dict[str, float]] = {
    "red": {"理论宣讲": 3, "平安创建": 2, "文明实践": 2, "爱心帮扶": 2, "环境整治": 1.5, "邻里互助": 1.5, "志愿服务": 2},
    "green": {"理论宣讲": 0.5, "平安创建": 2.5, "文明实践": 1.5, "爱心帮扶": 1, "环境整治": 3, "邻里互助": 2.5, "志愿服务": 2},
    "blue": {"理论宣讲": 1, "平安创建": 1, "文明实践": 2, "爱心帮扶": 1, "环境整治": 2, "邻里互助": 2, "志愿服务": 2},
}
# the small deeds are the common ones
VALUE_WEIGHTS = {5: 6, 10: 3, 20: 1}

# one community-wide activity a month (day of month, catalogue item); many residents take part
MONTHLY_EVENTS = (
    (7, 11, "参加环境卫生大扫除"),
    (8, 15, "参加理论宣讲活动"),
    (9, 26, "参加治安巡逻"),
    (10, 17, "垃圾分类督导"),
    (11, 9, "消防安全隐患排查"),  # 11·9, national fire safety day
)

ORGANISATIONS: dict[str, tuple[str, ...]] = {
    "东园社区": ("东园小学", "区税务局第三分局", "城建集团东园项目部", "东园社区卫生服务站"),
    "西园社区": ("西园幼儿园", "太平财险西园营业部", "区市场监管局西园所", "鸠兹口腔西园诊所"),
}
ORGANISATION_ITEMS = ("大型活动保障志愿服务", "策划组织文明实践活动", "参加爱心义诊测血压", "参与普法反诈宣传",
                      "结对帮扶困难家庭", "参加环境卫生大扫除")

# alliance merchants (商居联盟) and what they give for points
MERCHANTS: dict[str, dict[str, tuple[tuple[str, int], ...]]] = {
    "东园社区": {
        "老王理发店": (("兑换理发服务", 30), ("兑换老人理发服务", 20)),
        "惠民超市": (("兑换购物抵扣 10 元", 20), ("兑换购物抵扣 20 元", 40)),
        "阳光药房": (("兑换医用口罩 1 盒", 20), ("兑换创可贴 1 盒", 10)),
        "李记早点": (("兑换早餐套餐 1 份", 15), ("兑换豆浆油条 1 份", 10)),
        "便民修鞋铺": (("兑换修鞋服务", 20), ("兑换配钥匙 2 把", 10)),
    },
    "西园社区": {
        "社区洗衣店": (("兑换干洗外套 1 件", 30), ("兑换洗衣服务", 20)),
        "好邻居水果店": (("兑换时令水果 1 份", 25),),
        "张姐家政": (("兑换家政保洁 1 小时", 60),),
        "刘师傅家电维修": (("兑换小家电维修 1 次", 40),),
        "百姓粮油店": (("兑换挂面 2 把", 15), ("兑换食用盐 2 袋", 10)),
    },
}

# the points shop (积分超市): goods, their measure word, and points each
SHOP_GOODS = (
    ("垃圾袋", "卷", 5), ("挂面", "把", 10), ("牙膏", "支", 15), ("毛巾", "条", 15), ("酱油", "瓶", 20),
    ("洗洁精", "瓶", 25), ("抽纸", "提", 30), ("鸡蛋", "盒", 40), ("洗衣液", "瓶", 50), ("雨伞", "把", 60),
    ("大米（5斤）", "袋", 80), ("保温杯", "个", 100), ("食用油", "桶", 120),
)

DEDUCTION_MEMOS = ("重复申报，扣回", "活动未实际参加，经核实扣回", "同一事项重复记分，扣回")
REVERSAL_MEMOS = ("录入错误，冲正", "误录到其他居民名下，冲正")
