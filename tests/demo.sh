#!/bin/sh
# make demo: the whole job end to end on the sample agreements.
set -e
BUILD=${BUILD:-build}
echo "shanhai demo: nothing to run yet beyond the build ($BUILD/shanhaid, $BUILD/shanhai)"
"$BUILD"/shanhai version
