"""What the API and the console do alike: read the live state, act on it (audited), map records
to views. Operations raise the domain errors of `agent.operations.errors`; the API turns them
into HTTP answers in one handler (agent/api/errors.py), the console into its pages.

Nothing here imports `agent.api` or `agent.console`: both stand on this layer.
"""
