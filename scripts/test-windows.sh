#!/usr/bin/env bash
# The Windows end-to-end test: builds the .exe (scripts/dist.sh windows), checks its imports
# (scripts/check-dist.sh windows), installs Debian's wine64 when missing, and runs the .exe under
# wine against the Windows fixture sysroot (tests/e2e/windows.rs, the #[ignore]d wine test):
# a zip that unzip -t and sha256sum -c accept, with the installer-log and BOM findings.
# Never skips: a missing tool is installed, or the script fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

export DIST_DIR=${DIST_DIR:-$repo/target/dist-test}
wine=/usr/lib/wine/wine64

if [ ! -x "$wine" ] || ! command -v unzip >/dev/null 2>&1; then
    echo "test-windows.sh: installing wine64 and unzip" >&2
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        wine64 unzip
fi
if [ ! -x "$wine" ]; then
    echo "test-windows.sh: $wine is still missing after installing wine64; check the apt output" >&2
    exit 1
fi

scripts/dist.sh windows
scripts/check-dist.sh windows

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
export DRX_COLLECT_EXE="$DIST_DIR/drx-collect-$version-x86_64-windows.exe"
# A wine prefix of our own, created once and reused (creating one takes a while).
export WINEPREFIX=${WINEPREFIX:-$repo/target/wine-prefix}
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    echo "test-windows.sh: creating the wine prefix $WINEPREFIX" >&2
    WINEDEBUG=-all "$wine" cmd /c exit >/dev/null 2>&1 || true
fi
WINEDEBUG=-all "$wine" "$DRX_COLLECT_EXE" --version

# Every #[ignore]d test of tests/e2e/windows.rs whose name starts with the_exe_under_wine.
cargo test --locked --test e2e -- --ignored windows::the_exe_under_wine
