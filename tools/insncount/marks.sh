# Shell helpers for reading tools/insncount/insncount.so's output, sourced
# by tools/bench-net and tools/bench-disk (not run).  The output has lines
# "mark ID COUNT" (instructions executed up to and including marker ID)
# and "total COUNT".

# insncount_qemu_args FILE: the QEMU options loading the plugin, marks to FILE
insncount_qemu_args() { echo "-plugin ${BUILD:-build}/tools/insncount.so,out=$1"; }

# insn_windows FILE ID: the instructions in each window from marker ID to
# the next marker ID + 1, one a line, in the order they ran
insn_windows() {
	awk -v a="$2" '$1 == "mark" && $2 == a { s = $3 }
		$1 == "mark" && $2 == a + 1 && s != "" { printf "%.0f\n", $3 - s; s = "" }' "$1"
}

# insn_median_diff FILE A B PER: the median over rounds of (window A -
# window B) / PER, pairing the rounds in order (A's work over a round B
# that differs only by it), to the instruction; - when there is none
insn_median_diff() {
	paste <(insn_windows "$1" "$2") <(insn_windows "$1" "$3") |
		awk -v per="$4" 'NF == 2 { printf "%.0f\n", ($1 - $2) / per }' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'
}

# insn_mean_diff FILE A B PER: the same as a mean (all of the work, late
# completions included, at the price of outliers)
insn_mean_diff() {
	paste <(insn_windows "$1" "$2") <(insn_windows "$1" "$3") |
		awk -v per="$4" 'NF == 2 { s += ($1 - $2) / per; n++ } END { if (n) printf "%.0f\n", s / n; else print "-" }'
}

# insn_nth_window FILE ID N: the Nth window (from 1) of marker ID, or -
insn_nth_window() { insn_windows "$1" "$2" | sed -n "${3}p" | grep . || echo -; }
