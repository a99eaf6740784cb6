from sensors.staleness import fingerprint, status_changes


def test_only_partitions_whose_state_or_reasons_changed_are_reported_again():
    first = {"a/d=1": ("live", ()), "b/d=1": ("stale", ("input a/d=1 changed",))}
    assert status_changes({}, first) == first
    cursor = {r: fingerprint(st) for r, st in first.items()}
    assert status_changes(cursor, first) == {}
    later = {**first, "a/d=1": ("tainted", ("tainted: bad",))}
    assert status_changes(cursor, later) == {"a/d=1": ("tainted", ("tainted: bad",))}
