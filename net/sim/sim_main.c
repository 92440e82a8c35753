/*
 * swarm-sim command line: parses the flags, runs one scenario and prints
 * its JSON metrics as the last line of stdout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/sim/sim.h"

/* Print the flags and exit with status 2. */
static void usage(void)
{
	fprintf(stderr,
		"usage: swarm-sim --scenario broadcast|membership|nert|queen|state|gc|maze|attack\n"
		"  [--attack replay|forge|fake-queen|flood|sybil|eclipse|spoof-frame|stale-frame|\n"
		"            flood-rotate|kv-poison|rejoin|ghost-init (nert)] [--nodes N]\n"
		"  [--loss P] [--dup P] [--reorder P] [--topology lan|mesh] [--degree D]\n"
		"  [--duration SECONDS] [--seed S] [--relay flood] [--fec K] [--bytes N] [--seeds N]\n"
		"  [--baseline stop-and-wait] [--echo-cap C] [--relay-prob P]\n"
		"  [--relay-decay P] [--relay-window MS] [--skew MS] [--drift PPM]\n"
		"  [--lan-kbps K] [--adversaries K] [--adversary-move SECONDS]\n");
	exit(2);
}

/* Parse a probability in [0, 1] or fail. */
static double prob(const char *v)
{
	char *end;
	double p = strtod(v, &end);

	if (*end || p < 0 || p > 1)
		usage();
	return p;
}

/* Parse the command line into o. */
static int parse(struct sim_opts *o, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v)
			usage();
		i++;
		if (!strcmp(k, "--scenario")) o->scenario = v;
		else if (!strcmp(k, "--attack")) o->attack = v;
		else if (!strcmp(k, "--nodes")) o->nodes = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--loss")) o->loss = prob(v);
		else if (!strcmp(k, "--dup")) o->dup = prob(v);
		else if (!strcmp(k, "--reorder")) o->reorder = prob(v);
		else if (!strcmp(k, "--topology")) o->topology = v;
		else if (!strcmp(k, "--degree")) o->degree = strtod(v, NULL);
		else if (!strcmp(k, "--duration")) o->duration_s = strtod(v, NULL);
		else if (!strcmp(k, "--seed")) o->seed = strtoull(v, NULL, 0);
		else if (!strcmp(k, "--relay")) o->flood = !strcmp(v, "flood");
		else if (!strcmp(k, "--fec")) o->fec_k = atoi(v);
		else if (!strcmp(k, "--bytes")) o->bytes = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--seeds")) o->seeds = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--echo-cap")) o->echo_cap = atoi(v);
		else if (!strcmp(k, "--relay-prob")) o->relay_prob = prob(v);
		else if (!strcmp(k, "--relay-decay")) o->relay_decay = prob(v);
		else if (!strcmp(k, "--relay-window")) o->relay_window = atoi(v);
		else if (!strcmp(k, "--skew")) o->skew_ms = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--drift")) o->drift_ppm = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--lan-kbps")) o->lan_kbps = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--adversaries")) o->adversaries = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(k, "--adversary-move")) o->adversary_move_s = strtod(v, NULL);
		else if (!strcmp(k, "--baseline")) o->stop_and_wait = !strcmp(v, "stop-and-wait");
		else usage();
	}
	if (!o->scenario || o->nodes < 2 || o->nodes > 100000 ||
	    (strcmp(o->topology, "lan") && strcmp(o->topology, "mesh")) || o->degree <= 0 ||
	    o->drift_ppm > 100000 || o->adversaries > 8 || o->adversary_move_s < 0)
		usage();
	return 0;
}

/* Run one scenario; its JSON line is the last line of stdout. */
int main(int argc, char **argv)
{
	struct sim_opts o = { .topology = "lan", .nodes = 100, .degree = 8, .duration_s = -1,
			      .seed = 1, .fec_k = -1, .echo_cap = -1, .relay_prob = -1,
			      .relay_decay = -1, .relay_window = -1, .bytes = 4u << 20 };
	static struct sim s;
	const char *known[] = { "broadcast", "membership", "queen", "state", "gc", "maze", "attack" };

	parse(&o, argc, argv);
	if (cx_init())
		return 2;
	if (!strcmp(o.scenario, "nert"))
		return sim_scenario_nert(&o);
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (!strcmp(o.scenario, known[i]))
			return sim_scenario_swarm(&s, &o);
	usage();
	return 2;
}
