#!/bin/sh
echo "UNKNOWN - cannot read /proc/foo"
exit 3
