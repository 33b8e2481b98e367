# shellcheck shell=bash disable=SC2034 # the LINE_* variables are for the caller
# Sourced by the devmgr/ scripts: the kernel lines the series is made for.
# Each line of tools/kernel-sources.txt (`linux-source-LINE VERSION`) is a
# line, e.g. 6.12 and 6.1; the first one is the default line (the guests'
# kernel). Its series is in kernel-patches/, every other line's in
# kernel-patches/LINE/.

UPCALL_TOP=${UPCALL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}

# Prints "LINE PACKAGE VERSION" for every pin, the default line first.
upcall_lines() {
	sed -e 's/#.*//' "$UPCALL_TOP/tools/kernel-sources.txt" |
		awk 'NF == 2 && $1 ~ /^linux-source-/ {
			line = $1; sub(/^linux-source-/, "", line); print line, $1, $2 }'
}

# upcall_line_info LINE: sets LINE_PKG, LINE_VERSION (Debian version),
# LINE_KVERSION (the kernel's, e.g. 6.1.192), LINE_PATCHES (its series
# folder); fails for a line without a pin.
upcall_line_info() {
	local want=$1 line pkg version first=
	while read -r line pkg version; do
		[[ -z $first ]] && first=$line
		if [[ $line == "$want" ]]; then
			LINE_PKG=$pkg
			LINE_VERSION=$version
			LINE_KVERSION=${version%%-*}
			if [[ $line == "$first" ]]; then
				LINE_PATCHES=$UPCALL_TOP/kernel-patches
			else
				LINE_PATCHES=$UPCALL_TOP/kernel-patches/$line
			fi
			return 0
		fi
	done < <(upcall_lines)
	echo "no kernel line '$want' in tools/kernel-sources.txt (lines: $(upcall_lines | awk '{print $1}' | tr '\n' ' '))" >&2
	return 1
}

# The default line (first pin).
upcall_default_line() {
	upcall_lines | awk 'NR == 1 {print $1}'
}

# upcall_line_opt [--line LINE] ARGS...: the optional leading `--line LINE`
# of a script's arguments. Sets LINE (the default line without it) and the
# array LINE_REST (the arguments after it); fails when --line has no value.
# Usage: upcall_line_opt "$@" || exit 1; set -- "${LINE_REST[@]}"
upcall_line_opt() {
	LINE=$(upcall_default_line)
	LINE_REST=("$@")
	[[ ${1:-} == --line ]] || return 0
	[[ $# -ge 2 ]] || { echo "${0##*/}: --line needs a line" >&2; return 1; }
	LINE=$2
	LINE_REST=("${@:3}")
}
