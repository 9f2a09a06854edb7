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
import random
import unicodedata
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace

from .constants import DEFECT_CLASSES, LONG_BODY_CHARS, SOURCE, _DAY, _DEFECT_EVERY, _LONG_EVERY, _LONG_FIRST
from .texts import AGENT_FOLLOW_UPS, FOLLOW_UPS, LETTER, NOTES, RATING_COMMENTS, TEXT, TOPICS, _EMOJI, _GERMAN_DEFECT_SOURCE, _LOG_LINE, _MIXED_CJK, _RTL, _SCRIPT
from .people import AGENT_DOMAIN, AGENT_NAMES, CUSTOM_FIELDS, GROUPS, LOCALES, ORG_PARTS, TIERS, _ALL_CHANNELS, _ALL_PRIORITIES, _ALL_STATUSES, _ALL_TYPES, _CHANNELS, _EXTRA_TAGS, _HTML_CHANNELS, _LOCALE_TABLE, _PRIORITIES, _REPLY_CHANNEL, _STATUSES, _TOPIC_GROUP, _TOPIC_TAGS, _TYPES, _ascii, _slug
from .encoding import _ISO8859_16, _day, _esc, _json_escaped, _mix, _offset, _to_html, _ts, mojibake
from .files import _EMPTY_FILES, _FILE_KINDS, _make_file

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
        """One ticket with its comments, files and rating. The random draws happen in a fixed
        order (requester, routing, clock, comment count, subject, timeline, cc, tags, then per
        comment), so the same seed always gives the same helpdesk."""
        t = _Ticket(i=i, tid=str(i + 1))
        self._requester(t)
        self._routing(t)
        self._clock(t, produced)
        self._placeholders(t)
        self._subject(t)
        self._timeline(t)
        yield "ticket", self._ticket_record(t)
        files_at = self._files_at(t)
        yield from self._comments(t, files_at)
        if t.rating is not None:
            yield "satisfaction_rating", self._rating(t)
        return t.n_comments

    # -- one ticket, step by step (each step only adds to `t`) -------------------------------

    def _requester(self, t: "_Ticket") -> None:
        # mostly contacts, skewed so some customers write often; a few agents
        i = t.i
        if i % 97 == 41:
            ai = (i // 97) % self.n_agents
            t.req_id, t.req_kind, t.lang, t.off = f"a{ai + 1}", "agent", "de", 60
            t.req_name, t.req_first = self.agents[ai]["name"], self.agents[ai]["name"].split()[0]
            t.org_id = None
        else:
            requester = self.contact(int(self.n_contacts * self.rng.random() ** 1.6))
            t.req_id, t.req_kind, t.lang, t.off = requester["id"], "contact", requester["_lang"], requester["_off"]
            t.req_name, t.req_first, t.org_id = requester["name"], requester["_first"], requester["organization_id"]

    def _routing(self, t: "_Ticket") -> None:
        i, rnd = t.i, self.rng.random
        t.topic = TOPICS[int(rnd() * len(TOPICS))]
        t.channel = _ALL_CHANNELS[i] if i < len(_ALL_CHANNELS) else _CHANNELS[int(rnd() * 100)]
        t.status = _ALL_STATUSES[i % 6] if i < 6 else _STATUSES[int(rnd() * 100)]
        t.priority = _ALL_PRIORITIES[i % 5] if i < 5 else _PRIORITIES[int(rnd() * 100)]
        t.ttype = _ALL_TYPES[(i + 2) % 5] if i < 5 else _TYPES[int(rnd() * 100)]
        t.group = 6 if t.lang == "ja" else 7 if t.lang == "zh" else (
            _TOPIC_GROUP[t.topic] if rnd() < 0.8 else (1 if rnd() < 0.7 else 8))
        t.members = self.group_agents[t.group] or self.group_agents[1]
        t.assignee = None if t.status == "new" else t.members[int(rnd() * len(t.members))]
        if t.assignee is not None and t.status in ("solved", "closed") and i % 53 == 11:
            t.assignee = 11  # the agent who left, on an old solved ticket

    def _clock(self, t: "_Ticket", produced: int) -> None:
        """Creation time and its presentation (consistent within the ticket); comment count,
        keeping the running total near tickets × comments per ticket, with jitter."""
        rnd = self.rng.random
        base = self.t0 + int((t.i + rnd()) * self.span / max(self.tickets, 1))
        day0 = base - base % _DAY
        t.created = day0 + 6 * 3600 + int((base % _DAY) * 14 / 24)
        style = rnd()
        t.t_off, t.suffix = (t.off, _offset(t.off)) if style < 0.15 else (0, "Z")
        t.with_ms = 0.15 <= style < 0.25
        if t.status == "new":
            t.n_comments = 1
        else:
            target = (t.i + 1) * self.cpt - produced
            spread = min(self.cpt - 1.0, 4.0)
            t.n_comments = max(2 if self.cpt >= 2 else 1, int(target + (rnd() * 2 - 1) * spread + 0.5))

    def _placeholders(self, t: "_Ticket") -> None:
        h = t.h = _mix(self.seed ^ 0x7777, t.i)
        t.amount_val = 9.95 + (h % 40000) / 100
        v = {"order": f"A-{2019 + (t.created - self.t0) // (365 * _DAY)}-{h % 1_000_000:06d}",
             "invoice": f"RE-{(h >> 20) % 10_000_000:07d}",
             "tracking": f"JJD{(h >> 24) % 10**12:012d}",
             "serial": f"SN-{(h >> 8) & 0xFFFF:04X}-{(h >> 28) & 0xFFFF:04X}",
             "date": _day((t.created - 3 * _DAY) // _DAY), "n": str(1000 + (h >> 36) % 9000)}
        v["amount_de"] = f"{t.amount_val:.2f}".replace(".", ",") + " €"
        v["amount"] = {"de": v["amount_de"], "en": f"€{t.amount_val:.2f}", "ja": f"¥{int(t.amount_val * 150):,}",
                       "zh": f"¥{t.amount_val * 7.8:.2f}"}[t.lang]
        t.v = v

    def _subject(self, t: "_Ticket") -> None:
        subjects, t.openings, t.replies = TEXT[t.lang][t.topic]
        t.subject = subjects[int(self.rng.random() * len(subjects))].format(**t.v)
        if self.defects and t.i % 11 == 4:
            t.subject = mojibake(TEXT["de"][t.topic][0][0].format(**t.v) + " – bitte dringend prüfen")
        elif self.defects and t.i % 13 == 6:
            t.subject = "\U0001F4E6\u2753 " + t.subject + " \U0001F621\U0001F64F\U0001F3FC"

    def _timeline(self, t: "_Ticket") -> None:
        rnd = self.rng.random
        t.times = [t.created]
        at = t.created
        for p in range(1, t.n_comments):
            if p % 3 == 2:  # private note soon after the reply
                at += 60 + int(rnd() * 3 * 3600)
            else:
                at += 300 + int(rnd() * rnd() * 3 * _DAY)
            t.times.append(at)
        last = t.times[-1]
        t.solved_at = last + 120 if t.status in ("solved", "closed") else None
        t.updated = (t.solved_at or last) + (4 * _DAY if t.status == "closed" else 60 + int(rnd() * 600))
        t.rating = None
        if t.solved_at is not None and t.req_kind == "contact" and rnd() < 0.45:
            t.rating = t.solved_at + 3600 + int(rnd() * 2 * _DAY)
            t.updated = max(t.updated, t.rating + 30)

    def _ticket_record(self, t: "_Ticket") -> dict:
        rnd = self.rng.random
        cc_ids = []
        if rnd() < 0.1:
            cc_ids.append(f"c{int(rnd() * self.n_contacts) + 1}")
            if rnd() < 0.3:
                cc_ids.append(f"a{int(rnd() * self.n_agents) + 1}")
            if t.req_id in cc_ids:
                cc_ids.remove(t.req_id)
        tags = list(_TOPIC_TAGS[t.topic])
        if rnd() < 0.3:
            tags.append(_EXTRA_TAGS[int(rnd() * len(_EXTRA_TAGS))])
        ts, h = t.ts, t.h
        record = {"id": t.tid, "number": str(4700 + t.i + 1), "subject": t.subject, "status": t.status,
                  "priority": t.priority, "type": t.ttype, "channel": t.channel, "requester_id": t.req_id,
                  "assignee_id": None if t.assignee is None else f"a{t.assignee + 1}",
                  "group_id": str(t.group), "organization_id": t.org_id, "cc_ids": cc_ids, "tags": tags,
                  "custom_fields": _ticket_fields(t),
                  "due_at": ts(t.created + 3 * _DAY) if t.ttype == "task" else None,
                  "solved_at": ts(t.solved_at) if t.solved_at is not None else None,
                  "created_at": ts(t.created), "updated_at": ts(t.updated)}
        if h % 5 == 0:
            record["extra"] = {"sla_policy": ("Standard 24h", "Premium 4h", "B2B 8h")[(h >> 3) % 3],
                               "source_form": ("Kontaktformular", "App", "Händlerportal")[(h >> 5) % 3]}
        return record

    def _files_at(self, t: "_Ticket") -> dict[int, list]:
        """Which comment (by position) carries which files of this ticket."""
        i, n = t.i, self.tickets
        n_att = ((i + 1) * self.attachments) // n - (i * self.attachments) // n if n else 0
        e_total = self.empty_files
        n_empty = ((i + 1) * e_total) // n - (i * e_total) // n if e_total else 0
        files_at: dict[int, list] = {}
        for _ in range(n_att):
            k = self.attachment_seq
            self.attachment_seq += 1
            kind = _FILE_KINDS[k % len(_FILE_KINDS)]
            pos = 1 if kind in ("pdf", "csv") and t.n_comments > 1 else 0
            files_at.setdefault(pos, []).append((k, kind))
        for _ in range(n_empty):
            k = self.attachment_seq
            self.attachment_seq += 1
            files_at.setdefault(0, []).append((k, "empty"))
        return files_at

    def _comments(self, t: "_Ticket", files_at: dict[int, list]):
        rnd = self.rng.random
        t.a_idx = t.assignee if t.assignee is not None else t.members[int(rnd() * len(t.members))]
        for p in range(t.n_comments):
            g = self.comment_seq
            self.comment_seq += 1
            cid = str(g + 1)
            role = "open" if p == 0 else ("reply", "note", "follow")[(p - 1) % 3]
            if role == "note" or role == "reply":
                ai = t.a_idx if (role == "reply" or rnd() < 0.6) else int(rnd() * self.n_agents)
                author_id, author_kind = f"a{ai + 1}", "agent"
                agent_name = self.agents[ai]["name"]
            else:
                author_id, author_kind = t.req_id, t.req_kind
                agent_name = self.agents[t.a_idx]["name"]
            c_channel, paras = self._paragraphs(t, p, role, agent_name)
            files = files_at.get(p)
            as_html = (c_channel in _HTML_CHANNELS and role != "note") or files is not None
            body_text = "\n\n".join(paras)
            body_html = _to_html(paras) if as_html else None
            att_records = []
            if files:
                body_html, att_records = self._files(t, p, cid, files, body_html)
            elif self.defects and g >= self.next_defect:
                body_text, body_html = self._defect(DEFECT_CLASSES[self.defect_idx % len(DEFECT_CLASSES)],
                                                    paras, body_text, body_html, t.v)
                self.defect_idx += 1
                self.next_defect = g + _DEFECT_EVERY
            if self.defects and p == 0 and t.i % _LONG_EVERY == _LONG_FIRST:
                body_text, body_html = self._long(t.i, t.v, body_text, body_html)
            rec = {"id": cid, "ticket_id": t.tid, "author_id": author_id, "author_kind": author_kind,
                   "public": role != "note", "channel": c_channel}
            if body_html is not None:
                rec["body_html"] = body_html
            if body_text is not None:
                rec["body_text"] = body_text
            rec["attachment_ids"] = [a["id"] for a, _ in att_records]
            rec["created_at"] = rec["updated_at"] = t.ts(t.times[p])
            yield "comment", rec
            for att, data in att_records:
                yield "blob", data
                yield "attachment", att

    def _paragraphs(self, t: "_Ticket", p: int, role: str, agent_name: str) -> tuple[str, list[str]]:
        """A comment's channel and paragraphs for its role in the conversation."""
        rnd = self.rng.random
        cust_greet, cust_close, ag_greet, ag_close = LETTER[t.lang]
        names = {"name": t.req_name, "first": t.req_first}
        v = t.v
        if role == "open":
            return t.channel, [cust_greet[int(rnd() * len(cust_greet))],
                               t.openings[int(rnd() * len(t.openings))].format(**v),
                               cust_close[int(rnd() * len(cust_close))].format(**names)]
        if role == "reply":
            if p == 1:
                body = t.replies[int(rnd() * len(t.replies))]
            elif t.solved_at is not None and p >= t.n_comments - 2:
                body = AGENT_FOLLOW_UPS[t.lang][2]  # the closing reply
            else:
                body = AGENT_FOLLOW_UPS[t.lang][int(rnd() * 2)]
            return _REPLY_CHANNEL.get(t.channel, t.channel), [
                ag_greet[int(rnd() * len(ag_greet))].format(**names), body.format(**v),
                ag_close[int(rnd() * len(ag_close))].format(agent=agent_name)]
        if role == "note":
            return "web", [NOTES[int(rnd() * len(NOTES))].format(date=v["date"], n=v["n"], amount=v["amount_de"])]
        c_channel = t.channel if rnd() < 0.75 else ("email", "phone", "chat")[int(rnd() * 3)]
        ups = FOLLOW_UPS[t.lang]
        # thanks at the end of a solved conversation, otherwise questions and reminders
        thanks = t.solved_at is not None and p >= t.n_comments - 3
        return c_channel, [ups[0] if thanks else ups[1 + int(rnd() * (len(ups) - 1))],
                           cust_close[int(rnd() * len(cust_close))].format(**names)]

    def _files(self, t: "_Ticket", p: int, cid: str, files: list, body_html: str | None):
        records = []
        for k, kind in files:
            if kind == "empty":
                fname, ctype = _EMPTY_FILES[k % len(_EMPTY_FILES)]
                data = b""
            else:
                fname, ctype, data = _make_file(kind, k, t.v)
            att = {"id": str(k + 1), "comment_id": cid, "ticket_id": t.tid, "file_name": fname,
                   "content_type": ctype, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                   "inline": kind.endswith("_inline"), "content_id": None,
                   "created_at": t.ts(t.times[p]), "updated_at": t.ts(t.times[p])}
            if att["inline"]:
                att["content_id"] = f"ii_{k + 1}.{t.tid}@sample.hdmigrate.invalid"
                body_html += f'\n<p><img src="cid:{att["content_id"]}" alt="{_esc(fname)}" width="240"></p>'
            records.append((att, data))
        return body_html, records

    def _rating(self, t: "_Ticket") -> dict:
        rnd = self.rng.random
        r = self.rating_seq
        self.rating_seq += 1
        good = rnd() < 0.8
        comments = RATING_COMMENTS[t.lang]
        comment = comments[int(rnd() * len(comments))]
        if comment is not None and (comment == comments[0]) != good:
            comment = None
        if r % 2 == 0:
            scale, score = "good_bad", "good" if good else "bad"
        else:
            scale, score = "1-5", (4 + int(rnd() * 2)) if good else (1 + int(rnd() * 3))
        return {"id": str(r + 1), "ticket_id": t.tid, "score": score, "scale": scale, "comment": comment,
                "contact_id": t.req_id, "created_at": t.ts(t.rating), "updated_at": t.ts(t.rating)}

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



class _Ticket(SimpleNamespace):
    """What the steps of `_Sample.ticket` decide about one ticket."""

    def ts(self, epoch: int) -> str:
        return _ts(epoch, self.t_off, self.suffix, (epoch * 7 + self.i) % 1000 if self.with_ms else -1)


def _ticket_fields(t: _Ticket) -> dict:
    """The ticket's custom field values (no random draws: a hash of the ticket decides)."""
    h, v, topic, created = t.h, t.v, t.topic, t.created
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
        cf["refund_amount"] = round(t.amount_val, 2)
    if topic in ("login", "order", "invoice") and (h >> 16) % 2:
        cf["affected_systems"] = [s for j, s in enumerate(("webshop", "app", "payment", "erp", "carrier"))
                                  if (h >> (18 + j)) % 3 == 0] or ["webshop"]
    if (h >> 24) % 5 == 0:
        cf["internal_summary"] = "Kunde verärgert.\nBitte bei Rückfragen an Teamleitung."
    return cf


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
