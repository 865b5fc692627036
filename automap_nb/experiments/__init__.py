"""The chapters' experiments that are more than one call: stability (08), transfer (09)."""
