#!/usr/bin/env bash
# Swarm protocols (net/): unit tests of every layer, the NERT property test,
# short libFuzzer runs of every parser, simulator runs at small scale, and
# the issue's 1,000-node checks.  Simulator runs use the build with ASan
# and UBSan ($BUILD/host/swarm-sim), except two large ones that use the
# -O2 build ($BUILD/bench/swarm-sim: the 1,000-node lan broadcast and
# store runs; their scenarios run sanitized here at a smaller scale too).
# Every pheromone carries an Ed25519 signature since wire version 3.
# The simulator is single-threaded and the checks are independent, so
# they run as parallel jobs (SWARM_TEST_JOBS, default the number of
# CPUs), the longest first; each job's output is printed whole, in launch
# order, when all are done.  The many-seed NERT sweeps (100 seeds per
# setting, with the issue's targets checked) are in make bench
# (net/sim/bench.sh); here each setting runs over 20 seeds.
set -u
B=${BUILD:-build}
HOST_SIM=$B/host/swarm-sim
O2_SIM=$B/bench/swarm-sim
fail=0
mkdir -p "$B/test-logs"
JOBS=${SWARM_TEST_JOBS:-$(nproc)}
out=$(mktemp -d "$B/test-logs/40-swarm.XXXXXX")
njobs=0
start=$(date +%s)

# job CMD ARGS...: run CMD (a check or another function that prints PASS
# or FAIL lines) in the background once fewer than JOBS jobs run; its
# output goes to a file of its own, printed at the end in launch order.
job() {
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do
		wait -n
	done
	njobs=$((njobs + 1))
	"$@" >"$out/$(printf %04d "$njobs")" 2>&1 &
}

# check NAME EXPR SIM ARGS...: run the simulator; PASS when the Python
# expression EXPR holds for the JSON metrics m (last stdout line).
check() {
	local name=$1 expr=$2 json
	shift 2
	json=$("$@" | tail -n 1)
	echo "--- $name: $* -> $json"
	if python3 -c 'import json,sys; m=json.loads(sys.argv[1]); sys.exit(0 if eval(sys.argv[2]) else 1)' \
		"$json" "$expr" 2>/dev/null; then
		echo "PASS $name"
	else
		echo "FAIL $name"
		fail=1
	fi
}

# unit_test BINARY: its own PASS/FAIL lines, and a FAIL line if it exits
# non-zero without one.
unit_test() {
	local log rc
	log=$(mktemp "$out/unit.XXXXXX")
	echo "--- $1"
	"$1" >"$log" 2>&1
	rc=$?
	cat "$log"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$log"; then echo "FAIL $(basename "$1"): exit status $rc"; fi
	rm -f "$log"
}

# fuzz NAME: a 4-second libFuzzer run of fuzz_NAME.
fuzz() {
	if "$B/fuzz/fuzz_$1" -max_total_time=4 -seed=1 >"$B/test-logs/fuzz_$1.out" 2>&1; then
		echo "PASS fuzz_$1"
	else
		tail -n 30 "$B/test-logs/fuzz_$1.out"
		echo "FAIL fuzz_$1"
	fi
}

ok_frame='m["honest_banned"] == 0 and m["false_dead"] == 0 and m["accepted"] == 0'

# The issue's 1,000-node checks (first: they are the longest jobs).
job check sim1000_membership_no_false_deaths_10min 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 20000' \
	"$HOST_SIM" --scenario membership --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 600 --seed 14
# (-O2 build: every heartbeat on a 1,000-node lan reaches 999 receivers,
# minutes of CPU under ASan; the 1,000-node lan attack runs below and the
# 100-node lan broadcast are sanitized.)
job check sim1000_broadcast_lan 'm["coverage"] == 1.0' \
	"$O2_SIM" --scenario broadcast --nodes 1000 --topology lan --loss 0.1 --duration 5 --seed 11
job check sim1000_broadcast_mesh_deg8 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 20 --seed 12
job check sim1000_queen_no_forged_or_replayed 'm["forged_accepted"] == 0 and m["replayed_accepted"] == 0 and m["reach"] == 1.0' \
	"$HOST_SIM" --scenario queen --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed 13
job check sim1000_state_converges_after_partition 'm["converged"] is True' \
	"$HOST_SIM" --scenario state --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed 15
# The store at 1,000 nodes (-O2 build: about 20-40 s here): an
# insider's future-stamped entries and entries forged under honest
# writers' ids freeze no key and are never taken (make bench: 20 seeds,
# and the gc scenario at 1,000 nodes on 5 seeds).
for seed in 1; do
	job check "sim1000_kv-poison_seed$seed" 'm["frozen"] == 0 and m["accepted"] == 0' \
		"$B/bench/swarm-sim" --scenario attack --attack kv-poison --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed "$seed"
done
for at in spoof-frame stale-frame rejoin; do
	job check "sim1000_${at}_mesh_deg8" "$ok_frame" \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 40 --seed 16
done
# On a 1,000-node lan each node's first 64 neighbours cost it 128 signed
# PING challenges and answers at boot (about 20 s of Ed25519 per run in
# this build), so two attacks run there and the other four on 300 nodes.
for at in replay fake-queen; do
	job check "sim1000_attack_${at}_lan" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 1000 --topology lan --loss 0.1 --duration 5 --seed 16
done
for at in forge flood sybil eclipse; do
	job check "sim300_attack_${at}_lan" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 300 --topology lan --loss 0.1 --duration 5 --seed 16
done

# Sanitized simulator runs (small scale).
job check sim_small_queen 'm["reach"] == 1.0 and m["forged_accepted"] == 0 and m["replayed_accepted"] == 0' \
	"$HOST_SIM" --scenario queen --nodes 100 --topology lan --loss 0.1 --seed 6
# deterministic: the same seed gives the same run, byte for byte.
deterministic() {
	local a b
	a=$("$HOST_SIM" --scenario broadcast --nodes 60 --topology mesh --loss 0.1 --seed 7 | tail -n 1)
	b=$("$HOST_SIM" --scenario broadcast --nodes 60 --topology mesh --loss 0.1 --seed 7 | tail -n 1)
	if [ "$a" = "$b" ]; then echo "PASS sim_deterministic_for_a_seed"; else echo "FAIL sim_deterministic_for_a_seed"; fi
}
job deterministic
job check sim_small_broadcast_lan 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 100 --topology lan --loss 0.1 --dup 0.05 --reorder 0.1 --seed 2
job check sim_small_broadcast_mesh 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 200 --topology mesh --degree 8 --loss 0.1 --dup 0.05 --reorder 0.1 --duration 20 --seed 3
# Anti-entropy (issue 13, point 3): at 30 % loss on a sparse mesh the first
# wave of a broadcast dies out in places; IHAVE/IWANT repairs from the
# message cache, with a fresh TTL, must still reach the whole component.
# (The 2,000-node run of the issue's target is in make bench.)
for seed in 3 4; do
	job check "sim500_broadcast_mesh_deg6_loss30_seed$seed" 'm["coverage"] >= 0.999 and m["coverage_min"] >= 0.99' \
		"$HOST_SIM" --scenario broadcast --nodes 500 --topology mesh --degree 6 --loss 0.3 --duration 40 --seed "$seed"
done
job check sim_small_membership 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 20000' \
	"$HOST_SIM" --scenario membership --nodes 200 --topology mesh --loss 0.1 --duration 120 --seed 4
# Membership (SWIM with Lifeguard, issue 13 point 2) at 30 % loss: no live
# node declared dead, and a killed one noticed by every neighbour within
# 4 log10 N + 5 s.  (The 1,000-node run of the target is in make bench.)
job check sim300_membership_loss30 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 4000 * 2.477 + 5000' \
	"$HOST_SIM" --scenario membership --nodes 300 --topology mesh --degree 8 --loss 0.3 --duration 90 --seed 5
# The seeds beyond 100 that missed the per-seed NERT targets before the
# congestion cut stopped at the path's size and tail holes went out as two
# copies from their first retransmission (issue 13, second audit).
job check sim_nert_seed333_10pct 'm["delivered_intact"] is True and m["goodput_ratio"] >= 0.8' \
	"$HOST_SIM" --scenario nert --loss 0.1 --bytes 1048576 --seed 333
job check sim_nert_seed478_30pct_reorder 'm["delivered_intact"] is True and m["goodput_ratio"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --reorder 0.1 --bytes 1048576 --seed 478
job check sim_nert_seed159_30pct 'm["delivered_intact"] is True and m["goodput_ratio"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --bytes 1048576 --seed 159
# A tail hole lost again and again as single copies (0.498 and 0.334 of
# lossless before holes of the tail went out as two copies from their
# second retransmission; issue 13, seeds 1-1000).
job check sim_nert_seed173_30pct_reorder 'm["delivered_intact"] is True and m["goodput_ratio"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --reorder 0.1 --bytes 1048576 --seed 173
job check sim_nert_seed830_30pct_reorder 'm["delivered_intact"] is True and m["goodput_ratio"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --reorder 0.1 --bytes 1048576 --seed 830
# The lan as one shared medium (--lan-kbps): CSMA deferral and collisions
# happen, and a small swarm still delivers every broadcast.
job check sim10_lan_medium 'm["coverage"] == 1 and m["lan_collisions"] > 0 and m["false_dead"] == 0' \
	"$HOST_SIM" --scenario broadcast --nodes 10 --topology lan --loss 0.1 --duration 20 --seed 1 --lan-kbps 10000
job check sim_nert_intact_under_loss 'm["delivered_intact"] is True and m["fec_recovered"] > 0 and m["retransmits"] > 0' \
	"$HOST_SIM" --scenario nert --loss 0.1 --dup 0.05 --reorder 0.1 --bytes 2097152 --seed 5
# NERT targets (issue 13) over seeds 21-40 per setting (each in one run;
# make bench checks them over seeds 1-100): 1 MiB intact on every seed
# at 30 % loss with and without reordering and at 50 % loss; goodput over
# lossless (simulated time, so deterministic ratios) >= 0.8 at 10 % loss
# and >= 0.5 at 30 % (with 10 % reordering too), on every seed.  These
# seeds hold the slowest 30 %-loss seeds of 1-100 since wire version 4
# (39) and before it (28: a retried handshake without an RTT sample), and
# the slowest 10 %-loss one (32).
job check sim_nert_1mib_30pct_every_seed 'm["intact_seeds"] == m["seeds"] == 20 and m["goodput_ratio_min"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --bytes 1048576 --seed 21 --seeds 20
job check sim_nert_1mib_30pct_reorder_every_seed 'm["intact_seeds"] == m["seeds"] == 20 and m["goodput_ratio_min"] >= 0.5' \
	"$HOST_SIM" --scenario nert --loss 0.3 --reorder 0.1 --bytes 1048576 --seed 21 --seeds 20
job check sim_nert_1mib_50pct_every_seed 'm["intact_seeds"] == m["seeds"] == 20' \
	"$HOST_SIM" --scenario nert --loss 0.5 --bytes 1048576 --seed 21 --seeds 20
job check sim_nert_1mib_50pct_reorder_every_seed 'm["intact_seeds"] == m["seeds"] == 20' \
	"$HOST_SIM" --scenario nert --loss 0.5 --reorder 0.1 --bytes 1048576 --seed 21 --seeds 20
job check sim_nert_goodput_10pct 'm["intact_seeds"] == m["seeds"] == 20 and m["goodput_ratio_min"] >= 0.8' \
	"$HOST_SIM" --scenario nert --loss 0.1 --bytes 1048576 --seed 21 --seeds 20
# ghost-init: an attacker replays every INIT and a sample of DATA packets
# it saw arrive (from the initiator's and from spoofed addresses, and as a
# 1000/s flood at 10-12 s) while the pair re-handshakes every 5 s: nothing
# replayed is taken, the flood costs no DH once the responder is under
# load, and the transfer still arrives intact.
ok_ghost='m["accepted"] == 0 and m["flood_dh_loaded"] == 0 and m["cookies"] > 0 and m["rekeys"] >= 3 and m["replayed_inits"] > 1000 and m["delivered_intact"] is True'
for seed in 1 2 3 4; do
	job check "sim_nert_ghost_init_seed$seed" "$ok_ghost" \
		"$HOST_SIM" --scenario nert --attack ghost-init --loss 0.1 --bytes 1048576 --seed "$seed"
	job check "sim_nert_ghost_init_loss30_seed$seed" "$ok_ghost" \
		"$HOST_SIM" --scenario nert --attack ghost-init --loss 0.3 --reorder 0.1 --bytes 1048576 --seed "$seed"
done
# The Wireshark dissector (tools/wireshark/exoswarm.lua) on NERT: the
# ghost-init run's sends (handshakes, re-handshakes, cookie replies,
# data) captured by the simulator: every frame dissected as NERT, none
# malformed, each frame's header fields exactly what its sender logged.
# (Pheromones and the hub's capture: tests/suites/45-swarmd.sh.)
dissector() {
	local cap="$B/test-logs/nert-ghost.pcap"
	rm -f "$cap" "$cap.tx"
	SIM_PCAP="$cap" SIM_TXLOG="$cap.tx" "$HOST_SIM" --scenario nert --attack ghost-init --loss 0.1 \
		--bytes 262144 --seed 1 >/dev/null
	if python3 - "$cap" <<'PY'
import subprocess, sys
cap = sys.argv[1]
lua = "lua_script:tools/wireshark/exoswarm.lua"
out = subprocess.run(["tshark", "-n", "-r", cap, "-X", lua, "-T", "fields", "-E", "separator=,",
                      "-e", "nert.type", "-e", "nert.epoch", "-e", "nert.sid", "-e", "nert.pn",
                      "-e", "udp.length"], capture_output=True, text=True, check=True).stdout
bad = subprocess.run(["tshark", "-n", "-r", cap, "-X", lua, "-Y",
                      "_ws.malformed || _ws.expert || !nert"],
                     capture_output=True, text=True, check=True).stdout.strip()
frames = [tuple(int(x, 0) for x in l.split(",")) for l in out.splitlines()]
frames = [f[:4] + (f[4] - 8,) for f in frames]
logged = [tuple(int(x) for x in l.split()) for l in open(cap + ".tx")]
types = {f[0] for f in frames}
print(f"--- dissector: {len(frames)} NERT frames, types {sorted(types)}, {len(logged)} logged")
sys.exit(0 if frames == logged and not bad and types == {1, 2, 3, 4} else 1)
PY
	then echo "PASS swarm_dissector_nert"; else echo "FAIL swarm_dissector_nert"; fi
}
job dissector
job check sim_nert_stop_and_wait_intact 'm["delivered_intact"] is True' \
	"$HOST_SIM" --scenario nert --loss 0.1 --baseline stop-and-wait --bytes 200000 --seed 5
job check sim_small_state 'm["converged"] is True' \
	"$HOST_SIM" --scenario state --nodes 150 --topology mesh --loss 0.1 --seed 7
job check sim_maze_solved 'm["solved"] is True' \
	"$HOST_SIM" --scenario maze --nodes 40 --topology lan --loss 0.1 --seed 8
for at in replay forge fake-queen flood sybil eclipse; do
	job check "sim_small_attack_$at" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.1 --seed 9
done

# The attacks of issue 13, each of which succeeded before its fix: keyless
# spoofed frames and stale replays under honest addresses, honest restarts,
# a store poisoned by one entry, an insider rotating sender ids (now held
# to one author's budget at every node: ids need certificates).  Several
# seeds, and 30 % loss (where membership alone, without any attack, still
# declares a live node dead about once in eight 45-s runs: that is checked
# by the membership runs, not here).
for seed in 9 10 11; do
	for at in spoof-frame stale-frame rejoin; do
		job check "sim_small_${at}_seed$seed" "$ok_frame" \
			"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
	done
	job check "sim_small_kv-poison_seed$seed" 'm["frozen"] == 0 and m["accepted"] == 0' \
		"$HOST_SIM" --scenario attack --attack kv-poison --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
	job check "sim_small_flood-rotate_seed$seed" 'm["accepted"] == 0 and 0 < m["flood_max"] <= m["budget"]' \
		"$HOST_SIM" --scenario attack --attack flood-rotate --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
done
for at in spoof-frame stale-frame rejoin; do
	job check "sim_small_${at}_loss30" 'm["honest_banned"] == 0 and m["accepted"] == 0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.3 --seed 12
done
job check sim_small_kv-poison_loss30 'm["frozen"] == 0' \
	"$HOST_SIM" --scenario attack --attack kv-poison --nodes 60 --topology mesh --loss 0.3 --seed 12
# Clock skew and drift (issue 13, point 6): every node's clock starts up
# to 4 s off and runs up to 200 ppm fast or slow; the frame attacks,
# honest restarts, the store and membership hold as with exact clocks.
skew="--skew 4000 --drift 200"
for at in spoof-frame stale-frame rejoin; do
	job check "sim_small_${at}_skewed_clocks" "$ok_frame" \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.1 --seed 13 $skew
done
job check sim_small_kv-poison_skewed_clocks 'm["frozen"] == 0 and m["accepted"] == 0' \
	"$HOST_SIM" --scenario attack --attack kv-poison --nodes 60 --topology mesh --loss 0.1 --seed 13 $skew
job check sim100_membership_skewed_clocks 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 4000 * 2 + 5000' \
	"$HOST_SIM" --scenario membership --nodes 100 --topology mesh --degree 8 --loss 0.1 --duration 60 --seed 13 $skew
job check sim100_gc_skewed_clocks 'm["collected"] is True and m["kept"] is True and m["accepted"] == 0' \
	"$HOST_SIM" --scenario gc --nodes 100 --topology mesh --loss 0.1 --seed 13 $skew
# Store garbage collection (issue 13, point 4): 4 writers killed and one
# revoked at 5 s; grace 10 s, tombstones live 20 s.  Every live node drops
# their entries, keeps the others', and no tombstone is left at 70 s.
ok_gc='m["collected"] is True and m["kept"] is True and m["tombstones"] == 0 and m["floors"] > 0 and m["accepted"] == 0'
for seed in 2; do
	job check "sim100_gc_seed$seed" "$ok_gc" \
		"$HOST_SIM" --scenario gc --nodes 100 --topology mesh --loss 0.1 --seed "$seed"
done


for t in "$B"/tests/test_net_swarm "$B"/tests/test_net_nert; do
	job unit_test "$t"
done
for f in swarm nert kvstore; do
	job fuzz "$f"
done
wait
for f in "$out"/[0-9]*; do
	cat "$f"
	grep -q '^FAIL ' "$f" && fail=1
done
rm -rf "$out"
echo "--- 40-swarm: $njobs jobs, $JOBS at a time, $(( $(date +%s) - start )) s"
exit $fail
