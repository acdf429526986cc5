"""The kit for writing an adapter: the HTTP client (`http.py`), device naming (`naming.py`), the
render memo (`memo.py`) and shared configuration blocks (`config.py`). The contract an adapter
implements (`Adapter`, `ApplyResult`, the error taxonomy) is the core's: `connector.adapter`."""
