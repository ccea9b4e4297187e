"""Keeping data lawfully: how long an ended instance's personal data is kept
(rules), the purge that removes it after that (purge), erasure of a data
subject's data now (erasure), legal holds that stop both (holds), and the
keyed digest that finds a subject's instances without keeping the value
(subjects). What is removed from an instance is one function for the purge
and erasure alike (removal). docs/security.md "What is kept" says it all.
"""
