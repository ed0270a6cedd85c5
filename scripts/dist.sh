#!/usr/bin/env bash
# Builds the release artefacts into $DIST_DIR (default dist/):
#   drx-collect-<version>-x86_64-linux        static musl binary (CentOS 6/7, any glibc)
#   drx-collect-<version>-x86_64-windows.exe  Windows 7 / Server 2008 R2 and newer
#   drx-collect_<version>_amd64.deb             Debian/Ubuntu package
#   drx-collect-<version>-1.x86_64.rpm          CentOS/RHEL 6 and 7 and newer (gzip payload,
#                                               SHA-256 file digests: what rpm 4.8 reads)
#   drx-collect-<version>-x86_64-windows.zip    the .exe, README, licences
# each with a .sha256 beside it (sha256sum format). The packages install the binary, the manual
# pages (drx-collect(1) and one per command, generated from the clap definition) and bash/zsh
# completions; no cron entry (`drx-collect schedule install` writes one when asked). Installs the rustup targets, the nightly
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
    need_package zip zip
fi
if [ "$want_linux" = 1 ]; then
    # The musl target links with the C compiler driver and its bundled crt objects.
    need_package cc gcc
    # Packages are assembled by hand with the distributions' own tools.
    need_package dpkg-deb dpkg
    need_package rpmbuild rpm
    need_package gzip gzip
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

# The generated files every package carries: manual pages and completions, made by the Linux
# binary just built (so they describe exactly that binary).
generate_docs() { # linux-binary staging-dir
    local bin=$1 out=$2
    mkdir -p "$out/man" "$out/completions"
    "$bin" man --dir "$out/man"
    # Fixed dates in the pages keep the packages reproducible; gzip -n drops the name and time.
    for page in "$out"/man/*.1; do gzip -9 -n "$page"; done
    "$bin" completions bash >"$out/completions/drx-collect"
    "$bin" completions zsh >"$out/completions/_drx-collect"
}

# Lays out the installed tree under $1: what both the .deb and the .rpm install.
install_tree() { # root linux-binary docs-dir zsh-dir
    local root=$1 bin=$2 docs=$3 zsh_dir=$4
    install -D -m 0755 "$bin" "$root/usr/bin/drx-collect"
    install -d -m 0755 "$root/usr/share/man/man1"
    install -m 0644 "$docs"/man/*.1.gz "$root/usr/share/man/man1/"
    install -D -m 0644 "$docs/completions/drx-collect" \
        "$root/usr/share/bash-completion/completions/drx-collect"
    install -D -m 0644 "$docs/completions/_drx-collect" "$root$zsh_dir/_drx-collect"
    install -D -m 0644 README.md "$root/usr/share/doc/drx-collect/README.md"
    install -m 0644 LICENSE-MIT LICENSE-APACHE "$root/usr/share/doc/drx-collect/"
}

make_deb() { # linux-binary docs-dir
    local stage
    stage=$(mktemp -d)
    install_tree "$stage" "$1" "$2" /usr/share/zsh/vendor-completions
    install -d -m 0755 "$stage/DEBIAN"
    local size
    size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    cat >"$stage/DEBIAN/control" <<CONTROL
Package: drx-collect
Version: $version
Architecture: amd64
Maintainer: drx-collect maintainers <drx-collect@localhost>
Section: admin
Priority: optional
Installed-Size: $size
Homepage: https://example.invalid/drx-collect
Description: support bundles for DRX/BSR/DRBD replication nodes
 Collects a checksummed, privacy-safe support bundle from a DRX/BSR (or DRBD)
 replication node, and diagnoses bundles with the troubleshooting guide's
 remedies. A static binary: it depends on nothing.
CONTROL
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local deb="$dist_dir/drx-collect_${version}_amd64.deb"
    # gzip members: every dpkg reads them (old Ubuntu/Debian included).
    dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >/dev/null
    rm -rf "$stage"
    (cd "$dist_dir" && sha256sum "$(basename "$deb")" >"$(basename "$deb").sha256")
    echo "$deb"
}

make_rpm() { # linux-binary docs-dir
    local top
    top=$(mktemp -d)
    mkdir -p "$top/SPECS" "$top/RPMS" "$top/BUILD" "$top/tree"
    install_tree "$top/tree" "$1" "$2" /usr/share/zsh/site-functions
    cat >"$top/SPECS/drx-collect.spec" <<SPEC
Name:           drx-collect
Version:        $version
Release:        1
Summary:        Support bundles for DRX/BSR/DRBD replication nodes
License:        MIT or ASL 2.0
URL:            https://example.invalid/drx-collect
BuildArch:      x86_64
# A static binary: no library requirements to find.
AutoReqProv:    no

%description
Collects a checksummed, privacy-safe support bundle from a DRX/BSR (or DRBD)
replication node, and diagnoses bundles with the troubleshooting guide's remedies.

%install
cp -a %{tree}/. %{buildroot}/

%files
%attr(0755,root,root) /usr/bin/drx-collect
%attr(0644,root,root) /usr/share/man/man1/drx-collect*.1.gz
%attr(0644,root,root) /usr/share/bash-completion/completions/drx-collect
%attr(0644,root,root) /usr/share/zsh/site-functions/_drx-collect
%doc %attr(0644,root,root) /usr/share/doc/drx-collect/README.md
%license %attr(0644,root,root) /usr/share/doc/drx-collect/LICENSE-MIT
%license %attr(0644,root,root) /usr/share/doc/drx-collect/LICENSE-APACHE
SPEC
    # CentOS 6 has rpm 4.8: it reads gzip payloads (not the zstd default of rpm 4.18) and
    # SHA-256 file digests (algorithm 8, what RHEL 6's own packages use). No build-id links
    # (rpm 4.8 does not know them), no debuginfo, no stripping of the stripped binary.
    rpmbuild -bb --quiet \
        --define "_topdir $top" \
        --define "tree $top/tree" \
        --define "_binary_payload w9.gzdio" \
        --define "_binary_filedigest_algorithm 8" \
        --define "_build_id_links none" \
        --define "debug_package %{nil}" \
        --define "__strip /bin/true" \
        --define "__brp_strip /bin/true" \
        --define "__os_install_post %{nil}" \
        --define "_buildhost drx-collect-build" \
        --define "use_source_date_epoch_as_buildtime 1" \
        --define "clamp_mtime_to_source_date_epoch 1" \
        "$top/SPECS/drx-collect.spec" >/dev/null
    local rpm="$dist_dir/drx-collect-$version-1.x86_64.rpm"
    cp "$top/RPMS/x86_64/drx-collect-$version-1.x86_64.rpm" "$rpm"
    rm -rf "$top"
    (cd "$dist_dir" && sha256sum "$(basename "$rpm")" >"$(basename "$rpm").sha256")
    echo "$rpm"
}

make_zip() { # windows-exe
    local stage
    stage=$(mktemp -d)
    local dir="$stage/drx-collect-$version-x86_64-windows"
    mkdir -p "$dir"
    cp "$1" "$dir/drx-collect.exe"
    # Notepad on 2008 R2 wants CRLF line ends.
    sed 's/$/\r/' README.md >"$dir/README.txt"
    sed 's/$/\r/' LICENSE-MIT >"$dir/LICENSE-MIT.txt"
    sed 's/$/\r/' LICENSE-APACHE >"$dir/LICENSE-APACHE.txt"
    find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
    local zip_file
    zip_file="$(cd "$dist_dir" && pwd)/drx-collect-$version-x86_64-windows.zip"
    rm -f "$zip_file"
    (cd "$stage" && zip -q -X -r "$zip_file" "drx-collect-$version-x86_64-windows")
    rm -rf "$stage"
    (cd "$dist_dir" && sha256sum "$(basename "$zip_file")" >"$(basename "$zip_file").sha256")
    echo "$dist_dir/$(basename "$zip_file")"
}

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
    docs=$(mktemp -d)
    generate_docs "$dist_dir/drx-collect-$version-x86_64-linux" "$docs"
    make_deb "$dist_dir/drx-collect-$version-x86_64-linux" "$docs"
    make_rpm "$dist_dir/drx-collect-$version-x86_64-linux" "$docs"
    rm -rf "$docs"
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
    make_zip "$dist_dir/drx-collect-$version-x86_64-windows.exe"
fi
