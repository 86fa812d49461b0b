"""Where studies live: journal files, SQLite and PostgreSQL.

``location`` parses a storage location (None, ``"memory"``, a journal file, a
database URL, a storage object) and opens it as an Optuna storage, with
``journal`` (journal files, the default, repaired when a crash cut their last
record short) or ``databases`` (heartbeats, and every call retried through a
restart of the server); ``studies`` creates or joins a study, tags it with its
data's fingerprint and settings, and fails the trials of workers that died;
``shutdown`` stops a search cleanly on SIGTERM and at a deadline without
cutting a write to the storage. It may import only the base modules
(``autoimb.exceptions``, ``autoimb._optuna_compat``, ``autoimb._warnings``).
"""
