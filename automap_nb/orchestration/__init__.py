"""Running the collection: the ``automap-nb`` command, profiles, notebook parameters, papermill runs
and the book build."""
