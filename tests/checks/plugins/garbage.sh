#!/bin/sh
echo "OK - fine | this is not=perf 'unterminated=3 x==; =5 a=U b=1.2.3 good=4s;;; c=;;"
exit 0
