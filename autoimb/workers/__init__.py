"""Workers on a study that ``fit`` made, and the export of its model.

``worker`` (``autoimb worker``, and the worker processes of a search) joins a
study and runs its trials with the search core; ``export``
(``autoimb export``) builds the final model of a study as ``fit`` does. They
sit above the estimator and the search core, and import both.
"""
