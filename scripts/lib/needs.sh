# What a test script needs before it starts; source it, then:
#   need_root CALLER WHY             a sentence and exit 1 unless run as root
#   need_commands CALLER CMD:PACKAGE…  installs the Debian package of each missing command (tests
#                                      never skip because a tool is missing)

need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "$1: run as root ($2)" >&2
        exit 1
    fi
}

need_commands() {
    local caller=$1 pair
    shift
    local missing=()
    for pair in "$@"; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "$caller: installing ${missing[*]}" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
