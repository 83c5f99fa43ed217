#!/bin/sh
# Far more output than the probe keeps: it must not block on a full pipe.
echo "OK - big | n=1"
head -c 1000000 /dev/zero | tr '\0' 'x'
exit 0
