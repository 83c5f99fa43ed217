#!/bin/sh
# WARNING with perfdata on the first line and more in the long text.
echo "DISK WARNING - free space: / 812 MB (9%) | '/ free'=812MB;1000;500;0;9000 time=12ms;;;"
echo "long text: / is nearly full"
echo "details follow | 'load avg'=0.5;;"
echo "inodes=91%;80;90"
exit 1
