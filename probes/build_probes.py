"""Build the built-in real-world probe sets: `world_facts_en.jsonl` and `world_facts_zh.jsonl`.

The fact tables below are the single source of truth for the facts: well-known, stable, unambiguous facts that
real pretrained base models know (capitals, currencies, chemical symbols, authors, ...), each written once with
its English and Chinese forms, so both files hold the same facts with matching ids (`en.capital.japan` /
`zh.capital.japan`). Each relation has its own cloze and question templates per language.

`candidates` are the answer plus the fact's hand-curated distractors from `distractors.jsonl` (next to this
script): confusable options of the same type (for a capital, the country's other large cities; for an author,
writers of the same language and era), one form per language. Before anything is written the distractors are
checked against the answer and its aliases with the judge of `sftdebug.facts.match`; a problem stops the
build with a message naming the probe id (see probes/README.md, "Distractors").

A fact is `(en subject, zh subject, en answers, zh answers)`; answers are `"answer|alias|alias"`. The id key
is the English subject in ASCII snake_case (a leading "the" dropped). Facts that are disputed, have several
correct answers or changed recently are left out on purpose (e.g. capitals of Bolivia, the Netherlands,
South Africa; the inventor of the light bulb or radio; languages of multilingual countries).

    python probes/build_probes.py          # check the tables and distractors, then (re)write both files
"""

from __future__ import annotations

import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the judge of this checkout, also when run as a script
from sftdebug.facts.match import contains_answer, normalize  # noqa: E402

# Written as package data of sftdebug.hallucination, so that a wheel install ships them.
HERE = ROOT / "sftdebug" / "facts" / "builtin_probes"
DISTRACTORS = Path(__file__).resolve().parent / "distractors.jsonl"
MIN_DISTRACTORS = 4


class BuildError(ValueError):
    """The curated data cannot be built; `problems` name the probe ids."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


LANGS = ("en", "zh")

# relation -> {lang: (cloze templates, question templates)}; {s} is the subject, {S} the same capitalised.
TEMPLATES: dict[str, dict[str, tuple[list[str], list[str]]]] = {
    "capital": {
        "en": (["The capital of {s} is", "The capital city of {s} is"], ["What is the capital of {s}?"]),
        "zh": (["{s}的首都是", "{s}的首都叫作"], ["{s}的首都是哪里？"]),
    },
    "currency": {
        "en": (["The currency of {s} is the", "The official currency of {s} is the"], ["What is the currency of {s}?"]),
        "zh": (["{s}的货币是", "{s}的法定货币是"], ["{s}使用什么货币？"]),
    },
    "element_symbol": {
        "en": (
            ["The chemical symbol for {s} is", "In the periodic table, the symbol for {s} is"],
            ["What is the chemical symbol for {s}?"],
        ),
        "zh": (["{s}的化学符号是", "{s}的元素符号是"], ["{s}的化学符号是什么？"]),
    },
    "author": {
        "en": (["{S} was written by", "The author of {s} is"], ["Who wrote {s}?"]),
        "zh": (["{s}的作者是", "{s}出自"], ["{s}的作者是谁？"]),
    },
    "continent": {
        "en": (
            ["{S} is located on the continent of", "{S} is a country on the continent of"],
            ["On which continent is {s} located?"],
        ),
        "zh": (["{s}所在的大洲是", "从地理上看，{s}位于"], ["{s}位于哪个大洲？"]),
    },
    "language": {
        "en": (
            ["The official language of {s} is", "The main language spoken in {s} is"],
            ["What is the official language of {s}?"],
        ),
        "zh": (["{s}的官方语言是", "{s}人主要说"], ["{s}的官方语言是什么？"]),
    },
    "inventor": {
        "en": (["{S} was invented by", "The inventor of {s} was"], ["Who invented {s}?"]),
        "zh": (["{s}的发明者是", "发明{s}的人是"], ["{s}是谁发明的？"]),
    },
    "creator": {
        "en": (["{S} was created by", "The creator of {s} is"], ["Who created {s}?"]),
        "zh": (["{s}的创造者是", "{s}最初的开发者是"], ["{s}是谁创造的？"]),
    },
    "discoverer": {
        "en": (
            ["The scientist who discovered {s} was", "The discovery of {s} is credited to"],
            ["Who discovered {s}?"],
        ),
        "zh": (["{s}的发现者是", "发现{s}的科学家是"], ["{s}是谁发现的？"]),
    },
    "theory": {
        "en": (
            ["The scientist who proposed {s} was", "Credit for proposing {s} goes to"],
            ["Who proposed {s}?"],
        ),
        "zh": (["{s}的提出者是", "提出{s}的是"], ["{s}是谁提出的？"]),
    },
    "planet": {
        "en": (["{S} is", "In our Solar System, {s} is"], ["What is {s}?"]),
        "zh": (["{s}是", "{s}叫作"], ["{s}是哪一颗？"]),
    },
    "painter": {
        "en": (["{S} was painted by", "The painter of {s} was"], ["Who painted {s}?"]),
        "zh": (["名画{s}的作者是", "名画{s}出自"], ["名画{s}是谁画的？"]),
    },
    "composer": {
        "en": (["{S} was composed by", "The composer of {s} was"], ["Who composed {s}?"]),
        "zh": (["{s}的作曲家是", "{s}的曲作者是"], ["{s}是哪位作曲家的作品？"]),
    },
    "landmark_city": {
        "en": (
            ["{S} is located in the city of", "{S} can be found in the city of"],
            ["In which city is {s} located?"],
        ),
        "zh": (["{s}所在的城市是", "{s}所在城市的名字是"], ["{s}位于哪座城市？"]),
    },
}

# fmt: off
FACTS: dict[str, list[tuple[str, str, str, str]]] = {
    "capital": [
        ("Japan", "日本", "Tokyo", "东京"),
        ("China", "中国", "Beijing", "北京"),
        ("South Korea", "韩国", "Seoul", "首尔"),
        ("North Korea", "朝鲜", "Pyongyang", "平壤"),
        ("Mongolia", "蒙古", "Ulaanbaatar|Ulan Bator", "乌兰巴托"),
        ("India", "印度", "New Delhi", "新德里"),
        ("Pakistan", "巴基斯坦", "Islamabad", "伊斯兰堡"),
        ("Bangladesh", "孟加拉国", "Dhaka", "达卡"),
        ("Nepal", "尼泊尔", "Kathmandu", "加德满都"),
        ("Thailand", "泰国", "Bangkok", "曼谷"),
        ("Vietnam", "越南", "Hanoi", "河内"),
        ("the Philippines", "菲律宾", "Manila", "马尼拉"),
        ("Cambodia", "柬埔寨", "Phnom Penh", "金边"),
        ("Iran", "伊朗", "Tehran", "德黑兰"),
        ("Iraq", "伊拉克", "Baghdad", "巴格达"),
        ("Saudi Arabia", "沙特阿拉伯", "Riyadh", "利雅得"),
        ("Jordan", "约旦", "Amman", "安曼"),
        ("Lebanon", "黎巴嫩", "Beirut", "贝鲁特"),
        ("Qatar", "卡塔尔", "Doha", "多哈"),
        ("the United Arab Emirates", "阿联酋", "Abu Dhabi", "阿布扎比"),
        ("Turkey", "土耳其", "Ankara", "安卡拉"),
        ("Egypt", "埃及", "Cairo", "开罗"),
        ("Kenya", "肯尼亚", "Nairobi", "内罗毕"),
        ("Ethiopia", "埃塞俄比亚", "Addis Ababa", "亚的斯亚贝巴"),
        ("Nigeria", "尼日利亚", "Abuja", "阿布贾"),
        ("Ghana", "加纳", "Accra", "阿克拉"),
        ("Morocco", "摩洛哥", "Rabat", "拉巴特"),
        ("Algeria", "阿尔及利亚", "Algiers", "阿尔及尔"),
        ("Senegal", "塞内加尔", "Dakar", "达喀尔"),
        ("Uganda", "乌干达", "Kampala", "坎帕拉"),
        ("the United States", "美国", "Washington, D.C.|Washington|Washington DC", "华盛顿|华盛顿特区"),
        ("Canada", "加拿大", "Ottawa", "渥太华"),
        ("Mexico", "墨西哥", "Mexico City", "墨西哥城"),
        ("Cuba", "古巴", "Havana", "哈瓦那"),
        ("Brazil", "巴西", "Brasília|Brasilia", "巴西利亚"),
        ("Argentina", "阿根廷", "Buenos Aires", "布宜诺斯艾利斯"),
        ("Chile", "智利", "Santiago|Santiago de Chile", "圣地亚哥"),
        ("Peru", "秘鲁", "Lima", "利马"),
        ("Colombia", "哥伦比亚", "Bogotá|Bogota", "波哥大"),
        ("Venezuela", "委内瑞拉", "Caracas", "加拉加斯"),
        ("Uruguay", "乌拉圭", "Montevideo", "蒙得维的亚"),
        ("Ecuador", "厄瓜多尔", "Quito", "基多"),
        ("Australia", "澳大利亚", "Canberra", "堪培拉"),
        ("New Zealand", "新西兰", "Wellington", "惠灵顿"),
        ("the United Kingdom", "英国", "London", "伦敦"),
        ("Ireland", "爱尔兰", "Dublin", "都柏林"),
        ("France", "法国", "Paris", "巴黎"),
        ("Germany", "德国", "Berlin", "柏林"),
        ("Italy", "意大利", "Rome", "罗马"),
        ("Spain", "西班牙", "Madrid", "马德里"),
        ("Portugal", "葡萄牙", "Lisbon", "里斯本"),
        ("Belgium", "比利时", "Brussels", "布鲁塞尔"),
        ("Austria", "奥地利", "Vienna", "维也纳"),
        ("Poland", "波兰", "Warsaw", "华沙"),
        ("Hungary", "匈牙利", "Budapest", "布达佩斯"),
        ("the Czech Republic", "捷克", "Prague", "布拉格"),
        ("Greece", "希腊", "Athens", "雅典"),
        ("Russia", "俄罗斯", "Moscow", "莫斯科"),
        ("Ukraine", "乌克兰", "Kyiv|Kiev", "基辅"),
        ("Sweden", "瑞典", "Stockholm", "斯德哥尔摩"),
        ("Norway", "挪威", "Oslo", "奥斯陆"),
        ("Denmark", "丹麦", "Copenhagen", "哥本哈根"),
        ("Finland", "芬兰", "Helsinki", "赫尔辛基"),
        ("Iceland", "冰岛", "Reykjavík|Reykjavik", "雷克雅未克"),
        ("Romania", "罗马尼亚", "Bucharest", "布加勒斯特"),
        ("Bulgaria", "保加利亚", "Sofia", "索非亚"),
        ("Serbia", "塞尔维亚", "Belgrade", "贝尔格莱德"),
        ("Croatia", "克罗地亚", "Zagreb", "萨格勒布"),
    ],
    "currency": [
        ("Japan", "日本", "Japanese yen|yen", "日元|日圆"),
        ("China", "中国", "renminbi|yuan|Chinese yuan|RMB", "人民币"),
        ("the United Kingdom", "英国", "pound sterling|pound|British pound|sterling", "英镑"),
        ("the United States", "美国", "US dollar|U.S. dollar|United States dollar|American dollar|dollar", "美元|美金"),
        ("Canada", "加拿大", "Canadian dollar", "加拿大元|加元"),
        ("Australia", "澳大利亚", "Australian dollar", "澳大利亚元|澳元"),
        ("New Zealand", "新西兰", "New Zealand dollar", "新西兰元|纽元"),
        ("Germany", "德国", "euro", "欧元"),
        ("Switzerland", "瑞士", "Swiss franc|franc", "瑞士法郎|法郎"),
        ("Russia", "俄罗斯", "Russian ruble|ruble|rouble|Russian rouble", "卢布|俄罗斯卢布"),
        ("India", "印度", "Indian rupee|rupee", "印度卢比|卢比"),
        ("South Korea", "韩国", "South Korean won|Korean won|won", "韩元|韩圆"),
        ("Mexico", "墨西哥", "Mexican peso|peso", "墨西哥比索|比索"),
        ("Brazil", "巴西", "Brazilian real|real", "巴西雷亚尔|雷亚尔"),
        ("South Africa", "南非", "South African rand|rand", "南非兰特|兰特"),
        ("Thailand", "泰国", "Thai baht|baht", "泰铢"),
        ("Vietnam", "越南", "Vietnamese dong|dong|đồng|Vietnamese đồng", "越南盾"),
        ("Turkey", "土耳其", "Turkish lira|lira", "土耳其里拉|里拉"),
        ("Israel", "以色列", "Israeli new shekel|new shekel|shekel|new Israeli shekel", "新谢克尔|谢克尔|以色列新谢克尔"),
        ("Poland", "波兰", "Polish złoty|złoty|zloty|Polish zloty", "兹罗提|波兰兹罗提"),
        ("Sweden", "瑞典", "Swedish krona|krona", "瑞典克朗"),
        ("Norway", "挪威", "Norwegian krone", "挪威克朗"),
        ("Denmark", "丹麦", "Danish krone", "丹麦克朗"),
        ("the Czech Republic", "捷克", "Czech koruna|koruna|Czech crown", "捷克克朗"),
        ("Hungary", "匈牙利", "Hungarian forint|forint", "福林|匈牙利福林"),
        ("Indonesia", "印度尼西亚", "Indonesian rupiah|rupiah", "印尼盾|印度尼西亚盾|印尼卢比|印度尼西亚卢比"),
        ("Malaysia", "马来西亚", "Malaysian ringgit|ringgit", "林吉特|马来西亚林吉特|马币"),
        ("Egypt", "埃及", "Egyptian pound", "埃及镑"),
        ("Saudi Arabia", "沙特阿拉伯", "Saudi riyal|riyal", "沙特里亚尔|里亚尔"),
        ("the United Arab Emirates", "阿联酋", "UAE dirham|dirham|Emirati dirham", "迪拉姆|阿联酋迪拉姆"),
        ("Nigeria", "尼日利亚", "Nigerian naira|naira", "奈拉|尼日利亚奈拉"),
    ],
    "element_symbol": [
        ("hydrogen", "氢", "H", "H"),
        ("lithium", "锂", "Li", "Li"),
        ("boron", "硼", "B", "B"),
        ("carbon", "碳", "C", "C"),
        ("nitrogen", "氮", "N", "N"),
        ("oxygen", "氧", "O", "O"),
        ("fluorine", "氟", "F", "F"),
        ("neon", "氖", "Ne", "Ne"),
        ("sodium", "钠", "Na", "Na"),
        ("magnesium", "镁", "Mg", "Mg"),
        ("aluminium", "铝", "Al", "Al"),
        ("silicon", "硅", "Si", "Si"),
        ("phosphorus", "磷", "P", "P"),
        ("sulfur", "硫", "S", "S"),
        ("chlorine", "氯", "Cl", "Cl"),
        ("argon", "氩", "Ar", "Ar"),
        ("potassium", "钾", "K", "K"),
        ("calcium", "钙", "Ca", "Ca"),
        ("titanium", "钛", "Ti", "Ti"),
        ("chromium", "铬", "Cr", "Cr"),
        ("manganese", "锰", "Mn", "Mn"),
        ("iron", "铁", "Fe", "Fe"),
        ("cobalt", "钴", "Co", "Co"),
        ("nickel", "镍", "Ni", "Ni"),
        ("copper", "铜", "Cu", "Cu"),
        ("zinc", "锌", "Zn", "Zn"),
        ("bromine", "溴", "Br", "Br"),
        ("krypton", "氪", "Kr", "Kr"),
        ("silver", "银", "Ag", "Ag"),
        ("tin", "锡", "Sn", "Sn"),
        ("xenon", "氙", "Xe", "Xe"),
        ("tungsten", "钨", "W", "W"),
        ("platinum", "铂", "Pt", "Pt"),
        ("gold", "金", "Au", "Au"),
        ("mercury", "汞", "Hg", "Hg"),
        ("lead", "铅", "Pb", "Pb"),
        ("radon", "氡", "Rn", "Rn"),
        ("radium", "镭", "Ra", "Ra"),
        ("uranium", "铀", "U", "U"),
        ("plutonium", "钚", "Pu", "Pu"),
    ],
    "author": [
        ("Hamlet", "《哈姆雷特》", "William Shakespeare|Shakespeare", "莎士比亚|威廉·莎士比亚"),
        ("Pride and Prejudice", "《傲慢与偏见》", "Jane Austen|Austen", "简·奥斯汀|奥斯汀|简·奥斯丁|奥斯丁"),
        ("Nineteen Eighty-Four", "《1984》", "George Orwell|Orwell", "乔治·奥威尔|奥威尔"),
        ("War and Peace", "《战争与和平》", "Leo Tolstoy|Tolstoy|Lev Tolstoy", "列夫·托尔斯泰|托尔斯泰"),
        ("Crime and Punishment", "《罪与罚》", "Fyodor Dostoevsky|Dostoevsky|Fyodor Dostoyevsky|Dostoyevsky", "陀思妥耶夫斯基|费奥多尔·陀思妥耶夫斯基"),
        ("Don Quixote", "《堂吉诃德》", "Miguel de Cervantes|Cervantes", "塞万提斯|米格尔·德·塞万提斯"),
        ("The Old Man and the Sea", "《老人与海》", "Ernest Hemingway|Hemingway", "海明威|欧内斯特·海明威"),
        ("The Great Gatsby", "《了不起的盖茨比》", "F. Scott Fitzgerald|Scott Fitzgerald|Fitzgerald", "菲茨杰拉德|司各特·菲茨杰拉德|F·司各特·菲茨杰拉德"),
        ("Les Misérables", "《悲惨世界》", "Victor Hugo|Hugo", "雨果|维克多·雨果"),
        ("The Adventures of Tom Sawyer", "《汤姆·索亚历险记》", "Mark Twain|Twain", "马克·吐温"),
        ("Oliver Twist", "《雾都孤儿》", "Charles Dickens|Dickens", "狄更斯|查尔斯·狄更斯"),
        ("Moby-Dick", "《白鲸》", "Herman Melville|Melville", "梅尔维尔|赫尔曼·梅尔维尔|麦尔维尔"),
        ("Jane Eyre", "《简·爱》", "Charlotte Brontë|Charlotte Bronte", "夏洛蒂·勃朗特|夏洛特·勃朗特"),
        ("Wuthering Heights", "《呼啸山庄》", "Emily Brontë|Emily Bronte", "艾米莉·勃朗特|艾米丽·勃朗特"),
        ("One Hundred Years of Solitude", "《百年孤独》", "Gabriel García Márquez|García Márquez|Gabriel Garcia Marquez|Garcia Marquez|Márquez", "加西亚·马尔克斯|马尔克斯|加夫列尔·加西亚·马尔克斯"),
        ("The Divine Comedy", "《神曲》", "Dante Alighieri|Dante", "但丁|但丁·阿利吉耶里"),
        ("Faust", "《浮士德》", "Johann Wolfgang von Goethe|Goethe", "歌德|约翰·沃尔夫冈·冯·歌德"),
        ("The Odyssey", "《奥德赛》", "Homer", "荷马"),
        ("Harry Potter and the Philosopher's Stone", "《哈利·波特与魔法石》", "J. K. Rowling|J.K. Rowling|Rowling", "J·K·罗琳|罗琳"),
        ("The Lord of the Rings", "《魔戒》", "J. R. R. Tolkien|J.R.R. Tolkien|Tolkien", "托尔金|J·R·R·托尔金"),
        ("The Little Prince", "《小王子》", "Antoine de Saint-Exupéry|Saint-Exupéry|Antoine de Saint-Exupery|Saint-Exupery", "圣埃克苏佩里|安托万·德·圣埃克苏佩里"),
        ("Madame Bovary", "《包法利夫人》", "Gustave Flaubert|Flaubert", "福楼拜|居斯塔夫·福楼拜"),
        ("The Metamorphosis", "《变形记》", "Franz Kafka|Kafka", "卡夫卡|弗朗茨·卡夫卡"),
        ("To Kill a Mockingbird", "《杀死一只知更鸟》", "Harper Lee", "哈珀·李"),
        ("The Catcher in the Rye", "《麦田里的守望者》", "J. D. Salinger|J.D. Salinger|Salinger", "塞林格|J·D·塞林格"),
        ("Frankenstein", "《弗兰肯斯坦》", "Mary Shelley", "玛丽·雪莱"),
        ("Dracula", "《德古拉》", "Bram Stoker|Stoker", "布莱姆·斯托克|布拉姆·斯托克"),
        ("Alice's Adventures in Wonderland", "《爱丽丝梦游仙境》", "Lewis Carroll|Carroll", "刘易斯·卡罗尔|卡罗尔|路易斯·卡罗尔"),
        ("Robinson Crusoe", "《鲁滨逊漂流记》", "Daniel Defoe|Defoe", "笛福|丹尼尔·笛福"),
        ("Gulliver's Travels", "《格列佛游记》", "Jonathan Swift|Swift", "斯威夫特|乔纳森·斯威夫特"),
        ("The Count of Monte Cristo", "《基督山伯爵》", "Alexandre Dumas|Dumas", "大仲马|亚历山大·仲马"),
        ("Twenty Thousand Leagues Under the Seas", "《海底两万里》", "Jules Verne|Verne", "儒勒·凡尔纳|凡尔纳"),
        ("Dream of the Red Chamber", "《红楼梦》", "Cao Xueqin", "曹雪芹"),
        ("The True Story of Ah Q", "《阿Q正传》", "Lu Xun", "鲁迅"),
        ("Rickshaw Boy", "《骆驼祥子》", "Lao She", "老舍"),
        ("Fortress Besieged", "《围城》", "Qian Zhongshu", "钱钟书|钱锺书"),
        ("The Tale of Genji", "《源氏物语》", "Murasaki Shikibu", "紫式部"),
        ("The Grapes of Wrath", "《愤怒的葡萄》", "John Steinbeck|Steinbeck", "斯坦贝克|约翰·斯坦贝克"),
        ("Brave New World", "《美丽新世界》", "Aldous Huxley|Huxley", "赫胥黎|阿道司·赫胥黎|奥尔德斯·赫胥黎"),
        ("On the Origin of Species", "《物种起源》", "Charles Darwin|Darwin", "达尔文|查尔斯·达尔文"),
        ("A Brief History of Time", "《时间简史》", "Stephen Hawking|Hawking", "霍金|史蒂芬·霍金|斯蒂芬·霍金"),
        ("The Wealth of Nations", "《国富论》", "Adam Smith", "亚当·斯密"),
        ("Candide", "《老实人》", "Voltaire", "伏尔泰"),
        ("The Prince", "《君主论》", "Niccolò Machiavelli|Machiavelli|Niccolo Machiavelli", "马基雅维利|尼科洛·马基雅维利|马基雅维里"),
        ("Gone with the Wind", "《飘》", "Margaret Mitchell", "玛格丽特·米切尔|米切尔"),
        ("Uncle Tom's Cabin", "《汤姆叔叔的小屋》", "Harriet Beecher Stowe|Beecher Stowe|Stowe", "斯托夫人|哈丽叶特·比彻·斯托|比彻·斯托"),
        ("Walden", "《瓦尔登湖》", "Henry David Thoreau|Thoreau", "梭罗|亨利·戴维·梭罗"),
        ("Fahrenheit 451", "《华氏451》", "Ray Bradbury|Bradbury", "雷·布拉德伯里|布拉德伯里"),
    ],
    "continent": [
        ("Japan", "日本", "Asia", "亚洲"),
        ("China", "中国", "Asia", "亚洲"),
        ("India", "印度", "Asia", "亚洲"),
        ("Thailand", "泰国", "Asia", "亚洲"),
        ("Vietnam", "越南", "Asia", "亚洲"),
        ("Mongolia", "蒙古", "Asia", "亚洲"),
        ("Nepal", "尼泊尔", "Asia", "亚洲"),
        ("Pakistan", "巴基斯坦", "Asia", "亚洲"),
        ("Saudi Arabia", "沙特阿拉伯", "Asia", "亚洲"),
        ("Iran", "伊朗", "Asia", "亚洲"),
        ("France", "法国", "Europe", "欧洲"),
        ("Germany", "德国", "Europe", "欧洲"),
        ("Italy", "意大利", "Europe", "欧洲"),
        ("Poland", "波兰", "Europe", "欧洲"),
        ("Sweden", "瑞典", "Europe", "欧洲"),
        ("Norway", "挪威", "Europe", "欧洲"),
        ("Greece", "希腊", "Europe", "欧洲"),
        ("Hungary", "匈牙利", "Europe", "欧洲"),
        ("Austria", "奥地利", "Europe", "欧洲"),
        ("Finland", "芬兰", "Europe", "欧洲"),
        ("Nigeria", "尼日利亚", "Africa", "非洲"),
        ("Kenya", "肯尼亚", "Africa", "非洲"),
        ("Ethiopia", "埃塞俄比亚", "Africa", "非洲"),
        ("Ghana", "加纳", "Africa", "非洲"),
        ("Morocco", "摩洛哥", "Africa", "非洲"),
        ("Algeria", "阿尔及利亚", "Africa", "非洲"),
        ("Senegal", "塞内加尔", "Africa", "非洲"),
        ("Tanzania", "坦桑尼亚", "Africa", "非洲"),
        ("Zimbabwe", "津巴布韦", "Africa", "非洲"),
        ("Angola", "安哥拉", "Africa", "非洲"),
        ("Brazil", "巴西", "South America", "南美洲"),
        ("Argentina", "阿根廷", "South America", "南美洲"),
        ("Chile", "智利", "South America", "南美洲"),
        ("Peru", "秘鲁", "South America", "南美洲"),
        ("Colombia", "哥伦比亚", "South America", "南美洲"),
        ("Venezuela", "委内瑞拉", "South America", "南美洲"),
        ("Bolivia", "玻利维亚", "South America", "南美洲"),
        ("Paraguay", "巴拉圭", "South America", "南美洲"),
        ("Canada", "加拿大", "North America", "北美洲"),
        ("Mexico", "墨西哥", "North America", "北美洲"),
        ("the United States", "美国", "North America", "北美洲"),
        ("Cuba", "古巴", "North America", "北美洲"),
    ],
    "language": [
        ("Japan", "日本", "Japanese", "日语|日本语|日文"),
        ("China", "中国", "Chinese|Mandarin|Mandarin Chinese|Standard Chinese", "汉语|中文|普通话|汉语普通话"),
        ("Brazil", "巴西", "Portuguese", "葡萄牙语"),
        ("Portugal", "葡萄牙", "Portuguese", "葡萄牙语"),
        ("Spain", "西班牙", "Spanish|Castilian", "西班牙语"),
        ("Mexico", "墨西哥", "Spanish", "西班牙语"),
        ("Argentina", "阿根廷", "Spanish", "西班牙语"),
        ("Germany", "德国", "German", "德语"),
        ("Austria", "奥地利", "German", "德语"),
        ("France", "法国", "French", "法语"),
        ("Italy", "意大利", "Italian", "意大利语"),
        ("Russia", "俄罗斯", "Russian", "俄语"),
        ("Greece", "希腊", "Greek", "希腊语"),
        ("Turkey", "土耳其", "Turkish", "土耳其语"),
        ("Iran", "伊朗", "Persian|Farsi", "波斯语"),
        ("Egypt", "埃及", "Arabic", "阿拉伯语"),
        ("Saudi Arabia", "沙特阿拉伯", "Arabic", "阿拉伯语"),
        ("Thailand", "泰国", "Thai", "泰语"),
        ("Vietnam", "越南", "Vietnamese", "越南语"),
        ("South Korea", "韩国", "Korean", "韩语|韩国语|朝鲜语"),
        ("Poland", "波兰", "Polish", "波兰语"),
        ("the Netherlands", "荷兰", "Dutch", "荷兰语"),
        ("Sweden", "瑞典", "Swedish", "瑞典语"),
        ("Norway", "挪威", "Norwegian", "挪威语"),
        ("Denmark", "丹麦", "Danish", "丹麦语"),
        ("Hungary", "匈牙利", "Hungarian", "匈牙利语"),
        ("the Czech Republic", "捷克", "Czech", "捷克语"),
        ("Romania", "罗马尼亚", "Romanian", "罗马尼亚语"),
        ("Indonesia", "印度尼西亚", "Indonesian|Bahasa Indonesia", "印尼语|印度尼西亚语"),
        ("Mongolia", "蒙古", "Mongolian", "蒙古语"),
        ("Iceland", "冰岛", "Icelandic", "冰岛语"),
    ],
    "inventor": [
        ("the telephone", "电话", "Alexander Graham Bell|Graham Bell|Bell", "贝尔|亚历山大·格拉汉姆·贝尔|亚历山大·格雷厄姆·贝尔"),
        ("the phonograph", "留声机", "Thomas Edison|Thomas Alva Edison|Edison", "爱迪生|托马斯·爱迪生"),
        ("the World Wide Web", "万维网", "Tim Berners-Lee|Sir Tim Berners-Lee|Berners-Lee", "蒂姆·伯纳斯-李|伯纳斯-李"),
        ("the airplane", "飞机", "the Wright brothers|Wright brothers|Orville and Wilbur Wright|Wilbur and Orville Wright", "莱特兄弟"),
        ("the first seismoscope", "地动仪", "Zhang Heng", "张衡"),
        ("the smallpox vaccine", "天花疫苗", "Edward Jenner|Jenner", "爱德华·詹纳|詹纳|爱德华·琴纳|琴纳"),
        ("the lightning rod", "避雷针", "Benjamin Franklin|Franklin", "富兰克林|本杰明·富兰克林"),
        ("the pendulum clock", "摆钟", "Christiaan Huygens|Huygens", "惠更斯|克里斯蒂安·惠更斯"),
        ("the cotton gin", "轧棉机", "Eli Whitney|Whitney", "伊莱·惠特尼|惠特尼"),
        ("the hot air balloon", "热气球", "the Montgolfier brothers|Montgolfier brothers", "蒙哥尔费兄弟|孟格菲兄弟|蒙戈尔菲耶兄弟"),
        ("the safety elevator", "安全电梯", "Elisha Otis|Otis", "奥的斯|伊莱沙·奥的斯"),
    ],
    "creator": [
        ("the Python programming language", "Python编程语言", "Guido van Rossum|van Rossum", "吉多·范罗苏姆|范罗苏姆|Guido van Rossum"),
        ("the C programming language", "C语言", "Dennis Ritchie|Ritchie", "丹尼斯·里奇|里奇|Dennis Ritchie"),
        ("the C++ programming language", "C++编程语言", "Bjarne Stroustrup|Stroustrup", "本贾尼·斯特劳斯特卢普|斯特劳斯特卢普|Bjarne Stroustrup"),
        ("the Java programming language", "Java编程语言", "James Gosling|Gosling", "詹姆斯·高斯林|高斯林|James Gosling"),
        ("the JavaScript programming language", "JavaScript编程语言", "Brendan Eich|Eich", "布兰登·艾克|艾克|Brendan Eich"),
        ("the Ruby programming language", "Ruby编程语言", "Yukihiro Matsumoto|Matsumoto", "松本行弘|Yukihiro Matsumoto"),
        ("the Linux kernel", "Linux内核", "Linus Torvalds|Torvalds", "林纳斯·托瓦兹|托瓦兹|林纳斯·托瓦尔兹|Linus Torvalds"),
    ],
    "discoverer": [
        ("penicillin", "青霉素", "Alexander Fleming|Sir Alexander Fleming|Fleming", "弗莱明|亚历山大·弗莱明"),
        ("X-rays", "X射线", "Wilhelm Röntgen|Wilhelm Conrad Röntgen|Röntgen|Wilhelm Roentgen|Roentgen", "伦琴|威廉·伦琴|威廉·康拉德·伦琴"),
        ("the electron", "电子", "J. J. Thomson|J.J. Thomson|Joseph John Thomson|Thomson", "汤姆孙|约瑟夫·约翰·汤姆孙|汤姆逊|汤姆森"),
        ("the neutron", "中子", "James Chadwick|Sir James Chadwick|Chadwick", "查德威克|詹姆斯·查德威克"),
        ("the atomic nucleus", "原子核", "Ernest Rutherford|Rutherford|Lord Rutherford", "卢瑟福|欧内斯特·卢瑟福"),
        ("radioactivity", "放射性", "Henri Becquerel|Becquerel|Antoine Henri Becquerel", "贝克勒尔|亨利·贝克勒尔|贝可勒尔"),
        ("the four largest moons of Jupiter", "木星的四颗最大卫星", "Galileo Galilei|Galileo", "伽利略|伽利略·伽利雷"),
        ("the planet Uranus", "天王星", "William Herschel|Sir William Herschel|Herschel", "威廉·赫歇尔|赫歇尔"),
        ("Pluto", "冥王星", "Clyde Tombaugh|Tombaugh", "克莱德·汤博|汤博"),
        ("electromagnetic induction", "电磁感应", "Michael Faraday|Faraday", "法拉第|迈克尔·法拉第"),
        ("the laws of inheritance", "遗传定律", "Gregor Mendel|Mendel", "孟德尔|格雷戈尔·孟德尔|格里高尔·孟德尔"),
        ("the laws of planetary motion", "行星运动定律", "Johannes Kepler|Kepler", "开普勒|约翰内斯·开普勒"),
        ("cells", "细胞", "Robert Hooke|Hooke", "罗伯特·胡克|胡克"),
        ("the law of universal gravitation", "万有引力定律", "Isaac Newton|Sir Isaac Newton|Newton", "牛顿|艾萨克·牛顿|伊萨克·牛顿"),
        ("the circulation of the blood", "血液循环", "William Harvey|Harvey", "威廉·哈维|哈维"),
        ("the law of buoyancy", "浮力定律", "Archimedes", "阿基米德"),
        ("the tuberculosis bacterium", "结核杆菌", "Robert Koch|Koch", "罗伯特·科赫|科赫|郭霍"),
    ],
    "theory": [
        ("the theory of relativity", "相对论", "Albert Einstein|Einstein", "爱因斯坦|阿尔伯特·爱因斯坦"),
        ("the uncertainty principle", "不确定性原理", "Werner Heisenberg|Heisenberg", "海森堡|维尔纳·海森堡|海森伯"),
        ("the theory of continental drift", "大陆漂移说", "Alfred Wegener|Wegener", "魏格纳|阿尔弗雷德·魏格纳|阿尔弗雷德·韦格纳"),
        ("the three laws of motion", "三大运动定律", "Isaac Newton|Sir Isaac Newton|Newton", "牛顿|艾萨克·牛顿|伊萨克·牛顿"),
        ("the quantum hypothesis", "能量子假说", "Max Planck|Planck", "普朗克|马克斯·普朗克"),
        ("the modern atomic theory", "近代原子论", "John Dalton|Dalton", "道尔顿|约翰·道尔顿"),
        ("the periodic law", "元素周期律", "Dmitri Mendeleev|Mendeleev|Dmitri Mendeleyev|Mendeleyev", "门捷列夫|德米特里·门捷列夫"),
    ],
    "planet": [
        ("the first planet from the Sun", "距离太阳最近的行星", "Mercury", "水星"),
        ("the second planet from the Sun", "距离太阳第二近的行星", "Venus", "金星"),
        ("the third planet from the Sun", "距离太阳第三近的行星", "Earth|the Earth", "地球"),
        ("the fourth planet from the Sun", "距离太阳第四近的行星", "Mars", "火星"),
        ("the fifth planet from the Sun", "距离太阳第五近的行星", "Jupiter", "木星"),
        ("the sixth planet from the Sun", "距离太阳第六近的行星", "Saturn", "土星"),
        ("the seventh planet from the Sun", "距离太阳第七近的行星", "Uranus", "天王星"),
        ("the eighth planet from the Sun", "距离太阳最远的行星", "Neptune", "海王星"),
        ("the largest planet in the Solar System", "太阳系中最大的行星", "Jupiter", "木星"),
        ("the smallest planet in the Solar System", "太阳系中最小的行星", "Mercury", "水星"),
        ("the hottest planet in the Solar System", "太阳系中表面温度最高的行星", "Venus", "金星"),
        ("the planet known as the Red Planet", "被称为“红色星球”的行星", "Mars", "火星"),
    ],
    "painter": [
        ("the Mona Lisa", "《蒙娜丽莎》", "Leonardo da Vinci|da Vinci|Leonardo", "达·芬奇|列奥纳多·达·芬奇"),
        ("The Starry Night", "《星月夜》", "Vincent van Gogh|van Gogh", "梵高|文森特·梵高|凡·高|文森特·凡·高"),
        ("The Scream", "《呐喊》", "Edvard Munch|Munch", "蒙克|爱德华·蒙克"),
        ("Guernica", "《格尔尼卡》", "Pablo Picasso|Picasso", "毕加索|巴勃罗·毕加索"),
        ("The Persistence of Memory", "《记忆的永恒》", "Salvador Dalí|Dalí|Salvador Dali|Dali", "达利|萨尔瓦多·达利"),
        ("The Birth of Venus", "《维纳斯的诞生》", "Sandro Botticelli|Botticelli", "波提切利|桑德罗·波提切利"),
        ("Girl with a Pearl Earring", "《戴珍珠耳环的少女》", "Johannes Vermeer|Jan Vermeer|Vermeer", "维米尔|约翰内斯·维米尔|维梅尔"),
        ("The Night Watch", "《夜巡》", "Rembrandt|Rembrandt van Rijn", "伦勃朗|伦勃朗·凡·莱因"),
        ("The Creation of Adam", "《创造亚当》", "Michelangelo|Michelangelo Buonarroti", "米开朗基罗|米开朗琪罗"),
        ("Impression, Sunrise", "《印象·日出》", "Claude Monet|Monet", "莫奈|克劳德·莫奈"),
        ("American Gothic", "《美国哥特式》", "Grant Wood", "格兰特·伍德"),
        ("Liberty Leading the People", "《自由引导人民》", "Eugène Delacroix|Eugene Delacroix|Delacroix", "德拉克罗瓦|欧仁·德拉克罗瓦"),
        ("The School of Athens", "《雅典学院》", "Raphael|Raffaello Sanzio|Raphael Sanzio", "拉斐尔|拉斐尔·桑西"),
        ("Las Meninas", "《宫娥》", "Diego Velázquez|Velázquez|Diego Velazquez|Velazquez", "委拉斯开兹|迭戈·委拉斯开兹|委拉斯凯兹|贝拉斯克斯"),
        ("The Third of May 1808", "《1808年5月3日》", "Francisco Goya|Francisco de Goya|Goya", "戈雅|弗朗西斯科·戈雅|弗朗西斯科·德·戈雅"),
        ("Along the River During the Qingming Festival", "《清明上河图》", "Zhang Zeduan", "张择端"),
        ("Nighthawks", "《夜游者》", "Edward Hopper|Hopper", "爱德华·霍珀|霍珀|爱德华·霍普"),
        ("The Garden of Earthly Delights", "《人间乐园》", "Hieronymus Bosch|Bosch", "博斯|希罗尼穆斯·博斯|耶罗尼米斯·博斯"),
        ("A Sunday Afternoon on the Island of La Grande Jatte", "《大碗岛的星期天下午》", "Georges Seurat|Seurat", "修拉|乔治·修拉"),
        ("Campbell's Soup Cans", "《金宝汤罐头》", "Andy Warhol|Warhol", "安迪·沃霍尔|沃霍尔"),
        ("The Son of Man", "《人子》", "René Magritte|Rene Magritte|Magritte", "马格利特|勒内·马格利特|马格里特|雷内·马格里特"),
        ("the Arnolfini Portrait", "《阿尔诺芬尼夫妇像》", "Jan van Eyck|van Eyck", "扬·凡·艾克|凡·艾克"),
        ("The Raft of the Medusa", "《梅杜萨之筏》", "Théodore Géricault|Theodore Gericault|Géricault|Gericault", "籍里柯|席里柯|泰奥多尔·籍里柯"),
    ],
    "composer": [
        ("Für Elise", "《致爱丽丝》", "Ludwig van Beethoven|Beethoven", "贝多芬|路德维希·凡·贝多芬"),
        ("The Magic Flute", "歌剧《魔笛》", "Wolfgang Amadeus Mozart|Mozart", "莫扎特|沃尔夫冈·阿马德乌斯·莫扎特"),
        ("The Four Seasons", "小提琴协奏曲《四季》", "Antonio Vivaldi|Vivaldi", "维瓦尔第|安东尼奥·维瓦尔第|韦瓦第"),
        ("the ballet Swan Lake", "芭蕾舞剧《天鹅湖》", "Pyotr Ilyich Tchaikovsky|Pyotr Tchaikovsky|Peter Tchaikovsky|Tchaikovsky", "柴可夫斯基|彼得·伊里奇·柴可夫斯基"),
        ("The Blue Danube", "圆舞曲《蓝色多瑙河》", "Johann Strauss II|Johann Strauss Jr.|Johann Strauss|Strauss", "小约翰·施特劳斯|约翰·施特劳斯|施特劳斯"),
        ("the opera Carmen", "歌剧《卡门》", "Georges Bizet|Bizet", "比才|乔治·比才"),
        ("the opera Aida", "歌剧《阿依达》", "Giuseppe Verdi|Verdi", "威尔第|朱塞佩·威尔第"),
        ("the opera Madama Butterfly", "歌剧《蝴蝶夫人》", "Giacomo Puccini|Puccini", "普契尼|贾科莫·普契尼"),
        ("Boléro", "《波莱罗舞曲》", "Maurice Ravel|Ravel", "拉威尔|莫里斯·拉威尔"),
        ("Prelude to the Afternoon of a Faun", "《牧神午后前奏曲》", "Claude Debussy|Debussy", "德彪西|克劳德·德彪西"),
        ("The Well-Tempered Clavier", "《平均律键盘曲集》", "Johann Sebastian Bach|J. S. Bach|J.S. Bach|Bach", "巴赫|约翰·塞巴斯蒂安·巴赫"),
        ("the oratorio Messiah", "清唱剧《弥赛亚》", "George Frideric Handel|Handel|Georg Friedrich Händel|Händel", "亨德尔|乔治·弗里德里希·亨德尔"),
        ("The Ring of the Nibelung", "《尼伯龙根的指环》", "Richard Wagner|Wagner", "瓦格纳|理查德·瓦格纳"),
        ("Rhapsody in Blue", "《蓝色狂想曲》", "George Gershwin|Gershwin", "格什温|乔治·格什温"),
        ("The Planets", "管弦乐组曲《行星》", "Gustav Holst|Holst", "霍尔斯特|古斯塔夫·霍尔斯特"),
        ("the New World Symphony", "《自新大陆交响曲》", "Antonín Dvořák|Antonin Dvorak|Dvořák|Dvorak", "德沃夏克|安东宁·德沃夏克|德沃扎克"),
        ("the Minute Waltz", "《小狗圆舞曲》", "Frédéric Chopin|Frederic Chopin|Chopin", "肖邦|弗雷德里克·肖邦"),
        ("the Yellow River Cantata", "《黄河大合唱》", "Xian Xinghai", "冼星海"),
        ("In the Hall of the Mountain King", "《在山魔王的宫殿里》", "Edvard Grieg|Grieg", "格里格|爱德华·格里格"),
        ("The Moldau", "交响诗《伏尔塔瓦河》", "Bedřich Smetana|Bedrich Smetana|Smetana", "斯美塔那|贝德里赫·斯美塔那"),
        ("Canon in D", "《D大调卡农》", "Johann Pachelbel|Pachelbel", "帕赫贝尔|约翰·帕赫贝尔|帕海贝尔"),
        ("The Rite of Spring", "《春之祭》", "Igor Stravinsky|Stravinsky", "斯特拉文斯基|伊戈尔·斯特拉文斯基"),
    ],
    "landmark_city": [
        ("the Eiffel Tower", "埃菲尔铁塔", "Paris", "巴黎"),
        ("the Louvre", "卢浮宫", "Paris", "巴黎"),
        ("the Statue of Liberty", "自由女神像", "New York City|New York", "纽约"),
        ("Big Ben", "大本钟", "London", "伦敦"),
        ("the Taj Mahal", "泰姬陵", "Agra", "阿格拉"),
        ("the Forbidden City", "紫禁城", "Beijing", "北京"),
        ("the Kremlin", "克里姆林宫", "Moscow", "莫斯科"),
        ("the Parthenon", "帕特农神庙", "Athens", "雅典"),
        ("the Brandenburg Gate", "勃兰登堡门", "Berlin", "柏林"),
        ("the Sagrada Família", "圣家堂", "Barcelona", "巴塞罗那"),
        ("the Golden Gate Bridge", "金门大桥", "San Francisco", "旧金山|三藩市"),
        ("the Christ the Redeemer statue", "救世基督像", "Rio de Janeiro|Rio", "里约热内卢|里约"),
        ("the Burj Khalifa", "哈利法塔", "Dubai", "迪拜"),
        ("the CN Tower", "加拿大国家电视塔", "Toronto", "多伦多"),
        ("the Oriental Pearl Tower", "东方明珠广播电视塔", "Shanghai", "上海"),
        ("the Terracotta Army", "兵马俑", "Xi'an|Xian", "西安"),
        ("the Potala Palace", "布达拉宫", "Lhasa", "拉萨"),
        ("the Space Needle", "太空针塔", "Seattle", "西雅图"),
        ("the Hollywood Sign", "好莱坞标志", "Los Angeles", "洛杉矶"),
        ("the Alhambra", "阿尔罕布拉宫", "Granada", "格拉纳达"),
        ("the Little Mermaid statue", "小美人鱼铜像", "Copenhagen", "哥本哈根"),
        ("Manneken Pis", "撒尿小童像", "Brussels", "布鲁塞尔"),
        ("Kinkaku-ji", "金阁寺", "Kyoto", "京都"),
        ("the Charles Bridge", "查理大桥", "Prague", "布拉格"),
        ("the White House", "白宫", "Washington, D.C.|Washington|Washington DC", "华盛顿|华盛顿特区"),
        ("the Winter Palace", "冬宫", "Saint Petersburg|St. Petersburg|St Petersburg", "圣彼得堡"),
    ],
}
# fmt: on


def slug(text: str) -> str:
    """ASCII snake_case id key: "the C++ programming language" -> "cpp_programming_language"."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    text = re.sub(r"['’]", "", text.replace("+", "p"))
    return re.sub(r"^the_", "", re.sub(r"[^a-z0-9]+", "_", text).strip("_"))


def fill(templates: list[str], subject: str) -> list[str]:
    return [t.format(s=subject, S=subject[:1].upper() + subject[1:]) for t in templates]


def load_distractors(path: Path | None = None) -> dict[str, dict]:
    """The curated distractors, keyed by fact id without its language ("capital.australia")."""
    path = DISTRACTORS if path is None else path
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    table = {r["id"]: r for r in rows}
    if len(table) != len(rows):
        raise BuildError(
            [f"{path.name}: duplicate id {i!r}" for i, n in Counter(r["id"] for r in rows).items() if n > 1]
        )
    return table


def distractor_problems(
    probe_id: str,
    answers: Sequence[str],
    distractors: Sequence[str],
    left_out: Sequence[str] = (),
    question: str = "",
) -> list[str]:
    """Why these distractors cannot stand against `answers` (the answer first, then its aliases); [] if they can.

    A distractor must not be a gold form (after normalisation), nor anything the judge would take for one: a text
    naming a gold form ("Greater Canberra"), or a part of one ("Washington" for "Washington, D.C."). Nor may it be
    a name left out as disputed, repeat another distractor, or occur in the question (an answer that restates the
    question would name it first)."""
    problems = []
    if len(distractors) < MIN_DISTRACTORS:
        problems.append(f"{probe_id}: {len(distractors)} distractors, at least {MIN_DISTRACTORS} needed")
    golds = {normalize(a) for a in answers}
    seen: set[str] = set()
    for d in distractors:
        norm = normalize(d)
        if not norm:
            problems.append(f"{probe_id}: empty distractor {d!r}")
        elif norm in seen:
            problems.append(f"{probe_id}: distractor {d!r} is listed twice")
        elif norm in golds:
            problems.append(f"{probe_id}: distractor {d!r} is the answer or an alias")
        elif contains_answer(d, answers) or any(contains_answer(a, [d]) for a in answers):
            problems.append(f"{probe_id}: the judge would take distractor {d!r} for the answer {answers[0]!r}")
        elif contains_answer(d, left_out) or any(contains_answer(x, [d]) for x in left_out):
            problems.append(f"{probe_id}: distractor {d!r} is left out as disputed")
        elif contains_answer(question, [d]):
            problems.append(f"{probe_id}: distractor {d!r} occurs in the question {question!r}")
        seen.add(norm)
    return problems


def build(distractors: dict[str, dict] | None = None) -> dict[str, list[dict]]:
    """Every probe of both languages, sorted by id; candidates are the answer and the fact's curated distractors."""
    table = load_distractors() if distractors is None else distractors
    out: dict[str, list[dict]] = {lang: [] for lang in LANGS}
    for relation, facts in FACTS.items():
        for en_subj, zh_subj, en_ans, zh_ans in facts:
            key = slug(en_subj)
            entry = table.get(f"{relation}.{key}", {"distractors": []})
            order = random.Random(f"{relation}.{key}")  # str seeds are hashed with SHA-512: stable across runs
            slots = list(range(len(entry["distractors"]) + 1))  # 0 is the answer; one order for both languages
            order.shuffle(slots)
            for col, (lang, subject, forms) in enumerate((("en", en_subj, en_ans), ("zh", zh_subj, zh_ans))):
                cloze, question = TEMPLATES[relation][lang]
                names = forms.split("|")
                pool = [names[0], *(pair[col] if col < len(pair) else "" for pair in entry["distractors"])]
                out[lang].append(
                    {
                        "id": f"{lang}.{relation}.{key}",
                        "cloze": fill(cloze, subject),
                        "question": fill(question, subject),
                        "answer": names[0],
                        "aliases": names[1:],
                        "candidates": [pool[i] for i in slots],
                        "subject": subject,
                        "relation": relation,
                        "lang": lang,
                    }
                )
    return {lang: sorted(rows, key=lambda r: r["id"]) for lang, rows in out.items()}


def check_distractors(sets: dict[str, list[dict]], distractors: dict[str, dict]) -> None:
    """Every fact has its curated distractors, and none of them can pass for the answer (BuildError otherwise)."""
    facts = {f"{relation}.{slug(f[0])}" for relation, rows in FACTS.items() for f in rows}
    problems = [f"{DISTRACTORS.name}: {i!r} is no fact of the tables" for i in sorted(set(distractors) - facts)]
    problems += [f"{DISTRACTORS.name}: no distractors for {i!r}" for i in sorted(facts - set(distractors))]
    for lang, rows in sets.items():
        for r in rows:
            entry = distractors.get(r["id"].split(".", 1)[1])
            if entry is None:
                continue
            col = LANGS.index(lang)
            if any(len(pair) != len(LANGS) for pair in entry["distractors"]):
                problems.append(f"{r['id']}: each distractor needs one form per language {LANGS}")
                continue
            left_out = list(entry.get("left_out", {})) if lang == "en" else []
            ds = [pair[col] for pair in entry["distractors"]]
            problems += distractor_problems(
                r["id"], [r["answer"], *r["aliases"]], ds, left_out, " ".join(r["question"])
            )
    if problems:
        raise BuildError(problems)


def check(sets: dict[str, list[dict]]) -> None:
    """Assert the invariants the loader, the judge and tests/test_probes_builtin.py rely on."""
    strip = {lang: {r["id"].split(".", 1)[1] for r in rows} for lang, rows in sets.items()}
    assert strip["en"] == strip["zh"], strip["en"] ^ strip["zh"]
    for lang, rows in sets.items():
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)), [i for i, n in Counter(ids).items() if n > 1]
        assert {r["relation"] for r in rows} == set(FACTS) == set(TEMPLATES), lang
        for r in rows:
            cands = r["candidates"]
            assert r["answer"] in cands and len(cands) == len(set(cands)) > MIN_DISTRACTORS, r["id"]
            assert len(r["cloze"]) >= 2 and r["question"] and r["lang"] == lang, r["id"]
            for text in r["cloze"]:
                assert text == text.strip() and unicodedata.category(text[-1])[0] not in "PSZ", (r["id"], text)
            assert all(q.endswith(("?", "？")) for q in r["question"]), r["id"]
        counts = Counter(r["relation"] for r in rows)
        assert len(rows) >= 330 and max(counts.values()) / len(rows) < 0.3, counts
    cjk = sum(bool(re.search(r"[\u4e00-\u9fff]", r["answer"] + r["cloze"][0])) for r in sets["zh"])
    assert cjk / len(sets["zh"]) >= 0.9, cjk


def render(rows: list[dict]) -> str:
    """A probe file's text, exactly as written (the no-drift test compares it with the committed files)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def main() -> int:
    distractors = load_distractors()
    sets = build(distractors)
    try:
        check_distractors(sets, distractors)
    except BuildError as e:
        print(f"build_probes: {len(e.problems)} problem(s) in {DISTRACTORS}, nothing written:", file=sys.stderr)
        print("\n".join(f"  {p}" for p in e.problems), file=sys.stderr)
        return 1
    check(sets)
    for lang, rows in sets.items():
        path = HERE / f"world_facts_{lang}.jsonl"
        path.write_text(render(rows), encoding="utf-8")
        print(f"{path.name}: {len(rows)} probes, {dict(sorted(Counter(r['relation'] for r in rows).items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
