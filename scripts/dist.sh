#!/usr/bin/env bash
# Builds the release artefacts into $DIST_DIR (default dist/):
#   drx-collect-<version>-x86_64-linux        static musl binary (CentOS 6/7, any glibc)
#   drx-collect-<version>-x86_64-windows.exe  Windows 7 / Server 2008 R2 and newer
# each with a .sha256 beside it (sha256sum format). Installs the rustup targets, the nightly
# rust-src component and the Debian packages it needs (idempotent).
#
# Usage: scripts/dist.sh [linux] [windows]     (default: both)
#
# The Windows build uses the tier-3 target x86_64-win7-windows-gnu with nightly and -Z build-std:
# the stable x86_64-pc-windows-gnu std imports ProcessPrng (bcryptprimitives.dll) and other
# functions that Windows Server 2008 R2 / 2012 R2 do not have, so its .exe does not start there.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

dist_dir=${DIST_DIR:-dist}
linux_target=x86_64-unknown-linux-musl
windows_target=x86_64-win7-windows-gnu
nightly=${DRX_NIGHTLY:-nightly}

want_linux=0
want_windows=0
if [ $# -eq 0 ]; then
    want_linux=1
    want_windows=1
fi
for arg in "$@"; do
    case "$arg" in
    linux) want_linux=1 ;;
    windows) want_windows=1 ;;
    *)
        echo "dist.sh: unknown argument '$arg'; use linux and/or windows" >&2
        exit 2
        ;;
    esac
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
if [ -z "$version" ]; then
    echo "dist.sh: no version in Cargo.toml; add version = \"x.y.z\" to [package]" >&2
    exit 1
fi

# --- tools -------------------------------------------------------------------------------------
apt_packages=()
need_package() { # command package
    command -v "$1" >/dev/null 2>&1 || apt_packages+=("$2")
}
need_package file file
need_package sha256sum coreutils
need_package strings binutils
if [ "$want_windows" = 1 ]; then
    need_package x86_64-w64-mingw32-gcc gcc-mingw-w64-x86-64
    need_package x86_64-w64-mingw32-dlltool binutils-mingw-w64-x86-64
fi
if [ "$want_linux" = 1 ]; then
    # The musl target links with the C compiler driver and its bundled crt objects.
    need_package cc gcc
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "dist.sh: missing ${apt_packages[*]} and no apt-get; install them by hand" >&2
        exit 1
    fi
    echo "dist.sh: installing ${apt_packages[*]}" >&2
    sudo_cmd=()
    [ "$(id -u)" = 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${apt_packages[@]}"
fi
if [ "$want_linux" = 1 ] && ! rustup target list --installed | grep -qx "$linux_target"; then
    rustup target add "$linux_target"
fi
if [ "$want_windows" = 1 ]; then
    if ! rustup toolchain list | grep -q "^$nightly"; then
        rustup toolchain install --profile minimal "$nightly"
    fi
    if ! rustup component list --installed --toolchain "$nightly" | grep -q '^rust-src'; then
        rustup component add rust-src --toolchain "$nightly"
    fi
fi

# --- reproducibility ---------------------------------------------------------------------------
# The same commit gives the same bytes: a fixed timestamp, no build paths in the binary, the
# locked dependency versions, and no link time stamp in the PE header.
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
    SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 0)
fi
export SOURCE_DATE_EPOCH
cargo_home=${CARGO_HOME:-$HOME/.cargo}
remap="--remap-path-prefix=$repo=/build/drx-collect --remap-path-prefix=$cargo_home=/cargo"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}

mkdir -p "$dist_dir"

publish() { # built-file name
    local name=$2
    cp "$1" "$dist_dir/$name"
    (cd "$dist_dir" && sha256sum "$name" >"$name.sha256")
    echo "$dist_dir/$name"
}

# The customer's binaries leave out the case database (feature `cases`, the support desk's): it
# would grow them by half (5.5 → 8.4 MB) and compile SQLite's C for each target (docs/cases.md).
if [ "$want_linux" = 1 ]; then
    RUSTFLAGS="$remap -C target-feature=+crt-static" \
        cargo build --release --locked --no-default-features --target "$linux_target" --bin drx-collect
    publish "$CARGO_TARGET_DIR/$linux_target/release/drx-collect" \
        "drx-collect-$version-x86_64-linux"
fi

if [ "$want_windows" = 1 ]; then
    # build-std compiles std from the toolchain's rust-src: remap its paths too.
    sysroot=$(rustc "+$nightly" --print sysroot)
    remap="$remap --remap-path-prefix=$sysroot=/rustc-sysroot"
    # crt-static: libgcc and winpthread linked in, so the .exe needs no MinGW DLLs beside it.
    RUSTFLAGS="$remap -C target-feature=+crt-static -C link-arg=-Wl,--no-insert-timestamp" \
        cargo "+$nightly" build --release --locked --no-default-features --target "$windows_target" \
        -Z build-std=std,panic_abort --bin drx-collect
    publish "$CARGO_TARGET_DIR/$windows_target/release/drx-collect.exe" \
        "drx-collect-$version-x86_64-windows.exe"
fi
