#!/bin/sh
echo "OK - LANG=$LANG VIGIA_SECRET=${VIGIA_SECRET:-unset} EXTRA=${EXTRA:-unset}"
exit 0
