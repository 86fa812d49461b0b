"""Where studies live: journal files, SQLite and PostgreSQL.

``studies`` parses a storage location, opens it (journal files repaired after a
crash, databases with heartbeats and retries), creates or joins a study and
tags it with its data's fingerprint, and fails the trials of workers that died;
``shutdown`` stops a search cleanly on SIGTERM and at a deadline without
cutting a write to the storage. It imports only the base modules.
"""
