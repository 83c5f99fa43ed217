"""The public status page at /status and its Atom feed (off unless `status_page.enabled`).

Only services marked `public: true` appear, and only what `agent.status.view` copies out of
the agent's records: a public name, a state, daily availability, the times of incidents and
maintenance, and what operators wrote for the public (`agent.status.messages`).
"""
