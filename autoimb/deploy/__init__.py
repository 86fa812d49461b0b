"""Using a fitted model: export and load, monitoring, prior shift, data files.

``export`` writes and reads model files (joblib or skops, with a checksum and
metadata), ``monitor`` watches the scores and the positive rate of new data,
``prior_shift`` adapts probabilities to a new positive rate, ``io`` reads data
files. They import ``autoimb.pipeline`` and the base modules, not the search.
"""
