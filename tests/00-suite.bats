#!/usr/bin/env bats
# 00-suite: promises that hold for the suite as a whole.

load helper

@test "suite: every program in bin/ has a man page and a bats suite" {
    local missing=""
    for src in "$TFS_ROOT"/bin/*.c; do
        [ -e "$src" ] || continue
        p=$(basename "$src" .c)
        [ -f "$TFS_ROOT/man/$p.1" ] || missing="$missing man/$p.1"
        ls "$TFS_ROOT"/tests/[0-9][0-9]-"$p".bats >/dev/null 2>&1 || missing="$missing tests/NN-$p.bats"
        [ -x "$TFS_BUILD/bin/$p" ] || missing="$missing $TFS_BUILD/bin/$p"
    done
    [ -z "$missing" ] || { echo "missing:$missing" >&2; false; }
}

@test "suite: man pages pass groff -man -ww" {
    for m in "$TFS_ROOT"/man/*.[157]; do
        run groff -man -ww -z "$m"
        [ "$status" -eq 0 ] && [ -z "$output" ] || { echo "$m: $output" >&2; false; }
    done
}

@test "suite: every SEE ALSO reference names a page that exists" {
    for m in "$TFS_ROOT"/man/*.[157]; do
        for ref in $(sed -n '/^\.SH "\{0,1\}SEE ALSO/,/^\.SH/p' "$m" | grep -oE '(tfs|hf-fetch|bpe-train|bpe-encode|tok-stats|tfs-train|tfs-eval|tfs-tokens)[-a-z]* *\\?\(?[157]' | tr -d ' \\('); do
            page=${ref%[157]}; sec=${ref#"$page"}
            [ -f "$TFS_ROOT/man/$page.$sec" ] || { echo "$m refers to missing $page($sec)" >&2; false; }
        done
    done
}

@test "suite: the default data decompresses to JSONL with a text field" {
    for f in "$TFS_ROOT"/assets/stories-train.jsonl.zst "$TFS_ROOT"/assets/stories-val.jsonl.zst; do
        [ -f "$f" ] || { echo "missing $f" >&2; false; }
        run bash -c "zstd -dc '$f' | head -3"
        [ "$status" -eq 0 ]
        [[ ${lines[0]} == '{"text": '* ]]
    done
}

@test "suite: the default data regenerates byte for byte from its generator" {
    run "$TFS_ROOT/assets/check-stories.sh"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
}

@test "suite: make install and make uninstall honour DESTDIR and PREFIX" {
    local d="$BATS_TEST_TMPDIR/root"
    run make -C "$TFS_ROOT" --no-print-directory -s install DESTDIR="$d" PREFIX=/opt/tfs BUILD="$TFS_BUILD"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    [ -f "$d/opt/tfs/share/man/man7/tfs.7" ]
    [ -f "$d/opt/tfs/share/man/man5/tfs-tokens.5" ]
    [ -f "$d/opt/tfs/share/tfs/stories-val.jsonl.zst" ]
    for src in "$TFS_ROOT"/bin/*.c; do
        [ -e "$src" ] || continue
        [ -x "$d/opt/tfs/bin/$(basename "$src" .c)" ]
    done
    run make -C "$TFS_ROOT" --no-print-directory -s uninstall DESTDIR="$d" PREFIX=/opt/tfs BUILD="$TFS_BUILD"
    [ "$status" -eq 0 ]
    [ -z "$(find "$d" -type f)" ]
}

@test "suite: make help lists the documented targets" {
    run make -C "$TFS_ROOT" --no-print-directory help
    [ "$status" -eq 0 ]
    for t in all check check-unit check-asan bench demo deps install uninstall clean help; do
        [[ $output == *"$t:"* ]] || { echo "make help lacks $t" >&2; false; }
    done
}

@test "suite: make CFLAGS=... and CPPFLAGS=... keep the flags the build needs" {
    local b="$BATS_TEST_TMPDIR/build"
    run make -C "$TFS_ROOT" --no-print-directory -n BUILD="$b" CFLAGS=-O3 CPPFLAGS=-DTFS_TEST_FLAG "$b/lib/core/xio.o"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    local line; line=$(grep -- ' -c -o ' <<< "$output")
    for f in -O3 -DTFS_TEST_FLAG -Ilib -std=c11 -Werror -Wall -Wextra -fopenmp; do
        [[ " $line " == *" $f "* ]] || { echo "compile line lacks $f: $line" >&2; false; }
    done
    [[ " $line " != *" -O2 "* ]] || { echo "CFLAGS did not replace -O2: $line" >&2; false; }
    run make -C "$TFS_ROOT" --no-print-directory -n -B BUILD="$b" LDFLAGS=-Wl,-O1 LDLIBS=-lrt "$b/bin/tok-stats"
    line=$(grep -- "-o $b/bin/tok-stats " <<< "$output")
    for f in -Wl,-O1 -lrt -fopenmp -lcurl -lm; do
        [[ " $line " == *" $f "* ]] || { echo "link line lacks $f: $line" >&2; false; }
    done
}

@test "suite: tests/deps names the packages of each job; an unknown job is a usage error" {
    run "$TFS_ROOT/tests/deps" --help
    [ "$status" -eq 0 ]
    [[ $output == *"tests/deps demo"* ]]
    run "$TFS_ROOT/tests/deps" nosuchjob
    [ "$status" -eq 2 ]
    [[ $output == *"unknown job 'nosuchjob'"* ]]
    # every job's list includes the build's; the demo's is short
    grep -q '^DEMO="\$BUILD ' "$TFS_ROOT/tests/deps"
    grep -q '^CHECK="\$DEMO ' "$TFS_ROOT/tests/deps"
    grep -q '^BENCH="\$CHECK ' "$TFS_ROOT/tests/deps"
    ! grep -q '^DEMO=.*torch' "$TFS_ROOT/tests/deps" || false
}

@test "suite: lib/'s folders include downward only (tfs(7), WHERE THE CODE LIVES)" {
    run "$TFS_ROOT/tests/tools/include-floors"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    # the check itself: an upward, a sideways and a folderless include fail
    local r="$BATS_TEST_TMPDIR/tree"
    mkdir -p "$r/lib/core" "$r/lib/tok" "$r/lib/parquet" "$r/bin"
    printf '#include "core/xio.h"\n#include <stdio.h>\n' > "$r/lib/tok/a.c"
    run "$TFS_ROOT/tests/tools/include-floors" "$r"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    printf '#include "core/xio.h"\n#include "tok/a.h"\n' > "$r/lib/core/b.c"
    printf '#include "parquet/p.h"\n' > "$r/lib/tok/c.c"
    printf '#include "xio.h"\n' > "$r/bin/d.c"
    run "$TFS_ROOT/tests/tools/include-floors" "$r"
    [ "$status" -eq 1 ]
    [[ $output == *"lib/core/b.c:2: core (floor 1) includes tok/a.h (floor 2): upward or sideways"* ]]
    [[ $output == *"lib/tok/c.c:1: tok (floor 2) includes parquet/p.h (floor 2): upward or sideways"* ]]
    [[ $output == *"bin/d.c:1: includes \"xio.h\" without its folder"* ]]
    mkdir "$r/lib/newthing"
    run "$TFS_ROOT/tests/tools/include-floors" "$r"
    [ "$status" -eq 1 ]
    [[ $output == *"lib/newthing: a folder without a floor"* ]]
}

@test "suite: no file of lib/ over 700 lines, no function over 120" {
    run "$TFS_ROOT/tests/tools/size-limits"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    local r="$BATS_TEST_TMPDIR/tree"
    mkdir -p "$r/lib/core" "$r/bin"
    { echo 'static int f(void)'; echo '{'; for i in $(seq 118); do echo "    x$i();"; done; echo '}'; } > "$r/lib/core/ok.c"
    run "$TFS_ROOT/tests/tools/size-limits" "$r"
    [ "$status" -eq 0 ] || { echo "$output" >&2; false; }
    { echo 'int long_one(int a,'; echo '             int b)'; echo '{'; for i in $(seq 120); do echo "    y$i();"; done; echo '}'; } > "$r/bin/long.c"
    run "$TFS_ROOT/tests/tools/size-limits" "$r"
    [ "$status" -eq 1 ]
    [ "$output" = "bin/long.c:3: long_one is 122 lines (more than 120): split it into named steps" ]
    rm "$r/bin/long.c"
    for i in $(seq 701); do echo "int v$i;"; done > "$r/lib/core/big.h"
    run "$TFS_ROOT/tests/tools/size-limits" "$r"
    [ "$status" -eq 1 ]
    [ "$output" = "lib/core/big.h: 701 lines (more than 700): split it along its subjects" ]
}
