"""People, companies, groups and the ticket enumerations of the sample helpdesk."""

from __future__ import annotations

import unicodedata

# ---------------------------------------------------------------------------------------------
# People and companies

# locale: (text language, BCP 47 tags, ((IANA zone, fixed offset minutes)…), first names,
#          last names, name order, mail domains, phone prefix)
# names are (native, ASCII for e-mail local parts)
def _latin(names: str) -> tuple[tuple[str, str], ...]:
    return tuple((n, _ascii(n)) for n in names.split())


def _ascii(s: str) -> str:
    for a, b in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"),
                 ("ß", "ss"), ("ø", "o"), ("Ø", "O"), ("ł", "l"), ("ı", "i"), ("æ", "ae"), ("'", "")):
        s = s.replace(a, b)
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def _slug(s: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in s).split())


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(p.split("/")) for p in text.split())  # type: ignore[misc]


LOCALES = {
    "de": ("de", ("de-DE", "de-DE", "de-AT", "de-CH"),
           (("Europe/Berlin", 60), ("Europe/Berlin", 60), ("Europe/Vienna", 60), ("Europe/Zurich", 60)),
           _latin("Jürgen Anja Özlem Sören Käthe Günther Maximilian Sabine Björn Lea Friederike Ümit "
                  "Hannelore Jörg Małgorzata Zoë"),
           _latin("Müller Schäfer Weiß Groß Krämer Özdemir Hoffmann Bäcker Schröder Kühn Nußbaum Jäger "
                  "Löwenthal Dürr Wójcik Yılmaz"),
           "western", ("web.example", "gmx.example", "t-online.example", "posteo.example"), "+49 {a} {b}"),
    "en": ("en", ("en-US", "en-GB", "en-IE"),
           (("America/New_York", -300), ("Europe/London", 0), ("America/Los_Angeles", -480)),
           _latin("Sarah James Siobhán Renée Zoë Michael Aoife Noah Olivia Liam"),
           _latin("O'Brien Smith Nguyen Fitzgerald McAllister Patel Brontë Johnson O'Connor Walsh"),
           "western", ("example.com", "mail.example", "outlook.example"), "+1 {a} {b}"),
    "fr": ("en", ("fr-FR", "fr-CA", "es-ES", "es-MX"),
           (("Europe/Paris", 60), ("America/Montreal", -300), ("Europe/Madrid", 60), ("America/Mexico_City", -360)),
           _latin("Chloé José Amélie François Begoña Íñigo Hélène Núria Gaëlle Ramón"),
           _latin("Lefèvre Núñez Peña Garçon Muñoz Bérard Castaño Dupré Ibáñez Thébault"),
           "western", ("example.org", "orange.example", "correo.example"), "+33 {a} {b}"),
    "ja": ("ja", ("ja-JP",), (("Asia/Tokyo", 540),),
           _pairs("陽菜/hina 蓮/ren 結衣/yui 大翔/hiroto 美咲/misaki 健太/kenta 葵/aoi 翔太/shota"),
           _pairs("佐藤/sato 鈴木/suzuki 高橋/takahashi 田中/tanaka 渡辺/watanabe 伊藤/ito 山本/yamamoto 中村/nakamura"),
           "east", ("docomo.example", "softbank.example", "example.com"), "+81 {a} {b}"),
    "zh": ("zh", ("zh-CN", "zh-Hans-CN", "zh-TW"), (("Asia/Shanghai", 480), ("Asia/Taipei", 480)),
           _pairs("伟/wei 芳/fang 娜/na 秀英/xiuying 敏/min 静/jing 磊/lei 洋/yang"),
           _pairs("王/wang 李/li 张/zhang 刘/liu 陈/chen 杨/yang 黄/huang 赵/zhao"),
           "chinese", ("qq.example", "163.example", "example.net"), "+86 {a} {b}"),
    "ar": ("en", ("ar-EG", "ar-AE"), (("Africa/Cairo", 120), ("Asia/Dubai", 240)),
           _pairs("محمد/mohamed فاطمة/fatima أحمد/ahmed ليلى/layla"),
           _pairs("العلي/alali حداد/haddad منصور/mansour"),
           "western", ("example.net", "mail.example"), "+20 {a} {b}"),
    "he": ("en", ("he-IL",), (("Asia/Jerusalem", 120),),
           _pairs("נועה/noa דוד/david יעל/yael אורי/uri"),
           _pairs("כהן/cohen לוי/levi מזרחי/mizrahi"),
           "western", ("example.net", "walla.example"), "+972 {a} {b}"),
}
# weights out of 100
_LOCALE_TABLE = tuple(["de"] * 40 + ["en"] * 22 + ["fr"] * 8 + ["ja"] * 12 + ["zh"] * 12 + ["ar"] * 3
                      + ["he"] * 3)

AGENT_NAMES = (("Lena Fischer", "lena.fischer"), ("Jörg Weiß", "joerg.weiss"),
               ("Mehmet Yılmaz", "mehmet.yilmaz"), ("Sophie Laurent", "sophie.laurent"),
               ("Ines Gröning", "ines.groening"), ("田中 健太", "kenta.tanaka"), ("王芳", "fang.wang"),
               ("Tomasz Wójcik", "tomasz.wojcik"), ("Emily Carter", "emily.carter"),
               ("Zoë Brandt", "zoe.brandt"), ("Hannah Özdemir", "hannah.oezdemir"),
               ("Lukas Bäumer", "lukas.baeumer"), ("Nadia Haddad", "nadia.haddad"),
               ("佐藤 美咲", "misaki.sato"), ("李伟", "wei.li"), ("Björn Ødegaard", "bjoern.odegaard"))
AGENT_DOMAIN = "support.hdmigrate-sample.example"

# (name, description); 6 and 7 take the Japanese and Chinese tickets
GROUPS = (("First-Level-Support", "Erste Anlaufstelle für alle Kanäle"),
          ("Buchhaltung & Rechnungen", "Rechnungen, Zahlungen, Gutschriften"),
          ("Technik & Konto", "Login, Passwort, App und Webshop"),
          ("Versand & Logistik", "Lieferverzögerungen, Sendungsverfolgung, Nachforschungen"),
          ("Retouren & Reklamationen", "Rücksendungen, Widerruf, Garantie"),
          ("日本語サポート", "日本のお客様の窓口"),
          ("中文客服", "中文客户支持"),
          ("Eskalation (2nd Level)", None))
_TOPIC_GROUP = {"order": 1, "invoice": 2, "login": 3, "shipping": 4, "return": 5, "damaged": 5}
_TOPIC_TAGS = {"order": ("bestellung", "order"), "invoice": ("rechnung", "billing"),
               "login": ("login", "account"), "shipping": ("versand", "shipping", "delay"),
               "return": ("retoure", "refund"), "damaged": ("reklamation", "garantie")}
_EXTRA_TAGS = ("vip", "wiederholt", "rückruf", "social_media", "b2b", "escalated", "newsletter",
               "app_ios", "app_android")

ORG_PARTS = (("Müller & Söhne", "Café Olé", "Østergaard", "Łódź Trading", "Bäckerei Schäfer",
              "さくら物流", "长城电子", "Nordlicht", "Alpenglück", "Crème de la Crème", "Weiß & Partner",
              "Blue Harbor", "Hafenkontor", "富士精密", "Straßenbahn-Verein", "Zürcher Bücherstube",
              "Ñandú Importaciones", "Dr. Öttl", "Kölner Kaffeerösterei", "Åkerlund"),
             ("", " Handel", " Logistik", " Digital", " Service", " Technik", " International",
              " Süd", " Nord", " Ost"),
             (" GmbH", " AG", " KG", " SARL", " Ltd.", " 株式会社", " 有限公司", " e.V.", " ApS",
              " S.A."))
TIERS = (("bronze", "Bronze"), ("silver", "Silber"), ("gold", "Gold"), ("platinum", "Platin"))

CUSTOM_FIELDS = (
    ("ticket", "product", "dropdown", "Produkt",
     (("kettle_aurora", "Wasserkocher „Aurora“"), ("toaster_borealis", "Toaster Borealis"),
      ("coffee_cirrus", "Kaffeemaschine Cirrus"), ("app", "App / Webshop"), ("gift_card", "Gutschein"))),
    ("ticket", "warranty", "checkbox", "Garantiefall", None),
    ("ticket", "order_number", "text", "Bestellnummer", None),
    ("ticket", "quantity", "integer", "Menge", None),
    ("ticket", "purchase_date", "date", "Kaufdatum", None),
    ("ticket", "affected_systems", "multiselect", "Betroffene Systeme",
     (("webshop", "Webshop"), ("app", "App"), ("payment", "Zahlung"), ("erp", "ERP"),
      ("carrier", "Versanddienstleister"))),
    ("ticket", "refund_amount", "decimal", "Erstattungsbetrag (€)", None),
    ("ticket", "serial_number", "regexp", "Seriennummer", None),
    ("ticket", "internal_summary", "textarea", "Interne Zusammenfassung", None),
    ("contact", "customer_number", "text", "Kundennummer", None),
    ("contact", "newsletter", "checkbox", "Newsletter abonniert", None),
    ("organization", "tier", "dropdown", "Kundenstufe", TIERS),
)

_STATUSES = ("new",) * 5 + ("open",) * 15 + ("pending",) * 10 + ("on_hold",) * 5 + ("solved",) * 30 \
    + ("closed",) * 35
_ALL_STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
_PRIORITIES = ("low",) * 20 + ("normal",) * 50 + ("high",) * 20 + ("urgent",) * 5 + (None,) * 5
_ALL_PRIORITIES = ("low", "normal", "high", "urgent", None)
_TYPES = ("question",) * 40 + ("incident",) * 30 + ("problem",) * 10 + ("task",) * 10 + (None,) * 10
_ALL_TYPES = ("question", "incident", "problem", "task", None)
_CHANNELS = ("email",) * 30 + ("web",) * 20 + ("phone",) * 12 + ("chat",) * 11 + ("sms",) * 4 + \
    ("social",) * 5 + ("messaging",) * 7 + ("api",) * 4 + ("letter",) * 3 + ("in_person",) * 3 + ("other",)
_ALL_CHANNELS = ("email", "web", "phone", "chat", "sms", "social", "messaging", "api", "letter",
                 "in_person", "other")
_HTML_CHANNELS = frozenset(("email", "web", "api", "letter"))
_REPLY_CHANNEL = {"web": "email", "api": "email", "in_person": "email"}
