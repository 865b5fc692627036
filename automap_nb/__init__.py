"""automap_nb: the helper package of the AUTOMAP notebook collection.

Read it in the order the data flows: ``data`` (fastMRI files → prepared file → training batches),
``models``, ``training``, ``evaluate`` and ``baselines``, ``experiments`` (chapters 06-09), ``figures``;
``orchestration`` runs the notebooks and builds the book. CONTRIBUTING.md has the map, module by module.
"""

__version__ = "0.1.0"
