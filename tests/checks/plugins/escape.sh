#!/bin/sh
# A plugin that leaves a child behind in a new session, holding its stdout and stderr open,
# then answers OK at once (a daemonising helper, a badly written wrapper).
setsid sleep 30 &
echo "OK - escaped child left behind | time=0.01s"
exit 0
