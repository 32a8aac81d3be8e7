"""The fuzz harness (issue 9): mutated catalogs, settlements, shipment and tracking files through
the ``marketd process`` code path. ``make fuzz`` runs the long campaign, the test suite a small
budget (tests/fuzz/test_fuzz.py)."""
