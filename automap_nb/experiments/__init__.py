"""The chapters' experiments that are more than one call: undersampling (06), architecture (07),
stability (08), transfer (09). Their figures are in :mod:`automap_nb.figures`."""
