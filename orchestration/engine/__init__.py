"""The engine: a pure core (core.py) and the adapters around it (runtime, worker, jobs).

core.py knows nothing of Django, the database, the queue or the clock: it maps
(definition, snapshot, event, now) to (new snapshot, effects). runtime.py
persists a transition and its effects in one transaction; worker.py runs
automated steps outside any lock and reports back through runtime.py.
"""
