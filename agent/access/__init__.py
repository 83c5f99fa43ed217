"""Who is asking: bearer tokens with roles, and the failed attempts counted per client.

Neutral ground for the API, the console and the status page: none of them owns it, so the
console can check a session's role without importing the API's handlers.
"""
