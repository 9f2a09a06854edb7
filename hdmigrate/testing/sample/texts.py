"""Ticket texts written for hdmigrate's sample helpdesk (German, English, Japanese, Chinese, a
little Arabic and Hebrew) and the defective fragments real helpdesk data carries."""

from __future__ import annotations


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
