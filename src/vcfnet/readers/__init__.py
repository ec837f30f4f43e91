"""The human-AI reader study (docs/READERS.md).

``reads``      the reads table: the contract between reading, import/export, simulated readers and the analysis
``design``     crossover / sequential, washout, seeded per-reader case orders, which case is open now
``db``         the tables (SQLAlchemy Core) and the engine (SQLite WAL by default, PostgreSQL by URL)
``audit``      the append-only, hash-chained event log
``store``      the record: readers, orders, locked reads, corrections, each an audited event
``importing``  reads CSVs from elsewhere, all or nothing
``verify``     ``vcfnet readers verify``: is every row as its event recorded it?
``media``      the pictures and the aided material, prepared once through the service's Predictor path
``manage``     create, add readers, status, export (what the commands call)
``app``, ``pages``, ``webstate``   the reading app (``vcfnet readers serve``)
``analysis``, ``metrics``, ``simulate``   the statistics and the demo's simulated readers
"""
