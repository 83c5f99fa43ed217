#!/bin/sh
# Leaves a child behind in a new session, then hangs past any timeout itself.
setsid sleep 30 &
echo "starting"
sleep 30
