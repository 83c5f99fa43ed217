#!/bin/sh
echo "check_thing: connection refused" >&2
exit 2
