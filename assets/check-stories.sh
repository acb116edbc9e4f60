#!/bin/sh
# check-stories.sh - regenerate the default dataset and compare it with the
# committed copies, so a change to storygen.py that alters its output is
# caught.  Exit 0 if both files match byte for byte, 1 if not (or if a tool
# is missing).  The commands here must stay the ones in assets/README.md.
#
# usage: assets/check-stories.sh       (from any directory)
#        PYTHON=python3.12 assets/check-stories.sh

set -u
prog=check-stories.sh
dir=$(dirname "$0")
python=${PYTHON:-python3}

for tool in "$python" zstd sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "$prog: $tool not found" >&2
		exit 1
	}
done

status=0
# name      seed  docs
check() {
	name=$1 seed=$2 docs=$3
	zst=$dir/stories-$name.jsonl.zst
	[ -r "$zst" ] || { echo "$prog: $zst: not readable" >&2; status=1; return; }
	want=$(zstd -dc "$zst" | sha256sum | cut -d' ' -f1)
	got=$("$python" "$dir/storygen.py" --seed "$seed" --docs "$docs" | sha256sum | cut -d' ' -f1)
	if [ "$want" = "$got" ]; then
		echo "$prog: ok   $name (seed $seed, $docs docs) sha256 $got"
	else
		echo "$prog: FAIL $name (seed $seed, $docs docs): committed $want, regenerated $got" >&2
		status=1
	fi
}

check train 1 11000
check val   2 500
exit $status
