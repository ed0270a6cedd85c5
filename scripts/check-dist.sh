#!/usr/bin/env bash
# Checks the artefacts scripts/dist.sh built into $DIST_DIR (default dist/):
#   - the Linux binary is statically linked (`file`), so it runs on CentOS 6/7 whatever the glibc;
#   - the .exe imports nothing Windows Server 2008 R2 / 2012 R2 lack (bcryptprimitives.dll,
#     api-ms-win-core-synch-*, Windows 8+ functions), no MinGW runtime DLL, and its PE header
#     asks for no Windows newer than 6.1 (`x86_64-w64-mingw32-objdump -p`);
#   - every .sha256 matches (`sha256sum -c`).
# Usage: scripts/check-dist.sh [linux] [windows]     (default: both). Fails loudly, exit 1.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
dist_dir=${DIST_DIR:-dist}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)

check_linux=0
check_windows=0
[ $# -eq 0 ] && check_linux=1 && check_windows=1
for arg in "$@"; do
    case "$arg" in
    linux) check_linux=1 ;;
    windows) check_windows=1 ;;
    *)
        echo "check-dist.sh: unknown argument '$arg'; use linux and/or windows" >&2
        exit 2
        ;;
    esac
done

failures=0
fail() {
    echo "check-dist.sh: FAIL: $*" >&2
    failures=$((failures + 1))
}
ok() { echo "check-dist.sh: ok: $*"; }

check_sum() { # file
    local name
    name=$(basename "$1")
    if [ ! -f "$1.sha256" ]; then
        fail "$name has no $name.sha256 beside it"
    elif (cd "$(dirname "$1")" && sha256sum -c --strict --quiet "$name.sha256"); then
        ok "$name.sha256 matches"
    else
        fail "$name does not match $name.sha256"
    fi
}

if [ "$check_linux" = 1 ]; then
    linux="$dist_dir/drx-collect-$version-x86_64-linux"
    if [ ! -f "$linux" ]; then
        fail "$linux is missing; run scripts/dist.sh linux"
    else
        description=$(file -b "$linux")
        case "$description" in
        *"statically linked"* | *"static-pie linked"*) ok "$(basename "$linux"): $description" ;;
        *) fail "$linux is not statically linked: $description" ;;
        esac
        case "$description" in
        *x86-64*) ;;
        *) fail "$linux is not an x86-64 binary: $description" ;;
        esac
        check_sum "$linux"
    fi
fi

if [ "$check_windows" = 1 ]; then
    exe="$dist_dir/drx-collect-$version-x86_64-windows.exe"
    objdump=x86_64-w64-mingw32-objdump
    if [ ! -f "$exe" ]; then
        fail "$exe is missing; run scripts/dist.sh windows"
    elif ! command -v "$objdump" >/dev/null 2>&1; then
        fail "$objdump is missing; install binutils-mingw-w64-x86-64 (scripts/dist.sh does)"
    else
        failures_before=$failures
        headers=$("$objdump" -p "$exe")
        dlls=$(printf '%s\n' "$headers" | sed -n 's/^[[:space:]]*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
        # Imported functions: the lines of an import table are "vma hint name".
        functions=$(printf '%s\n' "$headers" | sed -n '/DLL Name:/,/^$/p' |
            awk 'NF == 3 && $1 ~ /^[0-9a-f]+$/ && $2 ~ /^[0-9]+$/ { print $3 }' | sort -u)
        if [ -z "$dlls" ] || [ -z "$functions" ]; then
            fail "could not read the import table of $exe"
        fi
        for dll in $dlls; do
            case "$dll" in
            bcryptprimitives.dll | api-ms-win-core-synch-*)
                fail "$exe imports $dll, which Windows Server 2008 R2 / 2012 R2 lack" ;;
            api-ms-win-*)
                fail "$exe imports the API set $dll (Windows 8+)" ;;
            libgcc_s_*.dll | libwinpthread*.dll | libstdc++*.dll)
                fail "$exe needs the MinGW runtime $dll; link it statically (+crt-static)" ;;
            kernel32.dll | advapi32.dll | ntdll.dll | msvcrt.dll | ws2_32.dll | userenv.dll | \
                bcrypt.dll | secur32.dll | shell32.dll | ole32.dll) ;;
            *) fail "$exe imports $dll, which is not on the list of DLLs known on 2008 R2" ;;
            esac
        done
        # Functions added after Windows 7 / Server 2008 R2 that std or crates may import.
        for newer in ProcessPrng WaitOnAddress WakeByAddressSingle WakeByAddressAll \
            GetSystemTimePreciseAsFileTime CreateFile2 GetCurrentThreadStackLimits \
            SetThreadDescription GetThreadDescription; do
            if printf '%s\n' "$functions" | grep -qx "$newer"; then
                fail "$exe imports $newer, which Windows Server 2008 R2 lacks"
            fi
        done
        # The PE header names the oldest Windows that may load the file.
        for field in MajorOSystemVersion MajorSubsystemVersion; do
            value=$(printf '%s\n' "$headers" | awk -v f="$field" '$1 == f { print $2 }')
            if [ -z "$value" ] || [ "$value" -gt 6 ]; then
                fail "$exe has $field '${value:-none}'; Windows 7 / 2008 R2 need 6 or less"
            fi
        done
        if [ "$failures" = "$failures_before" ]; then
            ok "$(basename "$exe") imports only from: $(echo $dlls)"
        fi
        check_sum "$exe"
    fi
fi

# Reproducible builds carry no path of the build machine (dist.sh remaps them).
if ! command -v strings >/dev/null 2>&1; then
    fail "strings is missing; install binutils"
fi
leaks() { # file
    command -v strings >/dev/null 2>&1 || return 0
    strings "$1" | grep -E -m 3 -e "$repo" -e '/\.rustup/' -e '/\.cargo/' || true
}
for built in "$dist_dir/drx-collect-$version-x86_64-linux" "$dist_dir/drx-collect-$version-x86_64-windows.exe"; do
    case "$built" in
    *.exe) [ "$check_windows" = 1 ] || continue ;;
    *) [ "$check_linux" = 1 ] || continue ;;
    esac
    [ -f "$built" ] || continue
    found=$(leaks "$built")
    if [ -n "$found" ]; then
        fail "$(basename "$built") contains build-machine paths (not remapped): $(echo $found)"
    else
        ok "$(basename "$built") contains no build-machine paths"
    fi
done

if [ "$failures" != 0 ]; then
    echo "check-dist.sh: $failures check(s) failed" >&2
    exit 1
fi
echo "check-dist.sh: all checks passed"
