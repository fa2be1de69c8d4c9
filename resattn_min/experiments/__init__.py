"""The paper's experiments by name (``catalog``), run several at once (``reproduce``), and the full-length
runs across GPU sessions (``campaign``)."""
