#!/usr/bin/env bash
# Checks the artefacts scripts/dist.sh built into $DIST_DIR (default dist/):
#   - the Linux binary is statically linked (`file`), so it runs on CentOS 6/7 whatever the glibc;
#   - the .exe imports nothing Windows Server 2008 R2 / 2012 R2 lack (bcryptprimitives.dll,
#     api-ms-win-core-synch-*, Windows 8+ functions), no MinGW runtime DLL, and its PE header
#     asks for no Windows newer than 6.1 (`x86_64-w64-mingw32-objdump -p`);
#   - every .sha256 matches (`sha256sum -c`);
#   - the .deb (`dpkg-deb -I/-c`, then installed for real with dpkg, run, removed), the .rpm
#     (`rpm -qip/-qlp`, `rpm2cpio`, payload gzip and file digests rpm 4.8 of CentOS 6 reads,
#     only rpmlib requirements rpm 4.8 provides, installed into a scratch root with
#     `rpm --root` and run there) and the Windows .zip (`unzip -l`): each holds the binary, the
#     manual pages, bash/zsh completions, and no cron entry.
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

# --- packages ---------------------------------------------------------------------------------
# What every Linux package must install.
expected_files=(
    /usr/bin/drx-collect
    /usr/share/man/man1/drx-collect.1.gz
    /usr/share/man/man1/drx-collect-inspect.1.gz
    /usr/share/man/man1/drx-collect-collect.1.gz
    /usr/share/bash-completion/completions/drx-collect
)
check_listing() { # package-name listing zsh-path
    local name=$1 listing=$2 zsh=$3 path
    for path in "${expected_files[@]}" "$zsh"; do
        if ! printf '%s\n' "$listing" | grep -qxF "$path"; then
            fail "$name does not install $path"
        fi
    done
    if printf '%s\n' "$listing" | grep -q '^/etc/cron'; then
        fail "$name installs a cron entry; only 'drx-collect schedule install' may"
    fi
}

need_tool() { # command package
    command -v "$1" >/dev/null 2>&1 || fail "$1 is missing; install the Debian package $2"
}
if [ "$check_linux" = 1 ]; then
    need_tool dpkg-deb dpkg
    need_tool rpm rpm
    need_tool rpm2cpio rpm2cpio
    need_tool cpio cpio
    need_tool man man-db
fi
[ "$check_windows" = 1 ] && need_tool unzip unzip

if [ "$check_linux" = 1 ]; then
    deb="$dist_dir/drx-collect_${version}_amd64.deb"
    if [ ! -f "$deb" ]; then
        fail "$deb is missing; run scripts/dist.sh linux"
    else
        check_sum "$deb"
        info=$(dpkg-deb -I "$deb")
        for field in "Package: drx-collect" "Version: $version" "Architecture: amd64"; do
            printf '%s\n' "$info" | grep -qF " $field" || fail "$(basename "$deb") control lacks '$field'"
        done
        # dpkg-deb -c prints "./usr/bin/drx-collect" in its last column.
        listing=$(dpkg-deb -c "$deb" | awk '{ print $NF }' | sed 's|^\.||' | grep -v '/$') || true
        check_listing "$(basename "$deb")" "$listing" /usr/share/zsh/vendor-completions/_drx-collect
        # Installed for real: the binary runs, man finds the page, removal leaves nothing.
        if dpkg -i "$deb" >/dev/null; then
            if /usr/bin/drx-collect --version | grep -qF "$version"; then
                ok "$(basename "$deb") installs; drx-collect --version runs"
            else
                fail "the installed /usr/bin/drx-collect does not print version $version"
            fi
            if man -w drx-collect 2>/dev/null | grep -q '/usr/share/man/man1/drx-collect.1.gz'; then
                ok "man -w drx-collect finds the installed page"
            else
                fail "man does not find drx-collect(1) after installing $(basename "$deb")"
            fi
            dpkg -P drx-collect >/dev/null || fail "dpkg -P drx-collect failed"
            [ ! -e /usr/bin/drx-collect ] || fail "/usr/bin/drx-collect is left after dpkg -P"
        else
            fail "dpkg -i $deb failed"
        fi
    fi

    rpm_file="$dist_dir/drx-collect-$version-1.x86_64.rpm"
    if [ ! -f "$rpm_file" ]; then
        fail "$rpm_file is missing; run scripts/dist.sh linux"
    else
        check_sum "$rpm_file"
        rpm -qip "$rpm_file" | grep -q "^Name *: drx-collect" || fail "rpm -qip: not named drx-collect"
        listing=$(rpm -qlp "$rpm_file") || true
        check_listing "$(basename "$rpm_file")" "$listing" /usr/share/zsh/site-functions/_drx-collect
        # CentOS 6 (rpm 4.8): gzip payload, MD5 (1) or SHA-256 (8) file digests.
        format=$(rpm -qp --qf '%{PAYLOADCOMPRESSOR} %{FILEDIGESTALGO}\n' "$rpm_file")
        case "$format" in
        "gzip 8" | "gzip 1" | "gzip (none)") ok "$(basename "$rpm_file"): payload and digests rpm 4.8 reads ($format)" ;;
        *) fail "$(basename "$rpm_file") has payload/file digest '$format'; CentOS 6 needs gzip and sha256 or md5" ;;
        esac
        # Only the rpmlib features rpm 4.8 provides (rpm --showrc of CentOS 6.10).
        while read -r requirement; do
            case "$requirement" in
            "rpmlib(CompressedFileNames) <= 3.0.4-1" | "rpmlib(FileDigests) <= 4.6.0-1" | \
                "rpmlib(PayloadFilesHavePrefix) <= 4.0-1" | "rpmlib(PayloadIsGzip) <= 4.0-1") ;;
            "") ;;
            *) fail "$(basename "$rpm_file") requires '$requirement', which CentOS 6/7 may not provide" ;;
            esac
        done < <(rpm -qpR "$rpm_file")
        cpio_listing=$(rpm2cpio "$rpm_file" | cpio -it --quiet 2>/dev/null | sed 's|^\.||') || true
        printf '%s\n' "$cpio_listing" | grep -qxF /usr/bin/drx-collect ||
            fail "rpm2cpio: the payload of $(basename "$rpm_file") lacks /usr/bin/drx-collect"
        scratch=$(mktemp -d)
        if rpm --root "$scratch" --initdb &&
            rpm --root "$scratch" -i --nodeps --noscripts "$(cd "$(dirname "$rpm_file")" && pwd)/$(basename "$rpm_file")"; then
            if "$scratch/usr/bin/drx-collect" --version | grep -qF "$version" &&
                rpm --root "$scratch" -V drx-collect; then
                ok "$(basename "$rpm_file") installs into a scratch root, verifies (rpm -V) and runs"
            else
                fail "$(basename "$rpm_file") installed into $scratch does not run or verify"
            fi
        else
            fail "rpm --root $scratch -i $(basename "$rpm_file") failed"
        fi
        rm -rf "$scratch"
    fi
fi

if [ "$check_windows" = 1 ]; then
    zip_file="$dist_dir/drx-collect-$version-x86_64-windows.zip"
    if [ ! -f "$zip_file" ]; then
        fail "$zip_file is missing; run scripts/dist.sh windows"
    else
        check_sum "$zip_file"
        zip_listing=$(unzip -Z1 "$zip_file")
        for entry in drx-collect.exe README.txt LICENSE-MIT.txt LICENSE-APACHE.txt; do
            printf '%s\n' "$zip_listing" | grep -qx "drx-collect-$version-x86_64-windows/$entry" ||
                fail "$(basename "$zip_file") lacks $entry"
        done
        if cmp -s <(unzip -p "$zip_file" "drx-collect-$version-x86_64-windows/drx-collect.exe") \
            "$dist_dir/drx-collect-$version-x86_64-windows.exe"; then
            ok "$(basename "$zip_file") holds the checked .exe, README and licences"
        else
            fail "the .exe in $(basename "$zip_file") is not the one checked above"
        fi
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
