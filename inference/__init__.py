"""The code the inference app runs: an OpenAI-compatible server with a chat UI, and adapter merging.

Entry point: `python -m inference serve|merge` (see `inference.cli`); programmatic use:
`inference.app.create_app(settings, engine=None)` and `inference.serve.ServerThread`.
"""
