#!/bin/sh
# Hangs, with a child of its own: a timeout must kill both. $1: file to write the child's pid to.
sleep 60 &
echo $! > "$1"
echo "still working"
sleep 60
