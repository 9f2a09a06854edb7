"""The project's own sample helpdesk: realistic, multilingual, deterministic, streaming.

`generate()` yields canonical records (kind, record) for a whole helpdesk: custom fields,
organizations, groups, agents, contacts, then per ticket the ticket, its comments (each followed
by the ("blob", bytes) and attachment records of its files) and an optional satisfaction rating.
Nothing is kept per dataset: contacts are pure functions of (seed, index), tickets are made one at
a time, so 160,000 tickets cost as much memory as 20.

The text is written for this project (German, English, Japanese, Chinese, a little Arabic and
Hebrew). With `defects=True` (the default) a deterministic subset of comments and subjects carries
the defects real helpdesk data carries: HTML escaped as entities or as a JSON string literal,
mojibake (UTF-8 read as cp1252 or ISO-8859-16), emoji with skin tones and ZWJ sequences,
decomposed umlauts (NFD), machine-translated German/Chinese with full-width punctuation, rich HTML
with tables and links, a `<script>` element (data, never executed), right-to-left text and very
long bodies. Migrations must carry all of them byte-identical; `DEFECT_CLASSES` names them and
`defect_markers()` gives a string that proves each one is present.

Ids: persons are `a<n>` (agents) and `c<n>` (contacts); other kinds use decimal strings.
Timestamps are RFC 3339; most end in `Z`, some tickets (and everything under them) are written
with the requester's fixed UTC offset and some with milliseconds, consistently per ticket, so
within a ticket the string order equals the time order. Compare instants, not strings, across
tickets.
"""

from __future__ import annotations

import hashlib
import html
import json
import random
import struct
import unicodedata
import zlib
from collections.abc import Iterator
from datetime import date, datetime, timezone
from functools import cache
from pathlib import Path

SOURCE = "sample"

DEFECT_CLASSES = ("escaped_entities", "json_escaped", "mojibake_cp1252", "emoji", "combining",
                  "mixed_cjk", "html_table", "mojibake_iso8859_16", "rtl", "script")
# Every `_DEFECT_EVERY`-th comment (that has no attachment) carries the next class in turn, so
# the first 70-odd comments hold every class; a "long" opening message every 500 tickets.
_DEFECT_EVERY = 7
_LONG_EVERY = 500
_LONG_FIRST = 7
LONG_BODY_CHARS = 100_000

_MASK = (1 << 64) - 1
_DAY = 86400

# ---------------------------------------------------------------------------------------------
# Text: written for hdmigrate. Placeholders: {order} {invoice} {amount} {date} {tracking} {serial}

TOPICS = ("order", "invoice", "login", "shipping", "return", "damaged")

TEXT = {
    "de": {
        "order": (
            ("Bestellung {order} – falscher Artikel geliefert", "Frage zu meiner Bestellung {order}"),
            ("ich habe am {date} die Bestellung {order} aufgegeben, aber statt der bestellten Größe M "
             "wurde Größe XL geliefert. Können Sie mir bitte sagen, wie ich den Artikel umtauschen kann?",
             "meine Bestellung {order} wird im Kundenkonto seit Tagen als „in Bearbeitung“ angezeigt. "
             "Eine Bestätigungsmail habe ich auch nicht bekommen. Ist die Bestellung überhaupt bei Ihnen "
             "eingegangen?"),
            ("vielen Dank für Ihre Nachricht. Wir haben die Bestellung {order} geprüft: Beim Kommissionieren "
             "ist leider ein Fehler passiert. Den richtigen Artikel haben wir heute kostenfrei verschickt; "
             "den falschen Artikel senden Sie bitte mit dem beiliegenden Retourenschein zurück.",
             "Ihre Bestellung {order} ist bei uns eingegangen und wird voraussichtlich morgen versandt. "
             "Die Bestätigungsmail ist vermutlich im Spam-Ordner gelandet – wir haben sie Ihnen soeben "
             "erneut geschickt."),
        ),
        "invoice": (
            ("Rechnung {invoice} – doppelte Abbuchung", "Bitte Rechnung {invoice} mit Firmenanschrift neu ausstellen"),
            ("auf meinem Kontoauszug sehe ich, dass der Betrag von {amount} für die Rechnung {invoice} "
             "zweimal abgebucht wurde. Bitte erstatten Sie die doppelte Zahlung.",
             "für unsere Buchhaltung benötigen wir die Rechnung {invoice} mit der vollständigen "
             "Firmenanschrift und der Umsatzsteuer-ID. Können Sie die Rechnung bitte korrigiert neu ausstellen?"),
            ("Sie haben recht, der Betrag von {amount} wurde durch einen Fehler beim Zahlungsdienstleister "
             "doppelt eingezogen. Die Erstattung ist veranlasst und sollte in drei bis fünf Werktagen auf "
             "Ihrem Konto sein.",
             "anbei erhalten Sie die korrigierte Rechnung {invoice} mit Ihrer Firmenanschrift und "
             "USt-IdNr. Die ursprüngliche Rechnung haben wir storniert."),
        ),
        "login": (
            ("Login nicht möglich", "Passwort-Reset-Mail kommt nicht an"),
            ("seit heute Morgen kann ich mich nicht mehr in mein Kundenkonto einloggen. Es erscheint immer "
             "die Meldung „Benutzername oder Passwort falsch“, obwohl ich das Passwort gerade erst "
             "zurückgesetzt habe.",
             "ich habe dreimal ein neues Passwort angefordert, aber die E-Mail zum Zurücksetzen kommt nicht "
             "an, auch nicht im Spam-Ordner."),
            ("Ihr Konto wurde nach mehreren Fehlversuchen aus Sicherheitsgründen vorübergehend gesperrt. "
             "Wir haben die Sperre aufgehoben; bitte melden Sie sich erneut an und leeren Sie gegebenenfalls "
             "den Browser-Cache.",
             "Ihr E-Mail-Anbieter hat unsere Nachrichten abgewiesen. Wir haben Ihnen deshalb einen Link zum "
             "Zurücksetzen per SMS geschickt; er ist 24 Stunden gültig."),
        ),
        "shipping": (
            ("Lieferung verzögert – Sendung {tracking}", "Wo bleibt mein Paket?"),
            ("laut Sendungsverfolgung liegt mein Paket {tracking} seit fünf Tagen im Verteilzentrum. Die "
             "angekündigte Zustellung bis {date} wurde nicht eingehalten.",
             "ich warte seit zwei Wochen auf meine Bestellung {order}. Wann kommt sie an? Ich brauche die "
             "Ware dringend für eine Veranstaltung am Wochenende."),
            ("wegen des hohen Sendungsaufkommens kommt es beim Versanddienstleister derzeit zu "
             "Verzögerungen. Wir haben einen Nachforschungsauftrag für die Sendung {tracking} gestellt und "
             "melden uns spätestens in zwei Werktagen.",
             "Ihre Bestellung {order} wurde heute per Express nachgeschickt. Die Versandkosten übernehmen "
             "selbstverständlich wir."),
        ),
        "return": (
            ("Rücksendung und Erstattung für {order}", "Widerruf der Bestellung {order}"),
            ("ich habe die Ware aus Bestellung {order} am {date} zurückgeschickt, aber bisher keine "
             "Erstattung erhalten. Bitte prüfen Sie den Stand.",
             "hiermit widerrufe ich meine Bestellung {order}. Bitte schicken Sie mir ein Retourenetikett."),
            ("Ihre Rücksendung ist gestern in unserem Lager eingegangen und wurde geprüft. Die Erstattung "
             "über {amount} haben wir auf Ihr ursprüngliches Zahlungsmittel veranlasst.",
             "Ihren Widerruf haben wir erhalten. Das Retourenetikett finden Sie im Anhang; bitte kleben Sie "
             "es gut sichtbar auf das Paket."),
        ),
        "damaged": (
            ("Artikel beschädigt angekommen", "Garantiefall: Gerät startet nicht mehr"),
            ("das Paket kam heute mit eingedrücktem Karton an, und die Glaskanne ist gesprungen. Fotos "
             "habe ich angehängt.",
             "mein Gerät (Seriennummer {serial}) lässt sich seit gestern nicht mehr einschalten. Es ist erst "
             "acht Monate alt. Ist das ein Garantiefall?"),
            ("es tut uns leid, dass die Ware beschädigt angekommen ist. Wir schicken Ihnen kostenlos "
             "Ersatz; die beschädigte Kanne müssen Sie nicht zurücksenden.",
             "das Gerät ist noch in der Garantie. Bitte senden Sie es mit dem beigefügten Versandetikett an "
             "unsere Werkstatt; die Reparatur dauert in der Regel sieben Werktage."),
        ),
    },
    "en": {
        "order": (
            ("Order {order}: wrong item delivered", "Question about my order {order}"),
            ("I placed order {order} on {date}, but the parcel contained a blue kettle instead of the black "
             "one I ordered. How can I exchange it?",
             "My order {order} has been showing as \"processing\" for a week and I never received a "
             "confirmation email. Did the order actually go through?"),
            ("Thank you for letting us know. We checked order {order} and a picking error happened in our "
             "warehouse. The correct item shipped today at no cost to you; please return the wrong one "
             "with the prepaid label in the parcel.",
             "Your order {order} was received and is scheduled to ship tomorrow. The confirmation email "
             "probably ended up in your spam folder, so we have just sent it again."),
        ),
        "invoice": (
            ("Invoice {invoice} charged twice", "Please reissue invoice {invoice} with our company address"),
            ("My bank statement shows that {amount} for invoice {invoice} was charged twice. Please refund "
             "the duplicate payment.",
             "Our accounts department needs invoice {invoice} to show our full company address and VAT "
             "number. Could you reissue it?"),
            ("You are right: our payment provider collected {amount} twice because of a processing error. "
             "The refund has been issued and should reach your account within three to five business days.",
             "Please find attached the corrected invoice {invoice} with your company address and VAT "
             "number. The original invoice has been cancelled."),
        ),
        "login": (
            ("Cannot log in", "Password reset email never arrives"),
            ("Since this morning I cannot sign in to my account. It keeps saying \"wrong username or "
             "password\" although I just reset my password.",
             "I have requested a new password three times, but the reset email never arrives, not even in "
             "my spam folder."),
            ("Your account was locked for security reasons after several failed attempts. We have unlocked "
             "it; please sign in again and clear your browser cache if the problem persists.",
             "Your email provider rejected our messages, so we have sent you a reset link by text message "
             "instead. It is valid for 24 hours."),
        ),
        "shipping": (
            ("Delivery delayed – tracking {tracking}", "Where is my parcel?"),
            ("According to the tracking page, parcel {tracking} has been sitting at the distribution centre "
             "for five days. The promised delivery by {date} was missed.",
             "I have been waiting two weeks for order {order}. When will it arrive? I need it for an event "
             "this weekend."),
            ("Our carrier is currently facing delays because of high parcel volumes. We have opened a trace "
             "request for {tracking} and will get back to you within two business days.",
             "We have sent order {order} again by express today, free of charge of course."),
        ),
        "return": (
            ("Return and refund for {order}", "Cancelling order {order}"),
            ("I sent the items from order {order} back on {date} but have not received a refund yet. Could "
             "you check the status, please?",
             "I would like to cancel order {order}. Please send me a return label."),
            ("Your return reached our warehouse yesterday and has been inspected. We have refunded {amount} "
             "to your original payment method.",
             "We have received your cancellation. The return label is attached; please stick it on the "
             "parcel where it is clearly visible."),
        ),
        "damaged": (
            ("Item arrived damaged", "Warranty claim: device no longer starts"),
            ("The box arrived crushed today and the glass jug is cracked. I have attached photos.",
             "My device (serial number {serial}) stopped switching on yesterday. It is only eight months "
             "old. Is this covered by the warranty?"),
            ("We are sorry the item arrived damaged. A free replacement is on its way; there is no need to "
             "return the broken jug.",
             "The device is still under warranty. Please send it to our repair centre with the enclosed "
             "shipping label; repairs usually take seven business days."),
        ),
    },
    "ja": {
        "order": (
            ("注文番号{order}：違う商品が届きました", "注文{order}の状況について"),
            ("{date}に注文した{order}ですが、黒のケトルを注文したのに青いケトルが届きました。交換の手続きを教えていただけますか。",
             "注文{order}が一週間ずっと「処理中」のままで、確認メールも届いていません。注文は正しく受け付けられていますか。"),
            ("注文{order}を確認したところ、倉庫での出荷ミスが判明しました。正しい商品を本日無料で再発送いたしました。"
             "誤って届いた商品は同封の返送伝票でご返送ください。",
             "ご注文{order}は正常に受け付けており、明日発送予定です。確認メールは迷惑メールフォルダに入っている可能性があるため、先ほど再送いたしました。"),
        ),
        "invoice": (
            ("請求書{invoice}の二重請求について", "請求書{invoice}の宛名変更のお願い"),
            ("請求書{invoice}の{amount}が口座から二回引き落とされています。重複分の返金をお願いします。",
             "経理処理のため、請求書{invoice}の宛名を会社名と住所に変更して再発行していただけますか。"),
            ("ご指摘のとおり、決済代行会社のエラーにより{amount}が二重に請求されておりました。返金手続きは完了しており、三〜五営業日以内に反映されます。",
             "宛名を修正した請求書{invoice}を添付いたします。元の請求書は取り消し済みです。"),
        ),
        "login": (
            ("ログインできません", "パスワード再設定メールが届きません"),
            ("今朝からアカウントにログインできません。パスワードを再設定したばかりなのに「ユーザー名またはパスワードが正しくありません」と表示されます。",
             "パスワードの再設定を三回申請しましたが、メールが届きません。迷惑メールフォルダも確認しました。"),
            ("複数回ログインに失敗したため、セキュリティ上の理由でアカウントが一時的にロックされていました。ロックを解除しましたので、再度ログインをお試しください。",
             "お使いのメールサービスで当社からのメールが拒否されていました。代わりにSMSで再設定用のリンクをお送りしました（24時間有効）。"),
        ),
        "shipping": (
            ("配送の遅れについて（追跡番号{tracking}）", "荷物がまだ届きません"),
            ("追跡番号{tracking}の荷物が五日間も配送センターに留まっています。{date}までに届くはずでした。",
             "注文{order}を二週間待っています。いつ届きますか。週末のイベントで必要です。"),
            ("現在、配送業者で荷物が集中しており遅延が発生しております。{tracking}の調査を依頼しましたので、二営業日以内にご連絡いたします。",
             "ご注文{order}を本日速達で再発送いたしました。送料は当社で負担いたします。"),
        ),
        "return": (
            ("{order}の返品と返金について", "注文{order}のキャンセル"),
            ("{date}に注文{order}の商品を返送しましたが、まだ返金されていません。状況を確認していただけますか。",
             "注文{order}をキャンセルしたいです。返品用ラベルを送っていただけますか。"),
            ("返品された商品は昨日倉庫に到着し、検品が完了しました。{amount}をお支払い時の方法で返金いたしました。",
             "キャンセルを承りました。返品用ラベルを添付いたしますので、荷物の見やすい場所に貼ってください。"),
        ),
        "damaged": (
            ("商品が破損して届きました", "保証について：電源が入りません"),
            ("本日届いた箱がつぶれていて、ガラスポットが割れていました。写真を添付します。",
             "製品（シリアル番号{serial}）の電源が昨日から入りません。購入してまだ八か月です。保証の対象になりますか。"),
            ("商品が破損した状態で届き、大変申し訳ございません。代替品を無料でお送りします。破損品の返送は不要です。",
             "保証期間内です。同封の配送ラベルで修理センターへお送りください。修理には通常七営業日かかります。"),
        ),
    },
    "zh": {
        "order": (
            ("订单{order}：收到的商品不对", "关于我的订单{order}"),
            ("我在{date}下的订单{order}，订的是黑色水壶，收到的却是蓝色的。请问怎么换货？",
             "我的订单{order}已经一个星期显示“处理中”，也没有收到确认邮件。请问订单是否已经成功提交？"),
            ("经核查，订单{order}在仓库拣货时出现了错误。正确的商品今天已免费为您重新发出，请使用包裹内的退货单将错误商品寄回。",
             "您的订单{order}已成功提交，预计明天发货。确认邮件可能被归入了垃圾邮件文件夹，我们刚刚已重新发送。"),
        ),
        "invoice": (
            ("发票{invoice}被重复扣款", "请重新开具发票{invoice}"),
            ("我的银行账单显示发票{invoice}的{amount}被扣了两次，请退还重复扣除的款项。",
             "我们财务部门需要发票{invoice}上写明公司全称和税号，请问可以重新开具吗？"),
            ("您说得对，由于支付服务商的处理错误，{amount}被重复扣除。退款已经发起，预计三到五个工作日内到账。",
             "附件是更正后的发票{invoice}，已包含贵公司的全称和税号，原发票已作废。"),
        ),
        "login": (
            ("无法登录", "收不到重置密码邮件"),
            ("从今天早上开始我就无法登录账户，明明刚重置了密码，却一直提示“用户名或密码错误”。",
             "我已经申请了三次重置密码，但一直收不到邮件，垃圾邮件里也没有。"),
            ("由于多次登录失败，您的账户出于安全原因被暂时锁定。我们已经解除锁定，请重新登录；如仍有问题，请清除浏览器缓存。",
             "您的邮箱服务商拒收了我们的邮件。我们已通过短信向您发送了重置链接，有效期为24小时。"),
        ),
        "shipping": (
            ("物流延误，运单号{tracking}", "我的包裹在哪里？"),
            ("物流信息显示包裹{tracking}已经在分拣中心停留了五天，原定{date}前送达。",
             "我的订单{order}已经等了两个星期，什么时候能到？周末活动急需这批货。"),
            ("由于近期包裹量大，快递公司出现延误。我们已就{tracking}提交查件申请，将在两个工作日内回复您。",
             "您的订单{order}今天已用快递重新发出，运费由我们承担。"),
        ),
        "return": (
            ("订单{order}退货退款", "取消订单{order}"),
            ("我在{date}已经把订单{order}的商品寄回，但至今没有收到退款，请帮忙查一下。",
             "我想取消订单{order}，请给我发一张退货标签。"),
            ("您退回的商品昨天已到达仓库并完成检验，{amount}已原路退回。",
             "已收到您的取消申请。退货标签见附件，请贴在包裹的显眼位置。"),
        ),
        "damaged": (
            ("商品到货时已损坏", "保修：设备无法开机"),
            ("今天收到的箱子被压坏了，玻璃壶也裂了，照片在附件里。",
             "我的设备（序列号{serial}）从昨天起就开不了机，才买了八个月，请问在保修范围内吗？"),
            ("非常抱歉商品到货时已损坏。我们将免费为您补发，损坏的商品无需寄回。",
             "设备仍在保修期内。请用随附的运单将其寄到维修中心，维修通常需要七个工作日。"),
        ),
    },
}

# (customer greeting, customer closing, agent greeting, agent closing); {name} {first} {agent}
LETTER = {
    "de": (("Hallo,", "Guten Tag,", "Sehr geehrte Damen und Herren,"),
           ("Viele Grüße\n{name}", "Mit freundlichen Grüßen\n{name}", "Danke und Gruß\n{first}"),
           ("Hallo {first},", "Guten Tag {name},"),
           ("Freundliche Grüße\n{agent}\nIhr Kundenservice", "Viele Grüße aus dem Support-Team\n{agent}")),
    "en": (("Hello,", "Hi there,", "Dear support team,"),
           ("Best regards,\n{name}", "Thanks,\n{first}", "Kind regards\n{name}"),
           ("Hi {first},", "Dear {name},"),
           ("Best regards,\n{agent}\nCustomer Service", "Cheers,\n{agent} from the support team")),
    "ja": (("お世話になっております。", "こんにちは。"),
           ("よろしくお願いいたします。\n{name}", "{name}"),
           ("{name}様\n\nお問い合わせいただきありがとうございます。",),
           ("今後ともよろしくお願いいたします。\nカスタマーサポート　{agent}",)),
    "zh": (("您好，", "你好！"),
           ("谢谢！\n{name}", "{name}"),
           ("{name}您好：", "尊敬的{name}："),
           ("祝好！\n客服 {agent}", "如有其他问题，欢迎随时联系我们。\n{agent}")),
}

FOLLOW_UPS = {
    "de": ("Vielen Dank, das hat funktioniert!",
           "Leider ist das Problem immer noch nicht gelöst. Können Sie sich das bitte noch einmal ansehen?",
           "Danke für die schnelle Antwort. Ich warte dann auf Ihre Rückmeldung.",
           "Eine Frage noch: Gilt das auch für meine zweite Bestellung?"),
    "en": ("Thanks, that worked!",
           "Unfortunately the problem is still not solved. Could you please take another look?",
           "Thanks for the quick reply, I'll wait for your update.",
           "One more question: does this also apply to my second order?"),
    "ja": ("ありがとうございます。解決しました！",
           "残念ながらまだ解決していません。もう一度確認していただけますか。",
           "迅速なご対応ありがとうございます。ご連絡をお待ちしております。"),
    "zh": ("谢谢，问题已经解决了！",
           "很遗憾，问题还是没有解决，能再帮我看一下吗？",
           "感谢快速回复，我等您的消息。"),
}

AGENT_FOLLOW_UPS = {
    "de": ("wir haben Ihr Anliegen an die Fachabteilung weitergegeben und melden uns, sobald wir eine "
           "Antwort haben.",
           "kurze Rückfrage: Können Sie uns bitte ein Foto des Typenschilds schicken?",
           "da Ihr Anliegen erledigt ist, schließen wir das Ticket. Falls doch noch etwas offen ist, "
           "antworten Sie einfach auf diese E-Mail."),
    "en": ("We have passed your request to the responsible team and will get back to you as soon as we "
           "hear from them.",
           "Quick question: could you send us a photo of the rating plate?",
           "As everything is sorted, we are closing this ticket. If anything is still open, simply reply "
           "to this email."),
    "ja": ("担当部署に確認しておりますので、回答があり次第ご連絡いたします。",
           "恐れ入りますが、製品ラベルの写真をお送りいただけますか。",
           "解決したとのことですので、本件はクローズいたします。"),
    "zh": ("我们已将您的问题转交相关部门，有结果后会第一时间通知您。",
           "麻烦您发一张产品铭牌的照片给我们。",
           "问题已解决，我们将关闭此工单。如有其他问题，直接回复本邮件即可。"),
}

NOTES = ("Kunde hat bereits zweimal angerufen – bitte priorisieren.",
         "Rückerstattung im ERP angelegt, Freigabe durch die Buchhaltung steht noch aus.",
         "Checked with the warehouse: parcel was scanned at the depot on {date}.",
         "Escalated to 2nd level, see internal ticket OPS-{n}.",
         "Kulanz genehmigt (Teamleitung), maximal {amount}.",
         "Possible fraud pattern – do not ship a replacement before the payment has cleared.",
         "倉庫に確認済み。明日再発送予定。",
         "已联系物流公司，等待回复。",
         "Rückruf vereinbart für {date}, Kundin bevorzugt Telefon.",
         "Same issue as ticket #{n}; linking for the weekly problem review.")

RATING_COMMENTS = {
    "de": ("Schnelle und freundliche Hilfe, danke!", "Hat leider viel zu lange gedauert.", None, None),
    "en": ("Quick and friendly, thank you!", "Took far too long to get an answer.", None, None),
    "ja": ("対応が早くて助かりました。", "回答まで時間がかかりすぎました。", None),
    "zh": ("回复很及时，谢谢！", "处理时间太长了。", None),
}

# Defect material (also the project's own text).
_GERMAN_DEFECT_SOURCE = (
    "Die Rücksendung für Ihre Bestellung läuft bereits; wir überweisen den Betrag von 59,90 € in den "
    "nächsten Tagen zurück.",
    "Grüße aus dem Kundenservice – wir prüfen Ihre Beschwerde über die verspätete Lieferung so schnell "
    "wie möglich.",
    "Die Größe passt leider nicht, deshalb möchte ich den Artikel zurückgeben und hätte gern eine "
    "Gutschrift über 24,95 €. Übrigens: „Schnellversand“ war das nicht.",
)
_MIXED_CJK = (
    "Sehr geehrte Kunde，Ihre Bestellung {order} wurde versendet。请注意：Die Lieferzeit betragt 3–5 Werktage。"
    "如有问题，bitte kontaktieren Sie unsere Unterstutzung。",
    "Vielen Dank fur Ihre Geduld！我们已经收到您的Rucksendung，Erstattung erfolgt innerhalb von 7 Tagen。",
    "Wichtiger Hinweis：Ihr Konto wurde voruebergehend gesperrt（安全原因）。Bitte andern Sie Ihr Passwort。",
)
_RTL = (
    "مرحباً، لم يصل طلبي رقم {order} حتى الآن. أرجو المساعدة.",
    "\u200fשלום, ההזמנה שלי מספר {order} עדיין לא הגיעה. אשמח לעזרה.",
    "شكراً لكم، تم استلام المبلغ {amount} بنجاح.",
)
_EMOJI = (
    "Danke!! \U0001F64F\U0001F3FD Paket ist da \U0001F4E6\U0001F44D\U0001F3FB Team "
    "\U0001F469\u200D\U0001F4BB\U0001F468\U0001F3FF\u200D\U0001F4BB ist super \u2764\uFE0F",
    "Alles gut \U0001F44C\U0001F3FE \U0001F1E9\U0001F1EA\U0001F1EF\U0001F1F5 \U0001F469\u200D\U0001F4BB",
    "Ganze Familie wartet \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 \U0001F605 "
    "\U0001F3F3\uFE0F\u200D\U0001F308",
)
_SCRIPT = ("<script>document.title='hdmigrate sample: this script is data and must never run';"
           "</script>")
_LOG_LINE = ("{d} 10:{m:02d}:{s:02d} WARN  checkout[{n}] Zahlung für Warenkorb {n} abgelehnt "
             "(Code 402, Grund: „Limit überschritten“) – nächster Versuch in 30 s\n")

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

# ---------------------------------------------------------------------------------------------
# Small helpers


def _mix(seed: int, i: int) -> int:
    """A well-spread 64-bit hash of (seed, i): attributes of record i without any stored state."""
    z = (i * 0x9E3779B97F4A7C15 + seed * 0xD1B54A32D192ED03 + 0x632BE59BD9B4E019) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


_date_cache: dict[int, str] = {}
_ORDINAL_1970 = date(1970, 1, 1).toordinal()


def _day(days: int) -> str:
    s = _date_cache.get(days)
    if s is None:
        if len(_date_cache) > 100_000:
            _date_cache.clear()
        s = _date_cache[days] = date.fromordinal(_ORDINAL_1970 + days).isoformat()
    return s


@cache
def _offset(minutes: int) -> str:
    if minutes == 0:
        return "Z"
    sign = "+" if minutes > 0 else "-"
    m = abs(minutes)
    return f"{sign}{m // 60:02d}:{m % 60:02d}"


_hms: list[str | None] = [None] * _DAY


def _ts(epoch: int, off: int = 0, suffix: str = "Z", ms: int = -1) -> str:
    """RFC 3339 for a UTC epoch second, written in the fixed offset `off` (minutes)."""
    d, s = divmod(epoch + off * 60, _DAY)
    day = _date_cache.get(d) or _day(d)
    hms = _hms[s]
    if hms is None:
        h, r = divmod(s, 3600)
        hms = _hms[s] = f"T{h:02d}:{r // 60:02d}:{r % 60:02d}"
    if ms >= 0:
        return f"{day}{hms}.{ms:03d}{suffix}"
    return day + hms + suffix


def _esc(s: str) -> str:
    if "&" in s or "<" in s or ">" in s:
        return html.escape(s, quote=False)
    return s


def _to_html(paragraphs: list[str]) -> str:
    return "\n".join("<p>" + _esc(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)


def _table(encoding: str) -> tuple[str, ...]:
    out = []
    for b in range(256):
        try:
            out.append(bytes([b]).decode(encoding))
        except UnicodeDecodeError:
            out.append(chr(b))  # what sloppy decoders do with cp1252's five holes: a C1 control
    return tuple(out)


_CP1252 = _table("cp1252")
_ISO8859_16 = _table("iso8859_16")


def mojibake(text: str, table: tuple[str, ...] = _CP1252) -> str:
    """UTF-8 bytes of `text` read back as a single-byte code page (cp1252 by default)."""
    return "".join([table[b] for b in text.encode("utf-8")])


def _json_escaped(fragment: str) -> str:
    """`fragment` as it appears inside a JSON string literal, kept literally: <\\/p>, \\n, \\u00fc."""
    return json.dumps(fragment, ensure_ascii=True)[1:-1].replace("</", "<\\/")


# ---------------------------------------------------------------------------------------------
# Files, made in code


_png_idat: dict[tuple[int, int, int], bytes] = {}


def _png(width: int, height: int, k: int) -> bytes:
    """A checkered RGB PNG; the pixels repeat every 64 values of k, the tEXt chunk makes each file
    unique."""
    key = (width, height, k % 64)
    idat = _png_idat.get(key)
    if idat is None:
        idat = _png_idat[key] = zlib.compress(_png_pixels(width, height, k % 64), 6)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"tEXt", b"Comment\x00hdmigrate sample image %d" % k) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def _png_pixels(width: int, height: int, k: int) -> bytes:
    r, g, b = (k * 97) % 256, (k * 57 + 80) % 256, (k * 29 + 160) % 256
    rows = []
    for y in range(height):
        row = bytearray([0])
        for x in range(width):
            if (x // 4 + y // 4) % 2:
                row += bytes((r, g, b))
            else:
                row += bytes((255 - x * 4 % 256, 255 - y * 4 % 256, 240))
        rows.append(bytes(row))
    return b"".join(rows)


def _gif(width: int, height: int, k: int) -> bytes:
    """A 4-colour GIF89a; LZW with a clear code every two pixels keeps codes at 3 bits."""
    palette = bytes((255, 255, 255, (k * 53) % 256, 40, 90, 230, (k * 31) % 256, 30, 0, 0, 0))
    codes = []
    pixels = [((x // 3 + y // 3 + k) % 3) + (1 if x == y else 0) for y in range(height) for x in range(width)]
    for i in range(0, len(pixels), 2):
        codes.append(4)
        codes.extend(pixels[i:i + 2])
    codes.append(5)
    bits = 0
    nbits = 0
    data = bytearray()
    for c in codes:
        bits |= c << nbits
        nbits += 3
        while nbits >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        data.append(bits & 0xFF)
    blocks = b"".join(bytes([len(data[i:i + 255])]) + bytes(data[i:i + 255]) for i in range(0, len(data), 255))
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0x81, 0, 0) + palette
            + b"!\xfe" + bytes([len(note := b"hdmigrate sample image %d" % k)]) + note + b"\x00"
            + b"," + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02" + blocks + b"\x00;")


def _pdf(lines: list[str]) -> bytes:
    """A one-page PDF 1.4 with Helvetica text (WinAnsi), correct xref offsets."""
    def lit(s: str) -> str:
        b = s.encode("cp1252", "replace")
        return "".join(chr(c) if 32 <= c < 127 and chr(c) not in "()\\" else f"\\{c:03o}" for c in b)

    content = "BT /F1 12 Tf 56 780 Td 16 TL " + " ".join(f"({lit(line)}) '" for line in lines) + " ET"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> "
            "/Contents 5 0 R >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            f"<< /Length {len(content)} >>\nstream\n{content}\nendstream"]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


# kind: (file names, content type, inline)
_FILE_KINDS = ("png_inline", "pdf", "gif_inline", "txt", "csv", "png")


def _make_file(kind: str, k: int, v: dict) -> tuple[str, str, bytes]:
    if kind == "png_inline":
        return f"image{k % 1000:03d}.png", "image/png", _png(24 + k % 9, 16 + k % 5, k)
    if kind == "png":
        names = ("Screenshot {d} um 10.{m:02d}.png", "Foto_Schaden_{k}.png", "スクリーンショット_{k}.png")
        return names[k % 3].format(d=v["date"], m=k % 60, k=k), "image/png", _png(40, 30, k)
    if kind == "gif_inline":
        return ("写真_破損_{k}.gif" if k % 2 else "logo_{k}.gif").format(k=k), "image/gif", _gif(18, 12, k)
    if kind == "pdf":
        name = ("Rechnung_{inv}.pdf", "Lieferschein März {inv}.pdf", "Retourenschein {inv}.pdf")[k % 3]
        return (name.format(inv=v["invoice"]), "application/pdf",
                _pdf([f"Rechnung {v['invoice']}", f"Bestellung {v['order']}", f"Betrag: {v['amount_de']}",
                      "Vielen Dank für Ihren Einkauf!", f"hdmigrate sample #{k}"]))
    if kind == "txt":
        text = (f"Fehlerprotokoll Bestellung {v['order']}\n"
                + "".join(_LOG_LINE.format(d=v["date"], m=j, s=(j * 7) % 60, n=k * 10 + j) for j in range(6)))
        return f"fehlerprotokoll_{k}.txt", "text/plain", text.encode("utf-8")
    if kind == "csv":
        text = ("\ufeffArtikel;Menge;Einzelpreis;Summe\r\n"
                "Wasserkocher „Aurora“;1;49,90;49,90\r\n"
                f"Entkalker (Großpackung);{k % 4 + 1};7,95;{(k % 4 + 1) * 7.95:.2f}\r\n".replace(".", ",")
                + "Gutschein „Frühling“;1;-10,00;-10,00\r\n")
        return f"positionen_{v['order']}.csv", "text/csv", text.encode("utf-8")
    raise ValueError(kind)


_EMPTY_FILES = (("leer.txt", "text/plain"), ("scan_0001.pdf", "application/pdf"), ("Anhang.png", "image/png"))


# ---------------------------------------------------------------------------------------------


class _Sample:
    def __init__(self, tickets: int, comments_per_ticket: float, attachments: int | None, seed: int,
                 start: str, defects: bool, empty_files: int):
        if tickets < 0:
            raise ValueError("tickets must be >= 0")
        self.tickets = tickets
        self.cpt = max(1.0, float(comments_per_ticket))
        self.attachments = max(0, tickets // 10 if attachments is None else attachments)
        self.empty_files = max(0, empty_files)
        self.seed = seed
        self.defects = defects
        self.rng = random.Random(seed)
        t0 = datetime.fromisoformat(start.replace("Z", "+00:00"))
        if t0.tzinfo is None:
            t0 = t0.replace(tzinfo=timezone.utc)
        self.t0 = int(t0.timestamp())
        self.span = 6 * 365 * _DAY
        self.n_orgs = max(4, min(4000, tickets // 40))
        self.n_contacts = max(10, tickets // 4)
        self.n_agents = max(12, min(150, tickets // 300))
        self.group_agents: dict[int, list[int]] = {g: [] for g in range(1, len(GROUPS) + 1)}
        self.agents = [self._agent(i) for i in range(self.n_agents)]

    # -- static kinds ---------------------------------------------------------------------

    def custom_fields(self) -> Iterator[dict]:
        for n, (entity, key, ftype, title, options) in enumerate(CUSTOM_FIELDS, 1):
            rec = {"id": f"{entity}.{key}", "entity": entity, "key": key, "type": ftype, "title": title,
                   "required": key == "product", "active": True,
                   "created_at": _ts(self.t0 - 1000 * _DAY + n * 3600),
                   "updated_at": _ts(self.t0 - 400 * _DAY + n * 60)}
            if options:
                rec["options"] = [{"value": v, "label": lab} for v, lab in options]
            if ftype == "regexp":
                rec["extra"] = {"regexp_for_validation": r"^SN-[0-9A-F]{4}-[0-9A-F]{4}$"}
            yield rec

    def org(self, i: int) -> dict:
        p0, p1, p2 = ORG_PARTS
        base = p0[i % len(p0)] + p1[(i // len(p0)) % len(p1)] + p2[(i // (len(p0) * len(p1))) % len(p2)]
        combos = len(p0) * len(p1) * len(p2)
        name = base if i < combos else f"{base} ({i // combos + 1})"
        h = _mix(self.seed ^ 0x0A, i)
        domains = [self._org_domain(i)]
        if h % 7 == 0 and not p0[i % len(p0)].isascii():
            label = _slug(p0[i % len(p0)].lower())
            try:
                domains.append(f"{label}{i + 1}".encode("idna").decode("ascii") + ".example")
            except UnicodeError:
                pass
        created = self.t0 - 900 * _DAY + (h >> 20) % (800 * _DAY)
        rec = {"id": str(i + 1), "name": name, "domains": domains,
               "notes": ("Rahmenvertrag bis 2026, Ansprechpartnerin Buchhaltung: Frau Kühn" if h % 5 == 0 else None),
               "tags": ["b2b"] + (["vip"] if h % 9 == 0 else []),
               "custom_fields": {"tier": TIERS[(h >> 8) % len(TIERS)][0]},
               "created_at": _ts(created), "updated_at": _ts(created + (h >> 40) % (90 * _DAY))}
        return rec

    def group(self, g: int) -> dict:
        name, desc = GROUPS[g - 1]
        return {"id": str(g), "name": name, "description": desc,
                "created_at": _ts(self.t0 - 1000 * _DAY + g * 86_400),
                "updated_at": _ts(self.t0 - 1000 * _DAY + g * 86_400)}

    def _agent(self, i: int) -> dict:
        if i < len(AGENT_NAMES):
            name, local = AGENT_NAMES[i]
        else:
            first, last = LOCALES["de"][3], LOCALES["de"][4]
            f, l_ = first[i % len(first)], last[(i // len(first)) % len(last)]
            name, local = f"{f[0]} {l_[0]}", f"{f[1].lower()}.{l_[1].lower()}{i + 1}"
        primary = i % len(GROUPS) + 1
        groups = [primary] + ([1] if i % 3 == 0 and primary != 1 else [])
        for g in groups:
            if i != 11:  # a12 has left the company: assigned to old tickets only via history
                self.group_agents[g].append(i)
        created = self.t0 - 700 * _DAY + i * 3 * _DAY
        return {"id": f"a{i + 1}", "name": name, "email": f"{local}@{AGENT_DOMAIN}",
                "role": "admin" if i == 0 else ("light" if i % 9 == 8 else "agent"),
                "group_ids": [str(g) for g in groups], "active": i != 11,
                "created_at": _ts(created), "updated_at": _ts(created + 30 * _DAY + i * 3600)}

    def contact(self, i: int) -> dict:
        """Contact i (0-based), a pure function of (seed, i). Extra keys starting with `_` are
        internal and removed before yielding."""
        h = _mix(self.seed, i)
        loc = _LOCALE_TABLE[h % 100]
        text_lang, tags, zones, firsts, lasts, order, domains, phone_fmt = LOCALES[loc]
        f = firsts[(h >> 8) % len(firsts)]
        la = lasts[(h >> 16) % len(lasts)]
        if order == "east":
            name = la[0] + ("\u3000" if (h >> 24) % 3 == 0 else " ") + f[0]
        elif order == "chinese":
            name = la[0] + f[0]
        else:
            name = f"{f[0]} {la[0]}"
        if self.defects and i % 50 == 3:
            name = unicodedata.normalize("NFD", "Jürgen Müller-Lüdenscheidt" if loc != "de" else name + "-Küpper")
        zone, off = zones[(h >> 28) % len(zones)]
        org = None if (h >> 32) % 4 == 0 else (h >> 36) % self.n_orgs + 1
        local = f"{f[1].lower()}.{la[1].lower()}{i + 1}"
        if org is not None and (h >> 44) % 3 == 0:
            email = f"{local}@{self._org_domain(org - 1)}"
        else:
            email = f"{local}@{domains[(h >> 46) % len(domains)]}"
        emails = []
        if (h >> 50) % 6 == 0:
            emails.append(f"{f[1].lower()}{i + 1}@{domains[0]}")
        if loc == "de" and (h >> 53) % 8 == 0 and not f[0].isascii():
            # internationalized local part (RFC 6531), only as a secondary identity
            emails.append(f"{f[0].lower()}.{i + 1}@{domains[-1]}")
        phones = []
        if (h >> 56) % 3 != 0:
            phones.append(phone_fmt.format(a=20 + (h >> 12) % 80, b=1_000_000 + (h >> 20) % 8_999_999))
        if (h >> 58) % 10 == 0:
            email = None  # phone-only customer
        created = self.t0 - 730 * _DAY + (h >> 8) % (725 * _DAY)
        rec = {"id": f"c{i + 1}", "name": name, "email": email, "emails": emails, "phones": phones,
               "organization_id": None if org is None else str(org),
               "language": tags[(h >> 40) % len(tags)], "time_zone": zone,
               "tags": (["newsletter"] if (h >> 60) % 2 else []),
               "custom_fields": {"customer_number": f"K-{100000 + i + 1}", "newsletter": bool((h >> 60) % 2)},
               "notes": None, "active": (h >> 61) % 25 != 0,
               "created_at": _ts(created, off, _offset(off)), "updated_at": _ts(created + 3600, off, _offset(off))}
        if (h >> 62) % 2 and i % 11 == 0:
            rec["notes"] = ("Bevorzugt Rückruf am Vormittag." if text_lang == "de"
                            else "Prefers a call back in the morning.")
        rec["_lang"] = text_lang
        rec["_off"] = off
        rec["_first"] = f[0]
        return rec

    def _org_domain(self, i: int) -> str:
        p0 = ORG_PARTS[0]
        return f"{_slug(_ascii(p0[i % len(p0)]).lower()) or 'kunde'}{i + 1}.example"

    # -- tickets ----------------------------------------------------------------------------

    def run(self) -> Iterator[tuple[str, dict | bytes]]:
        for rec in self.custom_fields():
            yield "custom_field", rec
        for i in range(self.n_orgs):
            yield "organization", self.org(i)
        for g in range(1, len(GROUPS) + 1):
            yield "group", self.group(g)
        for rec in self.agents:
            yield "agent", rec
        for i in range(self.n_contacts):
            rec = self.contact(i)
            del rec["_lang"], rec["_off"], rec["_first"]
            yield "contact", rec
        self.comment_seq = 0
        self.attachment_seq = 0
        self.rating_seq = 0
        self.defect_idx = 0
        self.next_defect = 3
        produced = 0
        for i in range(self.tickets):
            n = yield from self.ticket(i, produced)
            produced += n

    def ticket(self, i: int, produced: int):
        rng = self.rng
        rnd = rng.random
        seed = self.seed
        # requester: mostly contacts, skewed so some customers write often; a few agents
        if i % 97 == 41:
            requester = None
            ai = (i // 97) % self.n_agents
            req_id, req_kind, lang, off, req_name, req_first = f"a{ai + 1}", "agent", "de", 60, \
                self.agents[ai]["name"], self.agents[ai]["name"].split()[0]
            org_id = None
        else:
            ci = int(self.n_contacts * rnd() ** 1.6)
            requester = self.contact(ci)
            req_id, req_kind, lang, off = requester["id"], "contact", requester["_lang"], requester["_off"]
            req_name, req_first, org_id = requester["name"], requester["_first"], requester["organization_id"]
        topic = TOPICS[int(rnd() * len(TOPICS))]
        channel = _ALL_CHANNELS[i] if i < len(_ALL_CHANNELS) else _CHANNELS[int(rnd() * 100)]
        status = _ALL_STATUSES[i % 6] if i < 6 else _STATUSES[int(rnd() * 100)]
        priority = _ALL_PRIORITIES[i % 5] if i < 5 else _PRIORITIES[int(rnd() * 100)]
        ttype = _ALL_TYPES[(i + 2) % 5] if i < 5 else _TYPES[int(rnd() * 100)]
        group = 6 if lang == "ja" else 7 if lang == "zh" else (
            _TOPIC_GROUP[topic] if rnd() < 0.8 else (1 if rnd() < 0.7 else 8))
        members = self.group_agents[group] or self.group_agents[1]
        assignee = None if status == "new" else members[int(rnd() * len(members))]
        if assignee is not None and status in ("solved", "closed") and i % 53 == 11:
            assignee = 11  # the agent who left, on an old solved ticket
        # time and its presentation, consistent within the ticket
        base = self.t0 + int((i + rnd()) * self.span / max(self.tickets, 1))
        day0 = base - base % _DAY
        created = day0 + 6 * 3600 + int((base % _DAY) * 14 / 24)
        style = rnd()
        if style < 0.15:
            t_off, suffix = off, _offset(off)
        else:
            t_off, suffix = 0, "Z"
        with_ms = 0.15 <= style < 0.25

        # comment count: keep the running total near tickets * cpt, with jitter
        if status == "new":
            n_comments = 1
        else:
            target = (i + 1) * self.cpt - produced
            spread = min(self.cpt - 1.0, 4.0)
            n_comments = max(2 if self.cpt >= 2 else 1, int(target + (rnd() * 2 - 1) * spread + 0.5))
        # placeholders
        h = _mix(seed ^ 0x7777, i)
        d_order = _day((created - 3 * _DAY) // _DAY)
        amount_val = 9.95 + (h % 40000) / 100
        v = {"order": f"A-{2019 + (created - self.t0) // (365 * _DAY)}-{h % 1_000_000:06d}",
             "invoice": f"RE-{(h >> 20) % 10_000_000:07d}",
             "tracking": f"JJD{(h >> 24) % 10**12:012d}",
             "serial": f"SN-{(h >> 8) & 0xFFFF:04X}-{(h >> 28) & 0xFFFF:04X}",
             "date": d_order, "n": str(1000 + (h >> 36) % 9000)}
        v["amount_de"] = f"{amount_val:.2f}".replace(".", ",") + " €"
        v["amount"] = {"de": v["amount_de"], "en": f"€{amount_val:.2f}", "ja": f"¥{int(amount_val * 150):,}",
                       "zh": f"¥{amount_val * 7.8:.2f}"}[lang]
        subjects, openings, replies = TEXT[lang][topic]
        subject = subjects[int(rnd() * len(subjects))].format(**v)
        if self.defects and i % 11 == 4:
            subject = mojibake(TEXT["de"][topic][0][0].format(**v) + " – bitte dringend prüfen")
        elif self.defects and i % 13 == 6:
            subject = "\U0001F4E6\u2753 " + subject + " \U0001F621\U0001F64F\U0001F3FC"

        # comment timeline
        times = [created]
        t = created
        for p in range(1, n_comments):
            if p % 3 == 2:  # private note soon after the reply
                t += 60 + int(rnd() * 3 * 3600)
            else:
                t += 300 + int(rnd() * rnd() * 3 * _DAY)
            times.append(t)
        last = times[-1]
        solved_at = None
        if status in ("solved", "closed"):
            solved_at = last + 120
        updated = (solved_at or last) + (4 * _DAY if status == "closed" else 60 + int(rnd() * 600))
        rating = None
        if solved_at is not None and req_kind == "contact" and rnd() < 0.45:
            rating = solved_at + 3600 + int(rnd() * 2 * _DAY)
            updated = max(updated, rating + 30)

        def ts(epoch: int) -> str:
            return _ts(epoch, t_off, suffix, (epoch * 7 + i) % 1000 if with_ms else -1)

        tid = str(i + 1)
        cc_ids = []
        if rnd() < 0.1:
            cc_ids.append(f"c{int(rnd() * self.n_contacts) + 1}")
            if rnd() < 0.3:
                cc_ids.append(f"a{int(rnd() * self.n_agents) + 1}")
            if req_id in cc_ids:
                cc_ids.remove(req_id)
        tags = list(_TOPIC_TAGS[topic])
        if rnd() < 0.3:
            tags.append(_EXTRA_TAGS[int(rnd() * len(_EXTRA_TAGS))])
        cf: dict = {"order_number": v["order"] if topic != "login" else None}
        cf["product"] = ("kettle_aurora", "toaster_borealis", "coffee_cirrus", "app",
                         "gift_card")[h % 5 if topic != "login" else 3]
        if topic in ("damaged", "return", "order"):
            cf["quantity"] = 1 + (h >> 10) % 3
            cf["purchase_date"] = _day((created - (20 + (h >> 12) % 300) * _DAY) // _DAY)
        if topic == "damaged":
            cf["warranty"] = bool((h >> 14) % 2)
            cf["serial_number"] = v["serial"]
        if topic in ("invoice", "return"):
            cf["refund_amount"] = round(amount_val, 2)
        if topic in ("login", "order", "invoice") and (h >> 16) % 2:
            cf["affected_systems"] = [s for j, s in enumerate(("webshop", "app", "payment", "erp", "carrier"))
                                      if (h >> (18 + j)) % 3 == 0] or ["webshop"]
        if (h >> 24) % 5 == 0:
            cf["internal_summary"] = "Kunde verärgert.\nBitte bei Rückfragen an Teamleitung."
        record = {"id": tid, "number": str(4700 + i + 1), "subject": subject, "status": status,
                  "priority": priority, "type": ttype, "channel": channel, "requester_id": req_id,
                  "assignee_id": None if assignee is None else f"a{assignee + 1}",
                  "group_id": str(group), "organization_id": org_id, "cc_ids": cc_ids, "tags": tags,
                  "custom_fields": cf,
                  "due_at": ts(created + 3 * _DAY) if ttype == "task" else None,
                  "solved_at": ts(solved_at) if solved_at is not None else None,
                  "created_at": ts(created), "updated_at": ts(updated)}
        if h % 5 == 0:
            record["extra"] = {"sla_policy": ("Standard 24h", "Premium 4h", "B2B 8h")[(h >> 3) % 3],
                               "source_form": ("Kontaktformular", "App", "Händlerportal")[(h >> 5) % 3]}
        yield "ticket", record

        # attachments of this ticket
        a_total = self.attachments
        n_att = ((i + 1) * a_total) // self.tickets - (i * a_total) // self.tickets if self.tickets else 0
        e_total = self.empty_files
        n_empty = ((i + 1) * e_total) // self.tickets - (i * e_total) // self.tickets if e_total else 0
        files_at: dict[int, list] = {}
        for _ in range(n_att):
            k = self.attachment_seq
            self.attachment_seq += 1
            kind = _FILE_KINDS[k % len(_FILE_KINDS)]
            pos = 1 if kind in ("pdf", "csv") and n_comments > 1 else 0
            files_at.setdefault(pos, []).append((k, kind))
        for _ in range(n_empty):
            k = self.attachment_seq
            self.attachment_seq += 1
            files_at.setdefault(0, []).append((k, "empty"))

        # comments
        agent_name_of = self.agents
        a_idx = assignee if assignee is not None else members[int(rnd() * len(members))]
        cust_greet, cust_close, ag_greet, ag_close = LETTER[lang]
        fmt_names = {"name": req_name, "first": req_first}
        for p in range(n_comments):
            g = self.comment_seq
            self.comment_seq += 1
            cid = str(g + 1)
            role = "open" if p == 0 else ("reply", "note", "follow")[(p - 1) % 3]
            if role == "note" or role == "reply":
                ai = a_idx if (role == "reply" or rnd() < 0.6) else int(rnd() * self.n_agents)
                author_id, author_kind = f"a{ai + 1}", "agent"
                agent_name = agent_name_of[ai]["name"]
            else:
                author_id, author_kind = req_id, req_kind
                agent_name = agent_name_of[a_idx]["name"]
            public = role != "note"
            if role == "open":
                c_channel = channel
                paras = [cust_greet[int(rnd() * len(cust_greet))], openings[int(rnd() * len(openings))].format(**v),
                         cust_close[int(rnd() * len(cust_close))].format(**fmt_names)]
            elif role == "reply":
                c_channel = _REPLY_CHANNEL.get(channel, channel)
                if p == 1:
                    body = replies[int(rnd() * len(replies))]
                elif solved_at is not None and p >= n_comments - 2:
                    body = AGENT_FOLLOW_UPS[lang][2]  # the closing reply
                else:
                    body = AGENT_FOLLOW_UPS[lang][int(rnd() * 2)]
                paras = [ag_greet[int(rnd() * len(ag_greet))].format(**fmt_names), body.format(**v),
                         ag_close[int(rnd() * len(ag_close))].format(agent=agent_name)]
            elif role == "note":
                c_channel = "web"
                paras = [NOTES[int(rnd() * len(NOTES))].format(date=v["date"], n=v["n"], amount=v["amount_de"])]
            else:
                c_channel = channel if rnd() < 0.75 else ("email", "phone", "chat")[int(rnd() * 3)]
                ups = FOLLOW_UPS[lang]
                # thanks at the end of a solved conversation, otherwise questions and reminders
                thanks = solved_at is not None and p >= n_comments - 3
                paras = [ups[0] if thanks else ups[1 + int(rnd() * (len(ups) - 1))],
                         cust_close[int(rnd() * len(cust_close))].format(**fmt_names)]
            files = files_at.get(p)
            as_html = (c_channel in _HTML_CHANNELS and role != "note") or files is not None
            body_text = "\n\n".join(paras)
            body_html = _to_html(paras) if as_html else None
            att_records = []
            if files:
                for k, kind in files:
                    if kind == "empty":
                        fname, ctype = _EMPTY_FILES[k % len(_EMPTY_FILES)]
                        data = b""
                    else:
                        fname, ctype, data = _make_file(kind, k, v)
                    att = {"id": str(k + 1), "comment_id": cid, "ticket_id": tid, "file_name": fname,
                           "content_type": ctype, "size": len(data),
                           "sha256": hashlib.sha256(data).hexdigest(),
                           "inline": kind.endswith("_inline"), "content_id": None,
                           "created_at": ts(times[p]), "updated_at": ts(times[p])}
                    if att["inline"]:
                        att["content_id"] = f"ii_{k + 1}.{tid}@sample.hdmigrate.invalid"
                        body_html += f'\n<p><img src="cid:{att["content_id"]}" alt="{_esc(fname)}" width="240"></p>'
                    att_records.append((att, data))
            elif self.defects and g >= self.next_defect:
                body_text, body_html = self._defect(DEFECT_CLASSES[self.defect_idx % len(DEFECT_CLASSES)],
                                                    paras, body_text, body_html, v)
                self.defect_idx += 1
                self.next_defect = g + _DEFECT_EVERY
            if self.defects and p == 0 and i % _LONG_EVERY == _LONG_FIRST:
                body_text, body_html = self._long(i, v, body_text, body_html)
            rec = {"id": cid, "ticket_id": tid, "author_id": author_id, "author_kind": author_kind,
                   "public": public, "channel": c_channel}
            if body_html is not None:
                rec["body_html"] = body_html
            if body_text is not None:
                rec["body_text"] = body_text
            rec["attachment_ids"] = [a["id"] for a, _ in att_records]
            rec["created_at"] = rec["updated_at"] = ts(times[p])
            yield "comment", rec
            for att, data in att_records:
                yield "blob", data
                yield "attachment", att

        if rating is not None:
            r = self.rating_seq
            self.rating_seq += 1
            good = rnd() < 0.8
            comments = RATING_COMMENTS[lang]
            comment = comments[int(rnd() * len(comments))]
            if comment is not None and (comment == comments[0]) != good:
                comment = None
            if r % 2 == 0:
                scale, score = "good_bad", "good" if good else "bad"
            else:
                scale, score = "1-5", (4 + int(rnd() * 2)) if good else (1 + int(rnd() * 3))
            yield "satisfaction_rating", {"id": str(r + 1), "ticket_id": tid, "score": score, "scale": scale,
                                          "comment": comment, "contact_id": req_id,
                                          "created_at": ts(rating), "updated_at": ts(rating)}
        return n_comments

    def _defect(self, cls: str, paras: list[str], text: str | None, body_html: str | None, v: dict):
        """(body_text, body_html) of a comment carrying defect class `cls`."""
        occ = self.defect_idx // len(DEFECT_CLASSES)  # how often this class came before
        src = _GERMAN_DEFECT_SOURCE[occ % len(_GERMAN_DEFECT_SOURCE)]
        if cls == "escaped_entities":
            return html.escape(_to_html(["Guten Tag,", src]), quote=False), None
        if cls == "json_escaped":
            return None, _json_escaped(_to_html(["Guten Tag,", src, "Mit freundlichen Grüßen"]))
        if cls == "mojibake_cp1252":
            t = "\n\n".join(["Hallo,", src, "Grüße"])
            if occ % 5 == 2:
                return mojibake(mojibake(t)), None  # twice: "fÃƒÂ¼r"
            return mojibake(t), mojibake(_to_html(["Hallo,", src, "Grüße"]))
        if cls == "mojibake_iso8859_16":
            t = "\n\n".join(["Hallo,", src])
            return mojibake(t, _ISO8859_16), None
        if cls == "emoji":
            e = _EMOJI[occ % len(_EMOJI)]
            return (text or "") + "\n\n" + e, (body_html + "\n<p>" + e + "</p>") if body_html else None
        if cls == "combining":
            t = "\n\n".join(["Hallo,", src])
            return unicodedata.normalize("NFD", t), None
        if cls == "mixed_cjk":
            m = _MIXED_CJK[occ % len(_MIXED_CJK)].format(**v)
            return m, "<p>" + m + "</p>"
        if cls == "html_table":
            rich = ('<p>Hier die Übersicht Ihrer Positionen:</p>\n<table border="1" cellpadding="4">'
                    "<thead><tr><th>Artikel</th><th>Menge</th><th>Preis</th></tr></thead><tbody>"
                    "<tr><td>Wasserkocher „Aurora“</td><td>1</td><td>49,90&nbsp;€</td></tr>"
                    "<tr><td>Entkalker</td><td>2</td><td>15,90&nbsp;€</td></tr></tbody></table>\n"
                    f'<p>Details: <a href="https://shop.example.com/orders/{v["order"]}?lang=de&amp;ref=mail">'
                    'Bestellung ansehen</a> · <a href="mailto:support@shop.example.com">support@shop.example.com</a>'
                    "</p>")
            return text, rich + "\n" + (body_html or _to_html(paras))
        if cls == "rtl":
            r = _RTL[occ % len(_RTL)].format(order=v["order"], amount=v["amount_de"])
            return r, '<p dir="rtl">' + r + "</p>"
        if cls == "script":
            return text, (body_html or _to_html(paras)) + "\n" + _SCRIPT
        raise ValueError(cls)

    def _long(self, i: int, v: dict, text: str | None, body_html: str | None):
        head = (text or "") + f"\n\nHier das komplette Protokoll aus der App (Bestellung {v['order']}):\n"
        log = _long_log()
        return head + log, (body_html or "") + f"\n<p>Protokoll zu {v['order']}:</p>\n<pre>" + _esc(log) + "</pre>"


_long_log_cache: list[str] = []


def _long_log() -> str:
    """About LONG_BODY_CHARS of an app log (made once per process)."""
    if not _long_log_cache:
        lines, size, j = [], 0, 0
        while size < LONG_BODY_CHARS:
            line = _LOG_LINE.format(d=f"2021-03-{1 + j // 3600 % 28:02d}", m=j % 60, s=(j * 7) % 60, n=40000 + j)
            lines.append(line)
            size += len(line)
            j += 1
        _long_log_cache.append("".join(lines))
    return _long_log_cache[0]


def generate(tickets: int = 60, comments_per_ticket: float = 6.0, attachments: int | None = None,
             seed: int = 7, start: str = "2019-01-01T00:00:00Z", *, defects: bool = True,
             empty_files: int = 0) -> Iterator[tuple[str, dict | bytes]]:
    """Yield (kind, record) for a whole sample helpdesk, parents before children, and
    ("blob", bytes) just before the attachment record describing those bytes.

    `attachments`: total number of files (None: one per 10 tickets), a mix of inline PNG/GIF
    images (referenced from the comment's body_html as cid:), PDFs, text and CSV files.
    `defects`: put the real-world text defects of DEFECT_CLASSES on a deterministic subset.
    `empty_files`: additional 0-byte attachments (not in the default set).
    Same arguments, same output; memory does not grow with `tickets`.
    """
    return _Sample(tickets, comments_per_ticket, attachments, seed, start, defects, empty_files).run()


def write_dump(path, tickets: int = 60, comments_per_ticket: float = 6.0, attachments: int | None = None,
               seed: int = 7, *, start: str = "2019-01-01T00:00:00Z", defects: bool = True,
               empty_files: int = 0) -> dict[str, int]:
    """Write a jsonl dump (source "sample") of `generate(...)` to `path`; returns counts per kind."""
    from hdmigrate.canonical_dump import DumpWriter
    from hdmigrate.canonical import KINDS
    from hdmigrate.errors import ConfigError

    root = Path(path)
    if root.exists() and any(root.glob("*.jsonl")):
        raise ConfigError(f"{root}: already holds a dump; write the sample into an empty directory")
    writer = DumpWriter(root, source=SOURCE)
    counts: dict[str, int] = {}
    for kind, rec in generate(tickets, comments_per_ticket, attachments, seed, start, defects=defects,
                              empty_files=empty_files):
        if kind == "blob":
            writer.add_blob(rec)  # type: ignore[arg-type]
        else:
            writer.add(kind, rec)  # type: ignore[arg-type]
            counts[kind] = counts.get(kind, 0) + 1
    counts = {k: counts[k] for k in KINDS if k in counts}
    writer.close(counts)
    return counts


def defect_markers() -> dict[str, str]:
    """A substring per defect class that a default dataset (defects=True) contains verbatim."""
    return {"escaped_entities": "&lt;p&gt;", "json_escaped": "<\\/p>", "mojibake_cp1252": "Ã¼",
            "mojibake_iso8859_16": "Ă€", "emoji": "\U0001F469\u200D\U0001F4BB", "combining": "u\u0308",
            "mixed_cjk": "。请注意：", "html_table": "<table", "rtl": "\u0645\u0631\u062d\u0628\u0627",
            "script": "<script>", "long": "Hier das komplette Protokoll"}
