"""The engine's cache of written records' target ids stays bounded however long the run."""

from __future__ import annotations

from hdmigrate.engine.common import WrittenIds


def test_tickets_beyond_the_bound_forget_the_oldest_first():
    ids = WrittenIds(most=10, tickets=3)
    for n in range(5):
        ids.remember("ticket", str(n), f"t{n}")
    assert [ids.get(("ticket", str(n))) for n in range(5)] == [None, None, "t2", "t3", "t4"]
    assert ("ticket", "4") in ids and ("ticket", "0") not in ids and len(ids) == 3
    ids.remember("ticket", "2", "t2")            # written again: the newest now
    ids.remember("ticket", "5", "t5")
    assert ("ticket", "2") in ids and ("ticket", "3") not in ids


def test_people_and_groups_are_kept_apart_from_tickets_and_bounded():
    ids = WrittenIds(most=2, tickets=100)
    ids.remember("contact", "1", "c1")
    ids.remember("group", "1", "g1")
    for n in range(50):
        ids.remember("ticket", str(n), f"t{n}")
    assert ids.get(("contact", "1")) == "c1" and ids.get(("group", "1")) == "g1"
    assert ids.get(("ticket", "1")) == "t1" and ids.get(("agent", "1")) is None
    ids.remember("agent", "9", "a9")             # over the bound: the oldest is forgotten
    assert ids.get(("agent", "9")) == "a9" and ids.get(("contact", "1")) is None
    assert ids.get(("group", "1")) == "g1"
    assert len(ids) == 52


def test_a_reference_found_in_the_id_map_is_remembered_for_the_next_ticket():
    # Readiness looked a person up in the id map on every comment by them once the cache had
    # forgotten them (at 80,000 tickets, 20,000 contacts): found there, it is remembered again.
    from hdmigrate.engine.flow import FlowStep

    class Store:
        asked = 0

        def id_entry(self, kind, sid):
            Store.asked += 1
            return {"state": "done", "target_id": f"T{sid}"} if kind == "contact" else None

    class Engine(FlowStep):
        dry_run = False
        _dry_failed: set = set()

        def __init__(self):
            self.store, self._done = Store(), WrittenIds(most=2, tickets=2)

        def _remember(self, kind, id, target_id):
            self._done.remember(kind, id, target_id)

    engine = Engine()
    assert engine._ref_ready(("contact", "agent"), "c7")
    assert Store.asked == 1 and engine._done.get(("contact", "c7")) == "Tc7"
    for _ in range(5):
        assert engine._ref_ready(("contact", "agent"), "c7")
    assert Store.asked == 1
