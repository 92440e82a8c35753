#!/usr/bin/env bash
# Swarm protocols (net/): unit tests of every layer, the NERT property test,
# short libFuzzer runs of every parser, simulator runs at small scale, and
# the issue's 1,000-node checks.  Every simulator run here uses the build
# with ASan and UBSan ($BUILD/host/swarm-sim).  Every pheromone carries an
# Ed25519 signature since wire version 3, and the whole suite takes about
# 300 s on two shared cores (the 10-minute 1,000-node membership run about
# 60 s of CPU of it; the anti-entropy and 30 %-loss membership runs about
# 25 s).
set -u
B=${BUILD:-build}
HOST_SIM=$B/host/swarm-sim
fail=0
mkdir -p "$B/test-logs"

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

for t in "$B"/tests/test_net_swarm "$B"/tests/test_net_nert; do
	echo "--- $t"
	"$t" || fail=1
done

for f in swarm nert kvstore; do
	if "$B/fuzz/fuzz_$f" -max_total_time=4 -seed=1 >"$B/test-logs/fuzz_$f.out" 2>&1; then
		echo "PASS fuzz_$f"
	else
		tail -n 30 "$B/test-logs/fuzz_$f.out"
		echo "FAIL fuzz_$f"
		fail=1
	fi
done

# Sanitized simulator runs (small scale).
a=$(SWARM_SIM_BUILD=host "$HOST_SIM" --scenario broadcast --nodes 60 --topology mesh --loss 0.1 --seed 7 | tail -n 1)
b=$(SWARM_SIM_BUILD=host "$HOST_SIM" --scenario broadcast --nodes 60 --topology mesh --loss 0.1 --seed 7 | tail -n 1)
if [ "$a" = "$b" ]; then echo "PASS sim_deterministic_for_a_seed"; else echo "FAIL sim_deterministic_for_a_seed"; fail=1; fi
check sim_small_broadcast_lan 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 100 --topology lan --loss 0.1 --dup 0.05 --reorder 0.1 --seed 2
check sim_small_broadcast_mesh 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 200 --topology mesh --degree 8 --loss 0.1 --dup 0.05 --reorder 0.1 --duration 20 --seed 3
# Anti-entropy (issue 13, point 3): at 30 % loss on a sparse mesh the first
# wave of a broadcast dies out in places; IHAVE/IWANT repairs from the
# message cache, with a fresh TTL, must still reach the whole component.
# (The 2,000-node run of the issue's target is in make bench.)
for seed in 3 4; do
	check "sim500_broadcast_mesh_deg6_loss30_seed$seed" 'm["coverage"] >= 0.999 and m["coverage_min"] >= 0.99' \
		"$HOST_SIM" --scenario broadcast --nodes 500 --topology mesh --degree 6 --loss 0.3 --duration 40 --seed "$seed"
done
check sim_small_membership 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 20000' \
	"$HOST_SIM" --scenario membership --nodes 200 --topology mesh --loss 0.1 --duration 120 --seed 4
# Membership (SWIM with Lifeguard, issue 13 point 2) at 30 % loss: no live
# node declared dead, and a killed one noticed by every neighbour within
# 4 log10 N + 5 s.  (The 1,000-node run of the target is in make bench.)
check sim300_membership_loss30 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 4000 * 2.477 + 5000' \
	"$HOST_SIM" --scenario membership --nodes 300 --topology mesh --degree 8 --loss 0.3 --duration 90 --seed 5
check sim_nert_intact_under_loss 'm["delivered_intact"] is True and m["fec_recovered"] > 0 and m["retransmits"] > 0' \
	"$HOST_SIM" --scenario nert --loss 0.1 --dup 0.05 --reorder 0.1 --bytes 2097152 --seed 5
# NERT targets (issue 13), 50 seeds at 30 % and 40 at 10 and 50 % (make
# bench: 100) per setting in one run each (about 20-25 s):
# 1 MiB intact on every seed at 30 % loss with and without reordering and
# at 50 % loss; goodput over lossless, averaged over the seeds, >= 0.8 at
# 10 % and >= 0.5 at 30 % loss (simulated time, so deterministic ratios).
# The per-seed minimum at 30 % loss (0.39 without and 0.52 with
# reordering over these seeds since the RTO restart on SACK progress,
# the slow-start exit, two-copy probes and the no-sample retransmission
# guard; 0.29 and 0.38 before, 0.14 before tail-loss probes) is held
# above 0.35 against regressions; the issue's 0.5 per seed is not
# reached yet without reordering (docs/PROTOCOL.md).
check sim_nert_1mib_30pct_reorder_every_seed 'm["intact_seeds"] == m["seeds"] == 50 and m["goodput_ratio_mean"] >= 0.5 and m["goodput_ratio_min"] >= 0.35' \
	"$HOST_SIM" --scenario nert --loss 0.3 --reorder 0.1 --bytes 1048576 --seeds 50
check sim_nert_1mib_30pct_every_seed 'm["intact_seeds"] == m["seeds"] == 50 and m["goodput_ratio_mean"] >= 0.5 and m["goodput_ratio_min"] >= 0.35' \
	"$HOST_SIM" --scenario nert --loss 0.3 --bytes 1048576 --seeds 50
check sim_nert_1mib_50pct_every_seed 'm["intact_seeds"] == m["seeds"] == 40' \
	"$HOST_SIM" --scenario nert --loss 0.5 --bytes 1048576 --seeds 40
check sim_nert_1mib_50pct_reorder_every_seed 'm["intact_seeds"] == m["seeds"] == 40' \
	"$HOST_SIM" --scenario nert --loss 0.5 --reorder 0.1 --bytes 1048576 --seeds 40
check sim_nert_goodput_10pct 'm["intact_seeds"] == m["seeds"] == 40 and m["goodput_ratio_mean"] >= 0.8' \
	"$HOST_SIM" --scenario nert --loss 0.1 --bytes 1048576 --seeds 40
# ghost-init: an attacker replays every INIT and a sample of DATA packets
# it saw arrive (from the initiator's and from spoofed addresses, and as a
# 1000/s flood at 10-12 s) while the pair re-handshakes every 5 s: nothing
# replayed is taken, the flood costs no DH once the responder is under
# load, and the transfer still arrives intact.
ok_ghost='m["accepted"] == 0 and m["flood_dh_loaded"] == 0 and m["cookies"] > 0 and m["rekeys"] >= 3 and m["replayed_inits"] > 1000 and m["delivered_intact"] is True'
for seed in 1 2 3 4; do
	check "sim_nert_ghost_init_seed$seed" "$ok_ghost" \
		"$HOST_SIM" --scenario nert --attack ghost-init --loss 0.1 --bytes 1048576 --seed "$seed"
	check "sim_nert_ghost_init_loss30_seed$seed" "$ok_ghost" \
		"$HOST_SIM" --scenario nert --attack ghost-init --loss 0.3 --reorder 0.1 --bytes 1048576 --seed "$seed"
done
# The Wireshark dissector (tools/wireshark/exoswarm.lua) on NERT: the
# ghost-init run's sends (handshakes, re-handshakes, cookie replies,
# data) captured by the simulator: every frame dissected as NERT, none
# malformed, each frame's header fields exactly what its sender logged.
# (Pheromones and the hub's capture: tests/suites/45-swarmd.sh.)
cap="$B/test-logs/nert-ghost.pcap"
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
then echo "PASS swarm_dissector_nert"; else echo "FAIL swarm_dissector_nert"; fail=1; fi
check sim_nert_stop_and_wait_intact 'm["delivered_intact"] is True' \
	"$HOST_SIM" --scenario nert --loss 0.1 --baseline stop-and-wait --bytes 200000 --seed 5
check sim_small_queen 'm["reach"] == 1.0 and m["forged_accepted"] == 0 and m["replayed_accepted"] == 0' \
	"$HOST_SIM" --scenario queen --nodes 100 --topology lan --loss 0.1 --seed 6
check sim_small_state 'm["converged"] is True' \
	"$HOST_SIM" --scenario state --nodes 150 --topology mesh --loss 0.1 --seed 7
check sim_maze_solved 'm["solved"] is True' \
	"$HOST_SIM" --scenario maze --nodes 40 --topology lan --loss 0.1 --seed 8
for at in replay forge fake-queen flood sybil eclipse; do
	check "sim_small_attack_$at" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.1 --seed 9
done

# The attacks of issue 13, each of which succeeded before its fix: keyless
# spoofed frames and stale replays under honest addresses, honest restarts,
# a store poisoned by one entry, an insider rotating sender ids (now held
# to one author's budget at every node: ids need certificates).  Several
# seeds, and 30 % loss (where membership alone, without any attack, still
# declares a live node dead about once in eight 45-s runs: that is checked
# by the membership runs, not here).
ok_frame='m["honest_banned"] == 0 and m["false_dead"] == 0 and m["accepted"] == 0'
for seed in 9 10 11; do
	for at in spoof-frame stale-frame rejoin; do
		check "sim_small_${at}_seed$seed" "$ok_frame" \
			"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
	done
	check "sim_small_kv-poison_seed$seed" 'm["frozen"] == 0 and m["accepted"] == 0' \
		"$HOST_SIM" --scenario attack --attack kv-poison --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
	check "sim_small_flood-rotate_seed$seed" 'm["accepted"] == 0 and 0 < m["flood_max"] <= m["budget"]' \
		"$HOST_SIM" --scenario attack --attack flood-rotate --nodes 60 --topology mesh --loss 0.1 --seed "$seed"
done
for at in spoof-frame stale-frame rejoin; do
	check "sim_small_${at}_loss30" 'm["honest_banned"] == 0 and m["accepted"] == 0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 60 --topology mesh --loss 0.3 --seed 12
done
check sim_small_kv-poison_loss30 'm["frozen"] == 0' \
	"$HOST_SIM" --scenario attack --attack kv-poison --nodes 60 --topology mesh --loss 0.3 --seed 12
# Store garbage collection (issue 13, point 4): 4 writers killed and one
# revoked at 5 s; grace 10 s, tombstones live 20 s.  Every live node drops
# their entries, keeps the others', and no tombstone is left at 70 s.
ok_gc='m["collected"] is True and m["kept"] is True and m["tombstones"] == 0 and m["floors"] > 0 and m["accepted"] == 0'
for seed in 2; do
	check "sim100_gc_seed$seed" "$ok_gc" \
		"$HOST_SIM" --scenario gc --nodes 100 --topology mesh --loss 0.1 --seed "$seed"
done

# The issue's 1,000-node checks.
check sim1000_broadcast_lan 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 1000 --topology lan --loss 0.1 --duration 5 --seed 11
check sim1000_broadcast_mesh_deg8 'm["coverage"] == 1.0' \
	"$HOST_SIM" --scenario broadcast --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 20 --seed 12
check sim1000_queen_no_forged_or_replayed 'm["forged_accepted"] == 0 and m["replayed_accepted"] == 0 and m["reach"] == 1.0' \
	"$HOST_SIM" --scenario queen --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed 13
check sim1000_membership_no_false_deaths_10min 'm["false_dead"] == 0 and 0 < m["detect_ms"] < 20000' \
	"$HOST_SIM" --scenario membership --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 600 --seed 14
check sim1000_state_converges_after_partition 'm["converged"] is True' \
	"$HOST_SIM" --scenario state --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed 15
# The store at 1,000 nodes (-O2 build: about 20-40 s here): an
# insider's future-stamped entries and entries forged under honest
# writers' ids freeze no key and are never taken (make bench: 20 seeds,
# and the gc scenario at 1,000 nodes on 5 seeds).
for seed in 1; do
	check "sim1000_kv-poison_seed$seed" 'm["frozen"] == 0 and m["accepted"] == 0' \
		"$B/bench/swarm-sim" --scenario attack --attack kv-poison --nodes 1000 --topology mesh --degree 8 --loss 0.1 --seed "$seed"
done
for at in spoof-frame stale-frame rejoin; do
	check "sim1000_${at}_mesh_deg8" "$ok_frame" \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 1000 --topology mesh --degree 8 --loss 0.1 --duration 40 --seed 16
done
# On a 1,000-node lan each node's first 64 neighbours cost it 128 signed
# PING challenges and answers at boot (about 20 s of Ed25519 per run in
# this build), so two attacks run there and the other four on 300 nodes.
for at in replay fake-queen; do
	check "sim1000_attack_${at}_lan" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 1000 --topology lan --loss 0.1 --duration 5 --seed 16
done
for at in forge flood sybil eclipse; do
	check "sim300_attack_${at}_lan" 'm["accepted"] == 0 and m["coverage"] == 1.0' \
		"$HOST_SIM" --scenario attack --attack "$at" --nodes 300 --topology lan --loss 0.1 --duration 5 --seed 16
done
exit $fail
