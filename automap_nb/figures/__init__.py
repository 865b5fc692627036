"""The book's figures by subject (style, mri, learning, weights, reconstruction, robustness; map in
CONTRIBUTING.md). Each function returns a matplotlib Figure; no module here imports Keras."""
